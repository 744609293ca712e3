"""The style model: CSD's interface on a tiny stand-in, fetched by name from a local fake hub,
and every way it can be missing said as a reason, never a crash."""

from __future__ import annotations

import json

import pytest

from stylora_tui.integrations.style import MODEL_FILE, StyleModelError, StyleScorer, style_model_file
from tests.choose.judged_runs import Epoch, judged_run, write_dataset
from tests.conftest import picture, run_cli
from tests.fakehub import FakeHub, closed_port
from tests.integrations.test_hub_network import hub_home  # noqa: F401 - a fixture
from tests.style_fixture import write_stand_in

pytest.importorskip("onnxruntime")


@pytest.fixture
def pictures(tmp_path):
    paths = []
    for n in range(10):  # more than one batch
        path = tmp_path / f"p{n}.png"
        picture(n, size=(96, 160)).save(path)
        paths.append(path)
    return paths


def test_embeddings_are_unit_vectors_in_order_across_batches(tmp_path, pictures):
    scorer = StyleScorer(write_stand_in(tmp_path / "m.onnx"))
    assert (scorer.output_name, scorer.side) == ("style", 224)
    vectors = scorer.embed(pictures)
    assert len(vectors) == 10 and all(abs(sum(v * v for v in vec) - 1) < 1e-4 for vec in vectors)
    assert scorer.embed(pictures[3:4]) == [vectors[3]]


def test_a_fixed_batch_export_and_another_output_name_work(tmp_path, pictures):
    scorer = StyleScorer(write_stand_in(tmp_path / "m.onnx", batch=1, output_name="embedding"))
    assert scorer.output_name == "embedding"  # no output named style: the last one
    reference = StyleScorer(write_stand_in(tmp_path / "r.onnx")).embed(pictures)
    assert [[round(x, 4) for x in v] for v in scorer.embed(pictures)] == [[round(x, 4) for x in v] for v in reference]


def test_a_file_that_is_not_a_model_is_named(tmp_path):
    bad = tmp_path / "csd.onnx"
    bad.write_bytes(b"<html>rate limited</html>")
    with pytest.raises(StyleModelError) as info:
        StyleScorer(bad)
    assert "could not be loaded as an ONNX model" in info.value.message and "download it afresh" in info.value.hint


def test_local_specs(tmp_path):
    folder = tmp_path / "csd"
    folder.mkdir()
    with pytest.raises(StyleModelError) as info:
        style_model_file(str(folder))
    assert MODEL_FILE in info.value.message
    write_stand_in(folder / MODEL_FILE)
    assert style_model_file(str(folder)) == folder / MODEL_FILE
    with pytest.raises(StyleModelError):
        style_model_file("not-a-path-or-id")


@pytest.fixture
def scored_run(tmp_path):
    dataset = write_dataset(tmp_path / "data", count=6)
    root = tmp_path / "runs"
    judged_run(root, "net", dataset, [Epoch(1, 0.3, loss=0.3), Epoch(2, 1.0, loss=0.2)], "org/csd")
    return root


def compare_json(root, env):
    proc = run_cli("compare", "net", "--json", "--runs-dir", str(root), *env.pop("args", ()), env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    return json.loads(proc.stdout)


def test_by_name_it_is_fetched_once_then_used_offline(tmp_path, scored_run, hub_home):  # noqa: F811
    hub = FakeHub()
    hub.add("org/csd", {MODEL_FILE: write_stand_in(tmp_path / "served.onnx").read_bytes()})
    try:
        # Not downloaded, and compare does not download by itself: said, and suggested anyway.
        data = compare_json(scored_run, {**hub_home, "HF_ENDPOINT": hub.url})
        assert data["epochs"][0]["style_score"] is None
        assert "org/csd is not downloaded" in data["epochs"][0]["style_unavailable"]
        assert data["suggested"]["epoch"] == 2 and "no style score" in data["suggested"]["why"]
        assert not hub.requests
        # Asked for by name: fetched and scored.
        data = compare_json(scored_run, {**hub_home, "HF_ENDPOINT": hub.url, "args": ("--style-model", "org/csd")})
        assert all(isinstance(e["style_score"], float) for e in data["epochs"])
    finally:
        hub.close()
    # Later, with the hub gone: the cached copy scores.
    data = compare_json(scored_run, {**hub_home, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}"})
    assert all(isinstance(e["style_score"], float) for e in data["epochs"])


def test_a_hub_that_cannot_be_reached_is_a_reason_not_a_crash(scored_run, hub_home):  # noqa: F811
    env = {**hub_home, "HF_ENDPOINT": f"http://127.0.0.1:{closed_port()}", "args": ("--style-model", "org/csd")}
    data = compare_json(scored_run, env)
    reason = data["epochs"][0]["style_unavailable"]
    assert data["epochs"][0]["style_score"] is None and "refused the connection" in reason
    assert data["suggested"]["epoch"] == 2
