"""A run mirrored to a private hub repo (`[mirror] to = "hf://org/repo"`), with
huggingface_hub's commit API and the user's token (HF_TOKEN, or `hf auth login`).

Each send is one commit under `<run>/`: the files that changed since the last send, the
newest complete checkpoint (its COMPLETE marker in the same commit: a commit is atomic) and
the older mirrored checkpoint deleted. What was sent is remembered in the run folder
(mirror-hub.json), so a send after a save uploads only what the save wrote.
"""

from __future__ import annotations

import json
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from stylora_tui.atomic import write_json_atomic
from stylora_tui.integrations.hub_answers import hub_address, timeout_s
from stylora_tui.integrations.network import describe, is_network_failure
from stylora_tui.rental.destinations import HUB, MirrorError, files_to_send, held_checkpoint, newest_checkpoint
from stylora_tui.run.layout import RunDir

SENT_FILE = "mirror-hub.json"
REPO = re.compile(r"^[A-Za-z0-9][\w.\-]*/[A-Za-z0-9][\w.\-]*$")


@dataclass(frozen=True)
class HubRepo:
    repo: str

    @classmethod
    def from_spec(cls, spec: str) -> HubRepo:
        repo = spec.strip().removeprefix(HUB).strip("/")
        if not REPO.match(repo):
            raise MirrorError(f"{spec!r} is not a hub repo", "write it as hf://your-name/stylora-runs")
        return cls(repo)

    def describe(self) -> str:
        return f"{HUB}{self.repo}"

    def _api(self):
        try:
            from huggingface_hub import HfApi
        except ImportError:
            raise MirrorError(
                "a hub mirror needs huggingface_hub, which is not installed", "install the trainer's extras (make install)"
            ) from None
        return HfApi(endpoint=hub_address())

    def _call(self, action):
        try:
            return action()
        except MirrorError:
            raise
        except Exception as exc:  # huggingface_hub's errors differ between its versions
            if is_network_failure(exc):
                said, _ = describe(exc, hub_address())
                raise MirrorError(f"the hub mirror {self.describe()}: {said}") from exc
            status = getattr(getattr(exc, "response", None), "status_code", None)
            hint = "log in with `hf auth login` (or set HF_TOKEN) with write access" if status in (401, 403) else ""
            raise MirrorError(f"the hub mirror {self.describe()}: {str(exc).splitlines()[0]}", hint) from exc

    def push(self, run: RunDir, checkpoints: bool) -> None:
        from huggingface_hub import CommitOperationAdd, CommitOperationDelete

        sent = _read_sent(run)
        operations: list = []
        now: dict[str, list[int]] = {}
        for rel in files_to_send(run):
            if rel == SENT_FILE:
                continue
            stat = (run.path / rel).stat()
            now[rel] = [stat.st_size, stat.st_mtime_ns]
            if sent["files"].get(rel) != now[rel]:
                operations.append(CommitOperationAdd(f"{run.name}/{rel}", str(run.path / rel)))
        with held_checkpoint(run, checkpoints) as held:
            newest = held[0] if held is not None else None
            if held is not None and newest != sent["checkpoint"]:
                folder = held[1]
                for path in sorted(folder.rglob("*")):
                    if path.is_file():
                        operations.append(
                            CommitOperationAdd(f"{run.name}/checkpoints/{newest}/{path.relative_to(folder)}", str(path))
                        )
                if sent["checkpoint"]:
                    operations.append(CommitOperationDelete(f"{run.name}/checkpoints/{sent['checkpoint']}/", is_folder=True))
            if not operations:
                return
            api = self._api()
            self._call(lambda: api.create_repo(self.repo, private=True, exist_ok=True))
            self._call(lambda: api.create_commit(self.repo, operations, commit_message=f"{run.name}: {newest or 'files'}"))
        write_json_atomic(run.path / SENT_FILE, {"files": now, "checkpoint": newest or sent["checkpoint"]})

    def pull(self, name: str, into: Path) -> None:
        from huggingface_hub import snapshot_download

        staging = into.parent / f".{into.name}.hub"
        shutil.rmtree(staging, ignore_errors=True)
        try:
            self._call(
                lambda: snapshot_download(
                    self.repo,
                    allow_patterns=[f"{name}/*"],
                    local_dir=str(staging),
                    endpoint=hub_address(),
                    etag_timeout=timeout_s(),
                )
            )
            if not (staging / name / "config.toml").is_file():
                raise MirrorError(f"{self.describe()} holds no mirrored run {name!r}", "check the repo and the run name")
            shutil.copytree(staging / name, into, dirs_exist_ok=True)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        # What the repo holds is what this machine has: the next send uploads only changes
        # and replaces the mirrored checkpoint.
        pulled = RunDir(into)
        files = {rel: [(into / rel).stat().st_size, (into / rel).stat().st_mtime_ns] for rel in files_to_send(pulled)}
        write_json_atomic(into / SENT_FILE, {"files": files, "checkpoint": newest_checkpoint(pulled)})


def _read_sent(run: RunDir) -> dict:
    try:
        data = json.loads((run.path / SENT_FILE).read_text(encoding="utf-8"))
        return {"files": dict(data["files"]), "checkpoint": data.get("checkpoint")}
    except (OSError, ValueError, KeyError, TypeError):
        return {"files": {}, "checkpoint": None}
