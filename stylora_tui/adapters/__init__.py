"""Thin edges over optional libraries (tokenizers, NVML, processes); never torch or Textual."""
