from __future__ import annotations

import pytest
from PIL import Image

from stylora_tui.choose.compare import compare_runs
from stylora_tui.choose.samples import choose_best, epoch_samples
from stylora_tui.choose.sheet import CELL_PX, FOOTER_PX, HEADER_PX, LABEL_PX, comparison_sheet
from stylora_tui.errors import RunError
from tests.conftest import run_cli, run_with_samples


def test_sheet_is_a_labelled_grid(tmp_path):
    run = run_with_samples(tmp_path)
    rows = epoch_samples(run)
    assert [(r.epoch, r.validation_loss) for r in rows] == [(1, 0.31), (2, 0.27)]
    comparison = compare_runs([run])
    sheet = comparison_sheet(run.name, list(comparison.judged), comparison.suggestion)
    assert sheet.size == (LABEL_PX + 2 * CELL_PX, HEADER_PX + 2 * CELL_PX + FOOTER_PX)
    # Row 2, column 2 holds epoch 2's green sample, enlarged to fill its cell.
    assert sheet.getpixel((LABEL_PX + CELL_PX + 128, HEADER_PX + CELL_PX + 128)) == (0, 128, 0)


def test_compare_cli_writes_a_sheet_and_chooses(tmp_path):
    run = run_with_samples(tmp_path / "runs")
    proc = run_cli("compare", "run-01", "-o", str(tmp_path / "sheet.png"), "--best", "2", "--runs-dir", str(tmp_path / "runs"))
    assert proc.returncode == 0, proc.stderr
    assert "0.2700" in proc.stdout
    assert Image.open(tmp_path / "sheet.png").size[0] > 500
    assert (run.output / "run-01-best.safetensors").read_bytes() == b"epoch 2"


def test_choosing_an_epoch_without_an_adapter_says_which_exist(tmp_path):
    run = run_with_samples(tmp_path)
    with pytest.raises(RunError) as info:
        choose_best(run, 7)
    assert info.value.hint == "epochs with an adapter: 1, 2"
    choose_best(run, 2)  # the chosen copy (-best) and a final adapter are no epochs of their own
    (run.output / "run-01.safetensors").write_bytes(b"final")
    with pytest.raises(RunError) as again:
        choose_best(run, 7)
    assert again.value.hint == "epochs with an adapter: 1, 2"
    for adapter in run.output.glob("*.safetensors"):
        adapter.unlink()
    with pytest.raises(RunError) as none:
        choose_best(run, 1)
    assert none.value.hint == "no epoch's adapter is saved yet"


def test_no_samples_is_a_clear_error(tmp_path):
    from stylora_tui.run.catalog import create_run

    run = create_run(tmp_path, "empty")
    with pytest.raises(RunError) as info:
        comparison_sheet(run.name, list(compare_runs([run]).judged), None)
    assert "no samples" in info.value.message
