import sys

from stylora_tui.trainer.loop import main

if len(sys.argv) != 2:
    sys.stderr.write("usage: python -m stylora_tui.trainer RUN_DIR\n")
    raise SystemExit(2)
raise SystemExit(main(sys.argv[1]))
