"""stylora-tui: train SDXL art-style LoCon adapters from a terminal wizard."""

__version__ = "0.1.0"
