"""Regenerate src/veil/models/face_landmark.onnx and face_mesh.json from MediaPipe's wheel.

MediaPipe 0.10.14 (Apache-2.0) ships ``face_landmark.tflite``: 468 dense face landmarks
(x, y in pixels of its 192x192 input, z relative depth) and a face-presence logit. Its
weights are float16 constants dequantised at load; off-the-shelf converters stumble on
that, and the network uses only six operators, so this script maps them to ONNX itself
(NHWC input kept, NCHW inside) and checks the result against LiteRT's own interpreter.
``face_mesh.json`` holds the mesh's triangles (the 3-cliques of MediaPipe's
FACEMESH_TESSELATION edges) and the landmark indices of each feature contour.

Run once, in a throwaway environment (nothing here is a Veil dependency):

    python -m venv /tmp/conv && /tmp/conv/bin/pip install tflite onnx numpy \
        ai-edge-litert onnxruntime
    pip download --no-deps --only-binary=:all: --python-version 3.11 \
        --platform manylinux_2_17_x86_64 mediapipe==0.10.14 -d /tmp/wheels
    /tmp/conv/bin/python scripts/convert_face_landmark.py /tmp/wheels/mediapipe-0.10.14-*.whl
"""

from __future__ import annotations

import ast
import hashlib
import json
import sys
import zipfile
from pathlib import Path

import numpy as np
import onnx
import tflite
from onnx import TensorProto, helper, numpy_helper

MODEL = "mediapipe/modules/face_landmark/face_landmark.tflite"
CONNECTIONS = "mediapipe/python/solutions/face_mesh_connections.py"
LICENSE = "mediapipe-0.10.14.dist-info/LICENSE"
OUT = Path(__file__).resolve().parent.parent / "src" / "veil" / "models"
OPS = {getattr(tflite.BuiltinOperator, n): n for n in dir(tflite.BuiltinOperator)
       if not n.startswith("_")}
ACTIVATIONS = {tflite.ActivationFunctionType.NONE: None,
               tflite.ActivationFunctionType.RELU: "Relu"}


def convert(data: bytes) -> onnx.ModelProto:
    model = tflite.Model.GetRootAsModel(data, 0)
    graph = model.Subgraphs(0)

    def tensor(i: int) -> tflite.Tensor:
        return graph.Tensors(i)

    def name(i: int) -> str:
        return str(tensor(i).Name().decode())

    def const(i: int) -> np.ndarray:
        t = tensor(i)
        dtype = {tflite.TensorType.FLOAT16: np.float16, tflite.TensorType.FLOAT32: np.float32,
                 tflite.TensorType.INT32: np.int32}[t.Type()]
        raw = model.Buffers(t.Buffer()).DataAsNumpy()
        return np.frombuffer(raw.tobytes(), dtype).reshape(t.ShapeAsNumpy())

    consts: dict[str, np.ndarray] = {}
    nodes: list[onnx.NodeProto] = []
    inits: list[onnx.TensorProto] = []

    def init(key: str, value: np.ndarray) -> str:
        inits.append(numpy_helper.from_array(value, key))
        return key

    def activation(out: str, fused: int) -> str:
        act = ACTIVATIONS[fused]
        if act is None:
            return out
        nodes.append(helper.make_node(act, [out + "_pre"], [out]))
        return out + "_pre"

    def options(op: tflite.Operator, cls: type) -> object:
        opt = cls()
        table = op.BuiltinOptions()
        opt.Init(table.Bytes, table.Pos)
        return opt

    (inp,) = graph.InputsAsNumpy()
    nodes.append(helper.make_node("Transpose", [name(inp)], ["nchw_input"], perm=[0, 3, 1, 2]))
    renamed = {name(inp): "nchw_input"}

    def src(i: int) -> str:
        return renamed.get(name(i), name(i))

    for k in range(graph.OperatorsLength()):
        op = graph.Operators(k)
        code = model.OperatorCodes(op.OpcodeIndex())
        kind = OPS[max(code.BuiltinCode(), code.DeprecatedBuiltinCode())]
        ins, outs = list(op.InputsAsNumpy()), list(op.OutputsAsNumpy())
        out = name(outs[0])
        if kind == "DEQUANTIZE":
            consts[out] = const(ins[0]).astype(np.float32)
        elif kind in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            depthwise = kind == "DEPTHWISE_CONV_2D"
            opt = options(op, tflite.DepthwiseConv2DOptions if depthwise
                          else tflite.Conv2DOptions)
            weight = consts[name(ins[1])]  # conv OHWI, depthwise 1HWC
            weight = (weight.transpose(3, 0, 1, 2) if depthwise
                      else weight.transpose(0, 3, 1, 2))
            attrs = {"strides": [opt.StrideH(), opt.StrideW()],
                     "kernel_shape": list(weight.shape[2:]),
                     "auto_pad": "SAME_UPPER" if opt.Padding() == tflite.Padding.SAME
                     else "VALID"}
            if depthwise:
                attrs["group"] = weight.shape[0]
            nodes.append(helper.make_node(
                "Conv", [src(ins[0]), init(out + "/W", weight),
                         init(out + "/B", consts[name(ins[2])])],
                [activation(out, opt.FusedActivationFunction())], **attrs))
        elif kind == "PRELU":
            slope = consts[name(ins[1])].reshape(-1, 1, 1)
            nodes.append(helper.make_node("PRelu", [src(ins[0]), init(out + "/slope", slope)],
                                          [out]))
        elif kind == "ADD":
            opt = options(op, tflite.AddOptions)
            nodes.append(helper.make_node("Add", [src(ins[0]), src(ins[1])],
                                          [activation(out, opt.FusedActivationFunction())]))
        elif kind == "MAX_POOL_2D":
            opt = options(op, tflite.Pool2DOptions)
            nodes.append(helper.make_node(
                "MaxPool", [src(ins[0])], [activation(out, opt.FusedActivationFunction())],
                kernel_shape=[opt.FilterHeight(), opt.FilterWidth()],
                strides=[opt.StrideH(), opt.StrideW()],
                auto_pad="SAME_UPPER" if opt.Padding() == tflite.Padding.SAME else "VALID"))
        elif kind == "PAD":
            pads = const(ins[1])[[0, 3, 1, 2]]  # NHWC rows to NCHW
            onnx_pads = np.concatenate([pads[:, 0], pads[:, 1]]).astype(np.int64)
            nodes.append(helper.make_node("Pad", [src(ins[0]), init(out + "/pads", onnx_pads)],
                                          [out]))
        else:
            raise SystemExit(f"operator {kind} not handled")

    outputs = []
    for i, label in zip(graph.OutputsAsNumpy(), ["landmarks", "face_flag"], strict=True):
        width = int(np.prod(tensor(i).ShapeAsNumpy()))
        nodes.append(helper.make_node(
            "Reshape", [src(i), init(label + "/shape", np.array([1, width], np.int64))],
            [label]))
        outputs.append(helper.make_tensor_value_info(label, TensorProto.FLOAT, [1, width]))
    graph_proto = helper.make_graph(
        nodes, "face_landmark", [helper.make_tensor_value_info(
            name(inp), TensorProto.FLOAT, [1, 192, 192, 3])], outputs, inits)
    result = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 13)],
                               producer_name="veil scripts/convert_face_landmark.py")
    result.ir_version = 8
    onnx.checker.check_model(result)
    return result


