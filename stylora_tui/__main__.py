from stylora_tui.cli import main

# Guarded: multiprocessing's forkserver and spawn start-ups import the main module.
if __name__ == "__main__":
    raise SystemExit(main())
