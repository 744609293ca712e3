from stylora_tui.cli import main

raise SystemExit(main())
