"""The copy alarm, the style score, the suggestion and `compare` on generated style sets,
offline, with a tiny stand-in of the style model (tests/style_fixture.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from stylora_tui.choose import copies
from stylora_tui.choose.compare import compare_runs
from stylora_tui.choose.style_set import COPY_KINDS, painting, planted
from tests.choose.judged_runs import DATASET_STYLE, PREVIEW_SIZE, TRAIN_SIZE, Epoch, judged_run, write_dataset, write_previews
from tests.conftest import run_cli
from tests.style_fixture import write_stand_in

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def dataset(tmp_path_factory) -> Path:
    return write_dataset(tmp_path_factory.mktemp("style") / "mystyle")


@pytest.fixture(scope="module")
def scorer(tmp_path_factory) -> Path:
    return write_stand_in(tmp_path_factory.mktemp("csd") / "csd_clip_model.onnx")


def test_the_generated_style_set_is_the_same_on_every_run(dataset):
    # Judging tests sit at the alarm's edge on purpose: a picture that changed between runs
    # made them flaky (Pillow's effect_noise ignores every seed).
    with Image.open(dataset / "03.png") as source:
        picture = source.convert("RGB")
    for kind in COPY_KINDS:
        assert planted(picture, kind, PREVIEW_SIZE, seed=2).tobytes() == planted(picture, kind, PREVIEW_SIZE, seed=2).tobytes()
    assert painting(DATASET_STYLE, seed=3, size=TRAIN_SIZE).tobytes() == picture.tobytes()


def test_every_kind_of_planted_copy_is_found_and_named(tmp_path, dataset):
    training = copies.training_fingerprints(sorted(dataset.glob("*.png")))
    previews = []
    for n, kind in enumerate(COPY_KINDS):
        with Image.open(dataset / f"{n:02d}.png") as source:
            path = tmp_path / f"{kind}.png"
            planted(source.convert("RGB"), kind, PREVIEW_SIZE if kind != "exact" else TRAIN_SIZE, seed=n).save(path)
            previews.append((path, dataset / f"{n:02d}.png"))
    found = {c.sample: c for c in copies.near_copies([p for p, _ in previews], training)}
    for path, source in previews:
        assert str(path) in found, f"{path.stem} copy not found"
        assert found[str(path)].training_image == str(source)
        assert 0 <= found[str(path)].similarity <= 1
    assert found[str(previews[0][0])].similarity == 1.0  # the exact copy


def test_distinct_pictures_in_the_same_style_are_not_copies(tmp_path, dataset):
    training = copies.training_fingerprints(sorted(dataset.glob("*.png")))
    paths = []
    for n in range(20):
        path = tmp_path / f"new{n}.png"
        painting(DATASET_STYLE, seed=5000 + n, size=PREVIEW_SIZE).save(path)
        paths.append(path)
    assert copies.near_copies(paths, training) == []


def test_style_scores_rank_epochs_by_how_much_style_they_learnt(tmp_path, dataset, scorer):
    shares = [0.0, 0.3, 0.6, 0.9, 1.0]
    run = judged_run(tmp_path, "ranked", dataset, [Epoch(i + 1, s) for i, s in enumerate(shares)], str(scorer))
    judged = compare_runs([run]).judged
    scores = [j.style_score for j in judged]
    assert all(s is not None for s in scores)
    assert scores == sorted(scores), scores
    assert all(j.style_unavailable is None and not j.copies for j in judged)


def test_the_suggestion_is_the_earliest_epoch_near_the_best_without_copies(tmp_path, dataset, scorer):
    epochs = [
        Epoch(1, 0.2, loss=0.30),
        Epoch(2, 0.97, loss=0.25),  # within the margin of the best: suggested
        Epoch(3, 1.0, loss=0.24),
        Epoch(4, 1.0, loss=0.24, copy_of=7),  # the best score, but it copies 07.png
    ]
    run = judged_run(tmp_path, "pick", dataset, epochs, str(scorer))
    comparison = compare_runs([run])
    by_epoch = {j.epoch: j for j in comparison.judged}
    assert by_epoch[4].copies and Path(by_epoch[4].copies[0].training_image).name == "07.png"
    suggestion = comparison.suggestion
    assert suggestion is not None and (suggestion.epoch, suggestion.strength) == (2, 1.0)
    assert suggestion.why.startswith("e2: style ")
    assert "e4 copies 07.png at 1" in suggestion.why
    assert suggestion.adapter == "pick-e0002.safetensors"


def test_a_margin_setting_that_changes_changes_the_suggestion(tmp_path, dataset, scorer, monkeypatch):
    from stylora_tui.choose import suggest

    run = judged_run(tmp_path, "margin", dataset, [Epoch(1, 0.5), Epoch(2, 0.75), Epoch(3, 1.0)], str(scorer))
    judged = list(compare_runs([run]).judged)
    best = max(judged, key=lambda j: j.style_score).epoch
    assert best != 1
    monkeypatch.setattr(suggest, "MARGIN", 1.0)
    assert suggest.suggest(judged).epoch == 1
    monkeypatch.setattr(suggest, "MARGIN", 0.0)
    assert suggest.suggest(judged).epoch == best


def test_no_epoch_past_the_validation_loss_turning_up(tmp_path, dataset, scorer):
    epochs = [Epoch(1, 0.1, loss=0.30), Epoch(2, 0.5, loss=0.20), Epoch(3, 1.0, loss=0.26), Epoch(4, 1.0, loss=0.29)]
    run = judged_run(tmp_path, "overfit", dataset, epochs, str(scorer))
    suggestion = compare_runs([run]).suggestion
    assert suggestion is not None and suggestion.epoch == 2
    assert "validation loss turns up after e2" in suggestion.why
    assert "none within" in suggestion.why  # e2 is not within the margin of e3's score: said


def test_a_lower_strength_that_stops_copying_is_suggested_and_said(tmp_path, dataset, scorer):
    epochs = [Epoch(1, 0.1), Epoch(2, 1.0, copy_of=3), Epoch(2, 1.0, strength=0.8)]
    run = judged_run(tmp_path, "strength", dataset, epochs, str(scorer))
    suggestion = compare_runs([run]).suggestion
    assert suggestion is not None and (suggestion.epoch, suggestion.strength) == (2, 0.8)
    assert suggestion.why.startswith("e2 at 0.8: style")
    assert "e2 copies 03.png at 1, not at 0.8" in suggestion.why


def test_without_a_style_model_it_says_so_and_uses_validation_loss(tmp_path, dataset):
    epochs = [Epoch(1, 0.3, loss=0.30), Epoch(2, 0.6, loss=0.21), Epoch(3, 1.0, loss=0.20, copy_of=1)]
    run = judged_run(tmp_path, "offline", dataset, epochs, "someone/not-downloaded")
    comparison = compare_runs([run])
    assert all(j.style_score is None for j in comparison.judged)
    assert "someone/not-downloaded is not downloaded" in comparison.judged[0].style_unavailable
    suggestion = comparison.suggestion
    assert suggestion is not None and suggestion.epoch == 2  # e3 has the lower loss but copies
    assert "lowest validation loss 0.2100" in suggestion.why and "no style score" in suggestion.why


def test_compare_json_has_the_documented_fields(tmp_path, dataset, scorer):
    epochs = [Epoch(1, 0.5, loss=0.3), Epoch(2, 1.0, loss=0.25, copy_of=5)]
    judged_run(tmp_path / "runs", "jsonrun", dataset, epochs, str(scorer))
    proc = run_cli("compare", "jsonrun", "--json", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert set(data) == {"epochs", "suggested"}
    first = data["epochs"][0]
    for key in ("run", "epoch", "adapter", "samples", "validation_loss", "style_score", "style_unavailable", "copies"):
        assert key in first
    assert first["run"] == "jsonrun" and first["epoch"] == 1 and first["validation_loss"] == 0.3
    assert first["adapter"].endswith("jsonrun-e0001.safetensors") and len(first["samples"]) == 4
    assert isinstance(first["style_score"], float) and first["style_unavailable"] is None and first["copies"] == []
    copy = data["epochs"][1]["copies"][0]
    assert set(copy) == {"sample", "training_image", "similarity"}
    assert copy["sample"].endswith("e0002/01.png") and copy["training_image"] == str(dataset / "05.png")
    assert set(data["suggested"]) >= {"run", "epoch", "strength", "why"}
    assert (data["suggested"]["run"], data["suggested"]["epoch"], data["suggested"]["strength"]) == ("jsonrun", 1, 1.0)


def test_scores_follow_the_preview_content_not_its_name(tmp_path, dataset, scorer):
    root = tmp_path / "runs"
    run = judged_run(root, "redone", dataset, [Epoch(1, 0.5), Epoch(2, 1.0)], str(scorer))
    before = json.loads(run_cli("compare", "redone", "--json", "--runs-dir", str(root)).stdout)
    assert before["epochs"][1]["copies"] == [] and before["suggested"]["epoch"] == 2
    # The previews of epoch 2 are rendered again, and now copy a training picture.
    shutil.rmtree(run.samples / "e0002")
    write_previews(run, Epoch(2, 0.2, copy_of=9), dataset)
    after = json.loads(run_cli("compare", "redone", "--json", "--runs-dir", str(root)).stdout)
    assert [Path(c["training_image"]).name for c in after["epochs"][1]["copies"]] == ["09.png"]
    assert after["epochs"][1]["style_score"] < before["epochs"][1]["style_score"]
    assert after["suggested"]["epoch"] == 1


def test_runs_of_one_dataset_are_ranked_together(tmp_path, dataset, scorer):
    root = tmp_path / "runs"
    judged_run(root, "first", dataset, [Epoch(1, 0.2), Epoch(2, 0.5)], str(scorer))
    judged_run(root, "second", dataset, [Epoch(1, 0.6), Epoch(2, 1.0)], str(scorer))
    proc = run_cli("compare", "first", "second", "--json", "--runs-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [(e["run"], e["epoch"]) for e in data["epochs"]] == [("first", 1), ("first", 2), ("second", 1), ("second", 2)]
    assert (data["suggested"]["run"], data["suggested"]["epoch"]) == ("second", 2)
    assert data["suggested"]["why"].startswith("second e2: style")


def test_runs_of_other_datasets_are_not_ranked_together(tmp_path, dataset, scorer):
    other = write_dataset(tmp_path / "other", count=5)
    judged_run(tmp_path, "a", dataset, [Epoch(1, 0.5)], str(scorer))
    judged_run(tmp_path, "b", other, [Epoch(1, 0.5)], str(scorer))
    proc = run_cli("compare", "a", "b", "--runs-dir", str(tmp_path))
    assert proc.returncode == 1
    assert "b trained on other images than a" in proc.stderr and "hint:" in proc.stderr


def test_best_alone_copies_the_suggested_epoch_and_runs_shows_it(tmp_path, dataset, scorer):
    root = tmp_path / "runs"
    run = judged_run(root, "chooser", dataset, [Epoch(1, 0.2), Epoch(2, 0.99), Epoch(3, 1.0)], str(scorer))
    assert json.loads(run_cli("runs", "chooser", "--json", "--runs-dir", str(root)).stdout)["chosen"] is None
    proc = run_cli("compare", "chooser", "--best", "--runs-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "e2 chosen (suggested)" in proc.stdout and "<lora:chooser-best:1>" in proc.stdout
    assert (run.output / "chooser-best.safetensors").read_bytes() == b"chooser epoch 2"
    listed = run_cli("runs", "--json", "--runs-dir", str(root))
    (entry,) = json.loads(listed.stdout)
    assert entry["suggested"]["epoch"] == 2 and entry["suggested"]["adapter"] == "chooser-e0002.safetensors"
    table = run_cli("runs", "--runs-dir", str(root)).stdout
    assert "suggested" in table and "e2" in table
    one = json.loads(run_cli("runs", "chooser", "--json", "--runs-dir", str(root)).stdout)
    assert one["chosen"] == {"epoch": 2, "source": "chooser-e0002.safetensors", "adapter": "chooser-best.safetensors"}
    assert "chosen: e2 (chooser-e0002.safetensors)" in run_cli("runs", "chooser", "--runs-dir", str(root)).stdout


def test_best_alone_with_every_epoch_copying_is_a_clear_error(tmp_path, dataset, scorer):
    root = tmp_path / "runs"
    judged_run(root, "copier", dataset, [Epoch(1, 1.0, copy_of=1), Epoch(2, 1.0, copy_of=2)], str(scorer))
    proc = run_cli("compare", "copier", "--best", "--runs-dir", str(root))
    assert proc.returncode == 1
    assert "every saved epoch's previews copy a training image" in proc.stderr


def test_a_sheet_marks_scores_alarms_and_the_suggestion(tmp_path, dataset, scorer):
    root = tmp_path / "runs"
    judged_run(root, "sheet", dataset, [Epoch(1, 0.5), Epoch(2, 1.0, copy_of=2)], str(scorer))
    proc = run_cli("compare", "sheet", "-o", str(tmp_path / "sheet.png"), "--runs-dir", str(root))
    assert proc.returncode == 0, proc.stderr
    assert "suggested:" in proc.stdout and "02.png" in proc.stdout
    epoch_1 = next(line for line in proc.stdout.splitlines() if line.startswith("│     1 "))
    assert "none" in epoch_1, "the copy alarm looked at epoch 1 and found nothing: said, not a blank"
    from stylora_tui.choose.sheet import FRAME_PX, HEADER_PX, SUGGESTED

    with Image.open(tmp_path / "sheet.png") as sheet:
        assert sheet.convert("RGB").getpixel((FRAME_PX // 2 + 1, HEADER_PX + 40)) == SUGGESTED  # row 1 framed


def test_the_training_set_can_be_gone_once_fingerprinted(tmp_path, scorer):
    dataset = write_dataset(tmp_path / "moving", count=8)
    root = tmp_path / "runs"
    judged_run(root, "moved", dataset, [Epoch(1, 0.5), Epoch(2, 1.0, copy_of=3)], str(scorer))
    first = json.loads(run_cli("compare", "moved", "--json", "--runs-dir", str(root)).stdout)
    shutil.rmtree(dataset)
    again = json.loads(run_cli("compare", "moved", "--json", "--runs-dir", str(root)).stdout)
    assert again == first  # fingerprints and embeddings were kept in judging.json


def test_compare_without_a_manifest_judges_what_it_can(tmp_path):
    from tests.conftest import run_with_samples

    run = run_with_samples(tmp_path / "runs")
    comparison = compare_runs([run])
    assert all(j.copies_unavailable and "manifest" in j.copies_unavailable for j in comparison.judged)
    assert comparison.suggestion is not None and comparison.suggestion.epoch == 2  # the lower validation loss


def test_several_runs_and_best_epoch_is_refused(tmp_path, dataset, scorer):
    judged_run(tmp_path, "x", dataset, [Epoch(1, 0.5)], str(scorer))
    judged_run(tmp_path, "y", dataset, [Epoch(1, 0.5)], str(scorer))
    proc = run_cli("compare", "x", "y", "--best", "1", "--runs-dir", str(tmp_path))
    assert proc.returncode == 1 and "--best EPOCH names an epoch of one run" in proc.stderr


def test_judging_rejects_nothing_it_cannot_read(tmp_path, dataset, scorer):
    """A damaged judging.json or prompts.json is judged afresh or skipped, never an error."""
    run = judged_run(tmp_path, "damaged", dataset, [Epoch(1, 0.5), Epoch(2, 1.0)], str(scorer))
    compare_runs([run])
    (run.path / "judging.json").write_text("{not json")
    (run.samples / "e0001" / "prompts.json").write_text('{"epoch": "x"}')
    comparison = compare_runs([run])
    assert [j.epoch for j in comparison.judged] == [2]
