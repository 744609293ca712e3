"""A full-screen file browser for the model and dataset steps, usable at 80x24.

It starts in the folder of what the field holds (else the current folder), goes up with
ctrl+u, takes a typed path, and hides dotfiles unless asked (ctrl+h): on a rental the
data lives in /workspace, /data or /mnt, not under $HOME.
"""

from __future__ import annotations

from pathlib import Path

from rich.markup import escape
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DirectoryTree, Footer, Input, Static

from stylora_tui.display import printable
from stylora_tui.tui.widgets.field import Field


class _Tree(DirectoryTree):
    show_hidden = False

    def filter_paths(self, paths):
        return [p for p in paths if self.show_hidden or not p.name.startswith(".")]

    def process_label(self, label):
        """A name as it is, its control characters written out: the user sees that a file
        is called `\\x1b]52;...`, and the terminal is not told to do it."""
        return super().process_label(printable(label if isinstance(label, str) else label.plain))


def start_folder(value: str) -> Path:
    """The folder of the field's path (or the path itself when a folder), else the current one."""
    if value.strip():
        path = Path(value.strip()).expanduser()
        for candidate in (path, *path.parents):
            if candidate.is_dir():
                return candidate.absolute()
    return Path.cwd()


class FileBrowserDialog(ModalScreen[str | None]):
    DEFAULT_CSS = """
    FileBrowserDialog { align: center middle; }
    FileBrowserDialog > Vertical { width: 100%; height: 100%; background: $surface; }
    FileBrowserDialog #browse-title { height: 1; background: $primary; color: $text; text-style: bold; padding: 0 1; }
    FileBrowserDialog #browse-path { margin: 0 1; }
    FileBrowserDialog #browse-help { height: auto; color: $text-muted; padding: 0 1; }
    FileBrowserDialog #browse-tree { height: 1fr; margin: 0 1; border: round $primary; }
    """
    BINDINGS = [
        Binding("escape", "cancel", "Cancel"),
        Binding("ctrl+u", "up", "Up a folder"),
        Binding("ctrl+d", "use_folder", "Use this folder"),
        Binding("ctrl+h", "hidden", "Hidden files"),
    ]

    def __init__(self, title: str, start: str, *, folders: bool, files: bool) -> None:
        super().__init__()
        self.title_text, self.start = title, start_folder(start)
        self.folders, self.files = folders, files

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(self.title_text, id="browse-title")
            yield Field(str(self.start), id="browse-path")
            keys = []
            if self.files:
                keys.append("enter on a file chooses it")
            if self.folders:
                keys.append("ctrl+d uses the highlighted folder")
            yield Static(" · ".join(keys + ["ctrl+u goes up", "type a path + enter", "esc cancels"]), id="browse-help")
            yield _Tree(str(self.start), id="browse-tree")
            yield Footer()

    def on_mount(self) -> None:
        self.query_one(_Tree).focus()

    def go(self, folder: Path) -> None:
        tree = self.query_one(_Tree)
        tree.path = folder
        self.query_one("#browse-path", Input).value = str(folder)
        tree.focus()

    def action_up(self) -> None:
        current = Path(self.query_one(_Tree).path)
        if current.parent != current:
            self.go(current.parent)

    def action_hidden(self) -> None:
        tree = self.query_one(_Tree)
        tree.show_hidden = not tree.show_hidden
        tree.reload()
        self.notify("hidden files shown" if tree.show_hidden else "hidden files hidden")

    def action_cancel(self) -> None:
        self.dismiss(None)

    def action_use_folder(self) -> None:
        if not self.folders:
            return
        tree = self.query_one(_Tree)
        node = tree.cursor_node
        path = Path(node.data.path) if node is not None and node.data is not None else Path(tree.path)
        self.dismiss(str(path if path.is_dir() else path.parent))

    @on(Input.Submitted, "#browse-path")
    def typed(self, event: Input.Submitted) -> None:
        path = Path(event.value.strip()).expanduser()
        if path.is_dir():
            self.go(path.absolute())
        elif path.is_file() and self.files:
            self.dismiss(str(path.absolute()))
        else:
            self.notify(f"{escape(printable(path))} is not a folder{' or a file' if self.files else ''} here", severity="warning")

    @on(DirectoryTree.FileSelected)
    def file_chosen(self, event: DirectoryTree.FileSelected) -> None:
        event.stop()
        if self.files:
            self.dismiss(str(event.path))
        else:
            self.notify("choose a folder: ctrl+d uses the highlighted one")
