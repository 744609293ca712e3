"""The Textual wizard and monitor: renders state and posts intents; logic lives in core/."""
