"""onnx.checker on an exported model (tests/onnx/run.sh): the full check with shape
inference, then what onecycle's export promises (onnx_export.h): IR 7, opset 13 of the
default domain, input "pixels" (N, 3, 32, 32), outputs "logits" and "probabilities"
(N, 10), and the inferred shapes of the outputs.

usage: /usr/bin/python3 tests/onnx/check_model.py MODEL.onnx
"""
import sys

import onnx
from onnx import shape_inference


def dims(value):
    return [d.dim_param or d.dim_value for d in value.type.tensor_type.shape.dim]


def main(path):
    model = onnx.load(path)
    onnx.checker.check_model(model, full_check=True)
    problems = []
    if model.ir_version != 7:
        problems.append(f"ir_version {model.ir_version}, expected 7")
    opsets = {o.domain: o.version for o in model.opset_import}
    if opsets != {"": 13}:
        problems.append(f"opsets {opsets}, expected the default domain's 13")
    graph = model.graph
    if [(v.name, dims(v)) for v in graph.input] != [("pixels", ["N", 3, 32, 32])]:
        problems.append(f"inputs {[(v.name, dims(v)) for v in graph.input]}")
    want = [("logits", ["N", 10]), ("probabilities", ["N", 10])]
    if [(v.name, dims(v)) for v in graph.output] != want:
        problems.append(f"outputs {[(v.name, dims(v)) for v in graph.output]}")
    inferred = shape_inference.infer_shapes(model, check_type=True, strict_mode=True)
    shapes = {v.name: dims(v) for v in list(inferred.graph.value_info) + list(inferred.graph.output)}
    for name, shape in want:
        if shapes.get(name) != shape:
            problems.append(f"inferred shape of {name}: {shapes.get(name)}")
    for p in problems:
        print(f"check_model {path}: {p}")
    if problems:
        sys.exit(1)


if __name__ == "__main__":
    main(sys.argv[1])
