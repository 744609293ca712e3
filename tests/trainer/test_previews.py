"""Previews look like what the user will generate: the family card's settings, rendered from
the adapter file as a WebUI applies it at a stated strength, with A1111 parameters in every
PNG; and rendering them leaves the training weights exactly as they were."""

from __future__ import annotations

import json

import numpy
import pytest
import torch
from PIL import Image

from stylora_tui.run import events as ev
from tests.trainer.conftest import demo_config, in_process, prepare, trainer

pytestmark = pytest.mark.slow


def test_every_preview_carries_a1111_parameters_from_the_family_card(tmp_path, dataset, cache_env):
    config = demo_config(dataset, model={"family": "noobai"}, training={"epochs": 2}, samples={"every_n_epochs": 1, "steps": 2})
    run = prepare(tmp_path, config, "cards")
    result = trainer(run, cache_env)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    record = json.loads((run.samples / "e0001" / "prompts.json").read_text())
    assert record["kinds"] == ["dataset", "other subject", "other subject", "no trigger"]
    assert record["adapter"] == "cards-e0001" and record["strength"] == 1.0 and "NoobAI-XL card" in record["source"]
    assert all(p.startswith("masterpiece, best quality, newest, absurdres, highres") for p in record["prompts"])
    assert "stylorademostyle" in record["prompts"][0] and "stylorademostyle" not in record["prompts"][-1]
    with Image.open(run.samples / "e0001" / "01.png") as png:
        parameters = png.text["parameters"]
    prompt, negative, fields = parameters.split("\n")
    assert prompt == record["prompts"][0] + ", <lora:cards-e0001:1>"
    assert negative.startswith("Negative prompt: nsfw, worst quality, old, early")
    assert fields.startswith(
        f"Steps: 2, Sampler: Euler a, CFG scale: 5, Seed: 1234, Size: {record['size'][0]}x{record['size'][1]}"
    )
    assert 'Lora hashes: "cards-e0001: ' in fields
    final = json.loads((run.samples / "e0002" / "prompts.json").read_text())
    assert final["adapter"] == "cards"  # the final previews come from the final file


def test_previews_render_the_file_at_its_strength_and_leave_training_untouched(tmp_path, dataset, cache_env):
    config = demo_config(dataset, samples={"steps": 2, "prompts": ["stylorademostyle, 1girl"]})
    session, loop = in_process(tmp_path, config, "strength")
    for parameter in session.adapter.parameters():
        parameter.data.normal_(0, 0.05)  # an adapter that visibly changes the picture
    session.adapter.scalars.mul_(0.5)  # a max-norm scalar the file folds into lora_up
    before = {k: v.detach().clone() for k, v in session.adapter.state_dict().items()}
    file = loop.saves.adapter(1, 1, "strength-e0001.safetensors")
    sampler = session.sampler
    emitted = []
    sampler.reporter = type("R", (), {"emit": staticmethod(emitted.append)})()

    def picture(label, strength, adapter_file=file):
        folder = sampler.render(label, 1, 1, adapter_file, strength)
        assert folder is not None, [e for e in emitted if isinstance(e, ev.Log)]
        with Image.open(folder / "01.png") as image:
            return torch.from_numpy(numpy.asarray(image.convert("RGB"))).float()

    full, none, live = picture("full", 1.0), picture("none", 0.0), picture("live", 1.0, None)
    assert (full - none).abs().mean() > 1.0, "strength 1 applies the adapter"
    assert (full - live).abs().mean() < 1.0, "the file does what the weights of now do (save precision aside)"
    assert all(m.lora.multiplier == 1.0 for m in session.adapter.modules_by_key.values())
    after = session.adapter.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before), "the training weights come back exactly"
    with Image.open(tmp_path / "runs" / "strength" / "samples" / "none" / "01.png") as png:
        assert "<lora:strength-e0001:0>" in png.text["parameters"]


def test_the_default_prompts_test_the_dataset_other_subjects_and_no_trigger():
    from stylora_tui.config.build import build_config
    from stylora_tui.config.sampling import sampling_for

    pony = build_config({"model": {"family": "pony"}, "captions": {"trigger": "zqstyle"}})
    frequency = {"art": {"zqstyle": 30, "1girl": 30, "solo": 28, "flower": 12, "outdoors": 9, "score_9": 30}}
    settings = sampling_for(pony, "epsilon", False, frequency)
    own, *others, bare = settings.prompts
    assert own.startswith("zqstyle, score_9, score_8_up, score_7_up, source_anime, 1girl, solo, flower, outdoors")
    assert all("flower" not in p for p in others) and len(others) == 2  # a subject the dataset lacks
    assert bare == "score_9, score_8_up, score_7_up, source_anime, 1girl, solo, flower, outdoors"
    assert (settings.guidance_scale, settings.sampler, settings.negative.startswith("score_4")) == (7.0, "euler_a", True)
    vpred = sampling_for(build_config({"model": {"family": "noobai"}}), "v_prediction", True, {})
    assert (vpred.guidance_scale, vpred.sampler, vpred.guidance_rescale) == (4.5, "euler", 0.7)
    chosen = build_config({"samples": {"guidance_scale": 6.5, "sampler": "dpmpp_2m_karras", "negative_prompt": "", "prefix": ""}})
    custom = sampling_for(chosen, "epsilon", False, frequency)
    assert (custom.guidance_scale, custom.sampler, custom.negative) == (6.5, "dpmpp_2m_karras", "")
    assert not custom.prompts[0].endswith("absurdres")
