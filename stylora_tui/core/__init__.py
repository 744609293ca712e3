"""Pure core: stdlib plus lazily imported Pillow and tomlkit. Never torch, never Textual."""
