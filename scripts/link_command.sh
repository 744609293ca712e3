#!/usr/bin/env bash
# Link .venv/bin/stylora-tui into the first user bin folder on PATH (never a system one).
set -euo pipefail
cd "$(dirname "$0")/.."
target="$(pwd)/.venv/bin/stylora-tui"
for dir in "$HOME/.local/bin" "$HOME/bin"; do
  case ":$PATH:" in
    *":$dir:"*)
      mkdir -p "$dir"
      ln -sf "$target" "$dir/stylora-tui"
      echo "install: stylora-tui is on PATH ($dir/stylora-tui -> $target)"
      exit 0
      ;;
  esac
done
echo "install: run it as $target (or add $(dirname "$target") to PATH); the commands stylora-tui prints use that full path"
