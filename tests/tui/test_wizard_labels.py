"""What the wizard's steps and review are made of, checked without running the app."""

from __future__ import annotations

import pytest


def test_every_step_has_its_screen_in_order():
    from stylora_tui.config.wizard import STEPS
    from stylora_tui.tui.steps import STEP_SCREENS

    assert tuple(STEP_SCREENS) == STEPS


@pytest.mark.parametrize(("mixed", "shown"), [("no", "fp32"), ("bf16", "bf16 mixed precision"), ("fp16", "fp16 mixed precision")])
def test_the_review_names_the_precision_in_words(mixed, shown):
    from stylora_tui.tui.screens.review import precision_label

    assert precision_label(mixed) == shown


@pytest.mark.parametrize(
    ("every", "shown"), [(0, "the final adapter only"), (1, "every epoch"), (10, "every 10 epochs and the final")]
)
def test_the_review_says_when_adapters_are_saved(every, shown):
    from stylora_tui.tui.screens.review import saving_label

    assert saving_label(every) == shown
