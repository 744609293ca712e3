from __future__ import annotations

import json
import shutil

import pytest

from stylora_tui.config.families import FAMILIES, get_family
from stylora_tui.dataset.captions import training_caption
from stylora_tui.dataset.tokens import CLIP_VOCAB_SIZE, caption_budgets, check_trigger
from stylora_tui.errors import TokenizerError
from stylora_tui.integrations.clip_tokenizer import load_for_model, load_from_folder, load_shipped
from tests.conftest import run_cli

TOKENIZER = load_shipped()


def verdict(word, family="animagine", captions=None):
    return check_trigger(word, TOKENIZER, get_family(family), FAMILIES, captions)


def codes(report):
    return {f.code for f in report.findings}


def test_real_clip_ids():
    assert TOKENIZER.backend.get_vocab_size() == CLIP_VOCAB_SIZE == 49408
    assert TOKENIZER.encode("a photo of a cat").ids == (320, 1125, 539, 320, 2368)
    assert TOKENIZER.token_to_id("<|startoftext|>") == 49406 and TOKENIZER.token_to_id("<|endoftext|>") == 49407


def test_practice_examples():
    assert verdict("katsushikahokusaistyle").verdict == "ok"
    several = verdict("katsushika hokusai style")
    assert several.verdict == "warn" and "trigger-several-words" in codes(several)
    assert "katsushikahokusaistyle" in several.suggestions


@pytest.mark.parametrize("word", ["", "   "])
def test_empty_is_error(word):
    assert verdict(word).verdict == "error"


@pytest.mark.parametrize(
    "word", ["(mystyle)", "my:style", "a,b", "mystyle|x", "<lora:x>", "my\\style", "x BREAK y", "cats AND dogs", "[x]", "{x}"]
)
def test_prompt_syntax_is_error(word):
    report = verdict(word)
    assert report.verdict == "error" and "trigger-prompt-syntax" in codes(report)


@pytest.mark.parametrize("word", ["score_9", "score_8_up", "source_anime", "rating_safe"])
def test_pony_quality_tags_are_errors(word):
    for family in ("pony", "animagine"):
        report = verdict(word, family)
        assert report.verdict == "error" and "trigger-quality-tag" in codes(report)


@pytest.mark.parametrize("word", ["masterpiece", "best quality", "absurdres"])
def test_animagine_quality_words_warn(word):
    report = verdict(word)
    assert report.verdict == "warn" and "trigger-quality-word" in codes(report)


def test_known_whole_words_warn():
    assert "trigger-known-words" in codes(verdict("watercolor"))
    assert "trigger-known-words" in codes(verdict("long_hair"))
    assert "trigger-known-words" not in codes(verdict("mystyle"))


def test_non_ascii_and_many_tokens_warn():
    assert "trigger-non-ascii" in codes(verdict("北斎スタイル"))
    assert "trigger-many-tokens" in codes(verdict("supercalifragilisticexpialidociousartstyle"))


def test_trigger_used_as_ordinary_tag_warns():
    report = verdict("mystyle", captions=["1girl, mystyle, solo", "mystyle, 1girl"])
    assert "trigger-used-as-tag" in codes(report) and "1 caption" in next(
        f.message for f in report.findings if f.code == "trigger-used-as-tag"
    )


def test_suggestions_pass_every_rule():
    for word in ("katsushika hokusai style", "score_9", "(x:1.2)", "watercolor", "北斎"):
        report = verdict(word, "pony")
        assert report.suggestions, word
        for suggestion in report.suggestions:
            assert verdict(suggestion, "pony").verdict == "ok", suggestion


def test_caption_budget_finds_lost_tags():
    tags = ("mystyle",) + tuple(f"tag number {i}" for i in range(40))
    short = ("mystyle", "1girl")
    budgets = caption_budgets([("long.jpg", tags), ("short.jpg", short)], TOKENIZER, 75)
    long_budget, short_budget = budgets
    assert long_budget.too_long and not short_budget.too_long
    assert long_budget.lost_tags[-1] == "tag number 39" and "mystyle" not in long_budget.lost_tags
    assert short_budget.tokens == 5


