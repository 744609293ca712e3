"""A tiny ONNX model with a WD14 tagger's interface (NHWC float32 BGR in, one sigmoid score
per tag out) and its selected_tags.csv. Scores follow the image's mean colour, so a test
knows which tags an image must get: red images "red_hair", blue ones "blue_sky", very red
ones the character tag, and every image a rating (which must be dropped)."""

from __future__ import annotations

from pathlib import Path

SIDE = 32
# name, category, weights on the mean of (B, G, R) scaled to 0-1, bias
TAGS = [
    ("general", 9, (0, 0, 0), 4.0),  # a rating: always scores high, always dropped
    ("red_hair", 0, (0, 0, 12), -6.0),
    ("blue_sky", 0, (12, 0, 0), -6.0),
    ("^_^", 0, (0, 12, 0), -6.0),  # a kaomoji keeps its underscore
    ("hatsune_miku", 4, (-6, -6, 14), -6.0),  # a character: only pure red passes 0.85
    ("monochrome", 0, (0, 0, 0), -9.0),  # never
]


def write_tiny_tagger(folder: Path) -> Path:
    import onnx
    from onnx import TensorProto, helper

    folder.mkdir(parents=True, exist_ok=True)
    weights = [w / 255.0 for i in range(3) for w in (tag[2][i] for tag in TAGS)]
    graph = helper.make_graph(
        [
            helper.make_node("ReduceMean", ["input"], ["mean"], axes=[1, 2], keepdims=0),
            helper.make_node("MatMul", ["mean", "W"], ["logits"]),
            helper.make_node("Add", ["logits", "B"], ["biased"]),
            helper.make_node("Sigmoid", ["biased"], ["output"]),
        ],
        "tiny-wd14",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["batch", SIDE, SIDE, 3])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, ["batch", len(TAGS)])],
        [
            helper.make_tensor("W", TensorProto.FLOAT, [3, len(TAGS)], weights),
            helper.make_tensor("B", TensorProto.FLOAT, [len(TAGS)], [tag[3] for tag in TAGS]),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8  # readable by every onnxruntime we allow
    onnx.save(model, folder / "model.onnx")
    rows = ["tag_id,name,category,count"] + [f"{i},{name},{cat},100" for i, (name, cat, _, _) in enumerate(TAGS)]
    (folder / "selected_tags.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return folder
