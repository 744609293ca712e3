"""The trainer: the only package that imports torch, diffusers, lycoris, accelerate.

`python -m stylora_tui.trainer RUN_DIR` is the detached training process.
"""
