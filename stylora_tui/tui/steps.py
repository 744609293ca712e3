"""The wizard's steps, each with its screen. Their order and titles are config.wizard's
(STEPS, TITLES): the one list of steps, which this maps onto screens."""

from __future__ import annotations

from stylora_tui.tui.screens.dataset import DatasetScreen
from stylora_tui.tui.screens.model import ModelScreen
from stylora_tui.tui.screens.preset import PresetScreen
from stylora_tui.tui.screens.review import ReviewScreen
from stylora_tui.tui.screens.step import WizardStepScreen
from stylora_tui.tui.screens.trigger import TriggerScreen

STEP_SCREENS: dict[str, type[WizardStepScreen]] = {
    screen.STEP: screen for screen in (ModelScreen, DatasetScreen, TriggerScreen, PresetScreen, ReviewScreen)
}
