"""A tiny ONNX model with CSD's interface: NCHW float32 at 224x224 normalized with CLIP's
statistics in, a "content" and a "style" output out (CSD's order). Its style embedding is
colour and texture statistics (per channel: mean, mean square, mean vertical difference),
so a test knows how pictures rank: a palette and grain closer to the training set's score
higher. stylora_tui/data/demo-style.onnx is this model (the demo's stand-in):

    python -c "from tests.style_fixture import write_stand_in; write_stand_in('stylora_tui/data/demo-style.onnx')"
"""

from __future__ import annotations

from pathlib import Path

SIDE = 224
# Feature weights and centre: texture counts as much as colour; centred so cosines spread.
WEIGHTS = [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 4.0, 4.0, 4.0]
CENTRE = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.1, 0.1, 0.1]


def write_stand_in(path: str | Path, batch: int | str = "batch", output_name: str = "style") -> Path:
    import onnx
    from onnx import TensorProto, helper

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    ints = lambda name, values: helper.make_tensor(name, TensorProto.INT64, [len(values)], values)  # noqa: E731
    nodes = [
        helper.make_node("ReduceMean", ["pixels"], ["mean"], axes=[2, 3], keepdims=0),
        helper.make_node("Mul", ["pixels", "pixels"], ["squared"]),
        helper.make_node("ReduceMean", ["squared"], ["energy"], axes=[2, 3], keepdims=0),
        helper.make_node("Slice", ["pixels", "one", "end", "rows"], ["below"]),
        helper.make_node("Slice", ["pixels", "zero", "last", "rows"], ["above"]),
        helper.make_node("Sub", ["below", "above"], ["step"]),
        helper.make_node("Abs", ["step"], ["edges"]),
        helper.make_node("ReduceMean", ["edges"], ["texture"], axes=[2, 3], keepdims=0),
        helper.make_node("Concat", ["mean", "energy", "texture"], ["features"], axis=1),
        helper.make_node("Sub", ["features", "centre"], ["centred"]),
        helper.make_node("Mul", ["centred", "weights"], [output_name]),
        helper.make_node("Identity", ["mean"], ["content"]),
    ]
    graph = helper.make_graph(
        nodes,
        "stand-in-csd",
        [helper.make_tensor_value_info("pixels", TensorProto.FLOAT, [batch, 3, SIDE, SIDE])],
        [
            helper.make_tensor_value_info("content", TensorProto.FLOAT, [batch, 3]),
            helper.make_tensor_value_info(output_name, TensorProto.FLOAT, [batch, len(WEIGHTS)]),
        ],
        [
            ints("one", [1]),
            ints("zero", [0]),
            ints("end", [SIDE]),
            ints("last", [SIDE - 1]),
            ints("rows", [2]),
            helper.make_tensor("centre", TensorProto.FLOAT, [len(CENTRE)], CENTRE),
            helper.make_tensor("weights", TensorProto.FLOAT, [len(WEIGHTS)], WEIGHTS),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], producer_name="stylora-tui tests")
    model.ir_version = 8  # readable by every onnxruntime we allow
    onnx.save(model, path)
    return path
