from __future__ import annotations

import importlib
import sys


def test_python_310_reads_toml_through_tomli(monkeypatch):
    # Python 3.10 has no tomllib: hide it and the module must fall back to tomli.
    import stylora_tui.config.toml_compat as compat

    monkeypatch.setitem(sys.modules, "tomllib", None)
    try:
        reloaded = importlib.reload(compat)
        assert reloaded.tomllib.__name__ == "tomli"
        assert reloaded.loads("[training]\nepochs = 3\n") == {"training": {"epochs": 3}}
        try:
            reloaded.loads("epochs = ")
        except reloaded.TOMLDecodeError:
            pass
        else:
            raise AssertionError("a TOML error must surface as TOMLDecodeError")
    finally:
        monkeypatch.undo()
        importlib.reload(compat)