def test_pony_keep_tokens_pins_trigger_and_quality_tags():
    arranged = training_caption(
        "1girl, score_9, mystyle, solo", trigger="mystyle", quality_tags=get_family("pony").quality_tags, keep_tokens=1
    )
    assert arranged.pinned == ("mystyle", "score_9", "score_8_up", "score_7_up", "source_anime")
    assert set(arranged.shuffled) == {"1girl", "solo"}
    separated = training_caption("mystyle, hat ||| 1girl, solo", trigger="mystyle", keep_tokens_separator="|||")
    assert separated.pinned == ("mystyle", "hat") and separated.shuffled == ("1girl", "solo")


def test_model_folder_tokenizers_and_broken_ones(tmp_path):
    folder = tmp_path / "model"
    (folder / "tokenizer").mkdir(parents=True)
    (folder / "tokenizer").joinpath("tokenizer.json").write_text(TOKENIZER.backend.to_str())
    spec = json.loads(TOKENIZER.backend.to_str())
    (folder / "tokenizer_2").mkdir()
    (folder / "tokenizer_2" / "vocab.json").write_text(json.dumps(spec["model"]["vocab"]))
    merges = [" ".join(m) if isinstance(m, list) else m for m in spec["model"]["merges"]]
    (folder / "tokenizer_2" / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    first, second = load_for_model(folder)
    assert first.encode("a photo of a cat").ids == second.encode("a photo of a cat").ids == (320, 1125, 539, 320, 2368)
    shutil.rmtree(folder / "tokenizer_2")
    (folder / "tokenizer_2").mkdir()
    (folder / "tokenizer_2" / "vocab.json").write_text(json.dumps({"a": 0}))
    (folder / "tokenizer_2" / "merges.txt").write_text("#version: 0.2\n")
    with pytest.raises(TokenizerError):
        load_from_folder(folder / "tokenizer_2")


def test_tokenizing_ten_thousand_captions_is_fast_enough_to_batch():
    captions = ["mystyle, 1girl, solo, long hair, looking at viewer, smile, outdoors, sky"] * 10_000
    assert len(TOKENIZER.count_batch(captions)) == 10_000


def test_trigger_cli_json_contract():
    proc = run_cli("trigger", "katsushika hokusai style", "--json")
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    assert set(data) == {"trigger", "verdict", "tokens", "findings", "suggestions"}
    assert data["verdict"] == "warn" and set(data["tokens"]) == {"ids", "pieces"}
    assert set(data["findings"][0]) == {"severity", "code", "message", "hint"}
    error = run_cli("trigger", "score_9", "--family", "pony", "--json")
    assert error.returncode == 1 and json.loads(error.stdout)["verdict"] == "error"


def test_caption_budget_is_linear_and_agrees_with_counting_every_prefix():
    import random
    import time

    rng = random.Random(3)
    words = [
        "1girl",
        "long hair",
        "smile",
        "katsushikahokusaistyle",
        "very long tag with words",
        "blue_eyes",
        "(emphasis:1.2)",
        "日本語",
        "a",
        "score_9",
        "highres",
        "looking at viewer",
    ]
    captions = [(f"{i}.jpg", tuple(rng.choice(words) for _ in range(rng.randint(1, 60)))) for i in range(60)]
    for (path, tags), budget in zip(captions, caption_budgets(captions, TOKENIZER, 75)):
        prefix = TOKENIZER.count_batch([", ".join(tags[: i + 1]) for i in range(len(tags))])
        assert budget.tokens == prefix[-1]
        assert budget.lost_tags == tuple(t for t, end in zip(tags, prefix) if end > 75), path
    # A 26 KB caption once took minutes (every prefix re-tokenised): now one encoding.
    huge = [("huge.jpg", tuple(f"tag number {i}" for i in range(2000)))]
    began = time.perf_counter()
    (budget,) = caption_budgets(huge, TOKENIZER, 225)
    assert time.perf_counter() - began < 5 and len(budget.lost_tags) > 1900
