"""Build the shipped CLIP tokenizer (stylora_tui/data/clip/tokenizer.json.gz) from open_clip.

Source: `open_clip/bpe_simple_vocab_16e6.txt.gz` from the open_clip_torch wheel (MIT
licence; the same BPE merges as OpenAI's CLIP). The vocabulary is rebuilt the way CLIP's
simple_tokenizer does (256 byte tokens, the same with `</w>`, 48894 merges, then
<|startoftext|> and <|endoftext|> = 49408 tokens), turned into transformers' CLIP
tokenizer and saved as one `tokenizers` JSON, so run time needs neither open_clip nor
transformers.

Usage (needs transformers, a dev dependency):
    pip download --no-deps open_clip_torch -d /tmp/oc
    python scripts/build_clip_vocab.py /tmp/oc/open_clip_torch-*.whl
"""

from __future__ import annotations

import gzip
import json
import sys
import tempfile
import zipfile
from pathlib import Path

OUT = Path(__file__).resolve().parent.parent / "stylora_tui" / "data" / "clip"
VOCAB_SIZE = 49408


def bytes_to_unicode() -> dict[int, str]:
    # CLIP's reversible byte -> printable character table.
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, (chr(c) for c in cs)))


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read("open_clip/bpe_simple_vocab_16e6.txt.gz")
        licence = next(zf.read(n).decode() for n in zf.namelist() if n.endswith("LICENSE"))
    lines = gzip.decompress(raw).decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    vocab = list(bytes_to_unicode().values())
    vocab += [v + "</w>" for v in vocab]
    vocab += ["".join(m) for m in merges]
    vocab += ["<|startoftext|>", "<|endoftext|>"]
    assert len(vocab) == VOCAB_SIZE, len(vocab)

    from transformers import AutoTokenizer

    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "vocab.json").write_text(json.dumps({t: i for i, t in enumerate(vocab)}), encoding="utf-8")
        (Path(tmp) / "merges.txt").write_text("#version: 0.2\n" + "\n".join(" ".join(m) for m in merges) + "\n", encoding="utf-8")
        (Path(tmp) / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "CLIPTokenizer"}), encoding="utf-8")
        tok = AutoTokenizer.from_pretrained(tmp, local_files_only=True)
        assert tok("a photo of a cat")["input_ids"] == [49406, 320, 1125, 539, 320, 2368, 49407]
        text = tok.backend_tokenizer.to_str()
    OUT.mkdir(parents=True, exist_ok=True)
    with gzip.GzipFile(OUT / "tokenizer.json.gz", "wb", mtime=0) as handle:
        handle.write(text.encode("utf-8"))
    (OUT / "LICENSE-open_clip").write_text(licence, encoding="utf-8")
    print(f"wrote {OUT / 'tokenizer.json.gz'} ({len(vocab)} tokens)")


if __name__ == "__main__":
    main(sys.argv[1])
