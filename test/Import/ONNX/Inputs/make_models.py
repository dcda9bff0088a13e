#!/usr/bin/env python3
"""Writes the binary ONNX models the importer tests read (binary.test).

Usage: make_models.py OUT_DIR
"""
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def save(model, path):
    onnx.checker.check_model(model)
    onnx.save(model, path)


def main(out):
    os.makedirs(out, exist_ok=True)
    opset = [helper.make_opsetid("", 17)]

    # Named nodes, symbolic dims, an initializer that is also an input.
    w = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "w")
    g = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"], name="proj/matmul"),
         helper.make_node("Relu", ["h"], ["y"], name="proj/relu")],
        "named",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4]),
         helper.make_tensor_value_info("w", TensorProto.FLOAT, [4, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w])
    save(helper.make_model(g, opset_imports=opset), f"{out}/named.onnx")

    # A shape error in a named node.
    g = helper.make_graph(
        [helper.make_node("MatMul", ["q", "k"], ["s"], name="attn/scores")],
        "bad_shapes",
        [helper.make_tensor_value_info("q", TensorProto.FLOAT, [2, 8, 16]),
         helper.make_tensor_value_info("k", TensorProto.FLOAT, [2, 8, 16])],
        [helper.make_tensor_value_info("s", TensorProto.FLOAT, [2, 8, 8])])
    onnx.save(helper.make_model(g, opset_imports=opset), f"{out}/bad_shapes.onnx")

    # Weights stored as external data next to the model, in one file (the
    # second at an offset).
    b = numpy_helper.from_array(np.array([0.5, -1.5, 2.25], dtype=np.float32), "b")
    s = numpy_helper.from_array(np.array([3, -4, 5], dtype=np.int64), "s")
    g = helper.make_graph(
        [helper.make_node("Add", ["x", "b"], ["xb"], name="add_bias"),
         helper.make_node("Cast", ["s"], ["sf"], to=TensorProto.FLOAT),
         helper.make_node("Mul", ["xb", "sf"], ["y"], name="scale")],
        "external",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])],
        [b, s])
    m = helper.make_model(g, opset_imports=opset)
    onnx.save(m, f"{out}/external.onnx", save_as_external_data=True,
              all_tensors_to_one_file=True, location="external.weights",
              size_threshold=0)

    # External data that is missing, or that points outside the directory.
    for name, location in [("external_missing", "missing.weights"),
                           ("external_escape", "../outside.weights")]:
        m = onnx.load(f"{out}/external.onnx", load_external_data=False)
        for e in m.graph.initializer[0].external_data:
            if e.key == "location":
                e.value = location
        onnx.save(m, f"{out}/{name}.onnx")

    # An initializer whose shape claims 2^30 floats but that holds none: an
    # error, without allocating what the shape claims.
    huge = TensorProto(name="w", data_type=TensorProto.FLOAT,
                       dims=[1 << 28, 4])
    g = helper.make_graph(
        [helper.make_node("Relu", ["w"], ["y"])], "huge",
        [], [helper.make_tensor_value_info("y", TensorProto.FLOAT,
                                           [1 << 28, 4])], [huge])
    onnx.save(helper.make_model(g, opset_imports=opset), f"{out}/huge.onnx")

    # A file cut short, and a file that is not a model.
    data = open(f"{out}/named.onnx", "rb").read()
    open(f"{out}/truncated.onnx", "wb").write(data[: len(data) // 2])
    open(f"{out}/garbage.onnx", "wb").write(b"\xff\xfe this is not a model")

    # Several unsupported ops for --list-unsupported.
    g = helper.make_graph(
        [helper.make_node("NonZero", ["x"], ["nz"], name="nz1"),
         helper.make_node("NonZero", ["x"], ["nz2"], name="nz2"),
         helper.make_node("Relu", ["x"], ["r"], name="relu"),
         helper.make_node("GridSample", ["x", "x"], ["gs"], name="sample"),
         helper.make_node("Gelu", ["r"], ["y"], domain="com.microsoft")],
        "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 2])])
    m = helper.make_model(g, opset_imports=opset + [helper.make_opsetid("com.microsoft", 1)])
    onnx.save(m, f"{out}/unsupported.onnx")


if __name__ == "__main__":
    main(sys.argv[1])