def mesh(source: str) -> dict[str, list[list[int]]]:
    """Triangles and feature contours from MediaPipe's connection lists."""
    tree = ast.parse(source)
    sets: dict[str, list[tuple[int, int]]] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
            call = node.value
            if not (isinstance(call, ast.Call) and len(call.args) == 1):
                continue  # FACEMESH_CONTOURS etc.: unions of the others
            try:
                value = ast.literal_eval(call.args[0])
            except ValueError:
                continue
            sets[node.targets[0].id] = sorted(value)
    edges = sets["FACEMESH_TESSELATION"]
    near: dict[int, set[int]] = {}
    for a, b in edges:
        near.setdefault(a, set()).add(b)
        near.setdefault(b, set()).add(a)
    triangles = sorted({tuple(sorted((a, b, c))) for a, b in edges
                        for c in near[a] & near[b]})
    out: dict[str, list[list[int]]] = {"triangles": [list(t) for t in triangles]}
    for key in ("LIPS", "LEFT_EYE", "RIGHT_EYE", "LEFT_EYEBROW", "RIGHT_EYEBROW", "FACE_OVAL",
                "NOSE"):
        if f"FACEMESH_{key}" in sets:
            out[key.lower()] = [list(e) for e in sets[f"FACEMESH_{key}"]]
    return out


def check(tflite_bytes: bytes, model: onnx.ModelProto) -> float:
    """Largest landmark difference (px) between LiteRT and onnxruntime on random input."""
    import onnxruntime as ort
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=tflite_bytes)
    interpreter.allocate_tensors()
    session = ort.InferenceSession(model.SerializeToString(),
                                   providers=["CPUExecutionProvider"])
    worst = 0.0
    rng = np.random.default_rng(0)
    for _ in range(3):
        x = rng.random((1, 192, 192, 3), np.float32)
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], x)
        interpreter.invoke()
        ref = [interpreter.get_tensor(d["index"]).reshape(1, -1)
               for d in interpreter.get_output_details()]
        got = session.run(None, {"input_1": x})
        ref.sort(key=lambda a: a.shape[1])
        got.sort(key=lambda a: a.shape[1])
        worst = max(worst, *(float(np.abs(r - g).max()) for r, g in zip(ref, got, strict=True)))
    return worst


def main(wheel: str) -> None:
    with zipfile.ZipFile(wheel) as zf:
        data = zf.read(MODEL)
        connections = zf.read(CONNECTIONS).decode()
        licence = zf.read(LICENSE).decode()
    model = convert(data)
    print(f"largest difference to LiteRT: {check(data, model):.2e}")
    (OUT / "face_landmark.onnx").write_bytes(model.SerializeToString())
    (OUT / "face_mesh.json").write_text(json.dumps(mesh(connections), separators=(",", ":")))
    (OUT / "LICENSE.mediapipe").write_text(
        "face_landmark.onnx is MediaPipe's face_landmark.tflite (mediapipe 0.10.14 wheel,\n"
        f"sha256 {hashlib.sha256(data).hexdigest()}) converted to ONNX by\n"
        "scripts/convert_face_landmark.py; face_mesh.json is derived from that wheel's\n"
        "mediapipe/python/solutions/face_mesh_connections.py. Both under MediaPipe's licence:\n\n"
        + licence)
    print("wrote", *(OUT / f for f in ("face_landmark.onnx", "face_mesh.json",
                                       "LICENSE.mediapipe")))


if __name__ == "__main__":
    main(*sys.argv[1:])
