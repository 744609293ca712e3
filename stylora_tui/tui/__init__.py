"""The Textual wizard and monitor: screens render the state they are handed and post what
the user asks for; the logic lives in the floors below (config, dataset, launch, run...)."""
