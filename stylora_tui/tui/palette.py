"""The views' palette from the TUI's theme variables ($error, $warning, $success, $accent,
$foreground-darken-3): Rich text drawn inside the app takes the theme's colours."""

from __future__ import annotations

from textual.app import App

from stylora_tui.views.palette import Palette


def theme_palette(app: App) -> Palette:
    colours = app.theme_variables
    return Palette(
        error=colours["error"],
        warning=colours["warning"],
        success=colours["success"],
        accent=colours["accent"],
        # text-muted is "auto 60%" (a blend Rich cannot draw): the theme's darker foreground instead.
        muted=colours["foreground-darken-3"],
    )
