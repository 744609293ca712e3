"""Write stylora_tui/data/sdxl/modules.json: every module kohya's LoCon sets can train,
with its shape, for the standard SDXL architecture and the demo model.

Lets the TUI (which never imports torch) estimate parameters and file size exactly;
tests/trainer/test_plan.py checks the table against `plan`, built on the meta device.

    python scripts/build_module_table.py
"""

from __future__ import annotations

import json

from stylora_tui.paths import package_dir
from stylora_tui.trainer.modules import module_rows


def main() -> None:
    path = package_dir() / "data" / "sdxl" / "modules.json"
    path.write_text(json.dumps({"sdxl": module_rows(""), "demo": module_rows("demo")}, separators=(",", ":")) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
