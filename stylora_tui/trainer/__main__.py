import os
import sys
from pathlib import Path

from stylora_tui.errors import StyloraError
from stylora_tui.run.layout import RunDir
from stylora_tui.run.lock import acquire_lock

if len(sys.argv) != 2:
    sys.stderr.write("usage: python -m stylora_tui.trainer RUN_DIR\n")
    raise SystemExit(2)
run = RunDir(Path(sys.argv[1]).absolute())
# Under `accelerate launch` every GPU runs this; rank 0 speaks for the run.
rank = int(os.environ.get("RANK", "0"))
# The lock comes first, before torch is imported (seconds): from the moment this process
# exists, `runs` and the monitor see the run as running, and a second trainer is refused.
lock = None
if rank == 0:
    try:
        lock = acquire_lock(run)
    except StyloraError as exc:
        print(f"error: {exc.message}\nhint: {exc.hint}", flush=True)
        raise SystemExit(2) from None

from stylora_tui.trainer.main import main  # noqa: E402  (after the lock, on purpose)

raise SystemExit(main(run, lock, rank))
