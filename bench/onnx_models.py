"""ONNX models that Iolite and the peers compile from the same file.

    /usr/bin/python3 bench/onnx_models.py OUT_DIR

writes
- attention.onnx: causal multi-head attention as exporters write it
  (MatMul with a transposed K, the 1/sqrt(d) scale, a causal mask from
  Range/Unsqueeze/GreaterOrEqual, Where with -inf, Softmax, MatMul), f16,
  [B, H, S, D] inputs;
- llama_block.onnx, gpt2_block.onnx: the transformer blocks of
  test/python/onnx_blocks.py exported by torch.onnx with static shapes.
Uses Debian's onnx (1.12) and torch (1.13).
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = Path(__file__).resolve().parents[1]

# The attention shape every compiler gets (a Llama-2-7B layer's prefill).
ATTENTION = {"batch": 1, "heads": 32, "seq": 4096, "head_dim": 128,
             "causal": True, "dtype": "f16"}


def attention_model(batch, heads, seq, head_dim, causal=True):
    f16 = TensorProto.FLOAT16
    shape = [batch, heads, seq, head_dim]
    inputs = [helper.make_tensor_value_info(n, f16, shape)
              for n in ("q", "k", "v")]
    output = helper.make_tensor_value_info("o", f16, shape)
    init = [
        numpy_helper.from_array(
            np.array(1.0 / math.sqrt(head_dim), np.float16), "scale"),
        numpy_helper.from_array(np.array(-np.inf, np.float16), "neg_inf"),
        numpy_helper.from_array(np.array(0, np.int64), "zero"),
        numpy_helper.from_array(np.array(seq, np.int64), "seq"),
        numpy_helper.from_array(np.array(1, np.int64), "one"),
        numpy_helper.from_array(np.array([1], np.int64), "axis1"),
        numpy_helper.from_array(np.array([0], np.int64), "axis0"),
    ]
    nodes = [
        helper.make_node("Transpose", ["k"], ["kt"], perm=[0, 1, 3, 2]),
        helper.make_node("MatMul", ["q", "kt"], ["s"]),
        helper.make_node("Mul", ["s", "scale"], ["ss"]),
    ]
    logits = "ss"
    if causal:
        nodes += [
            helper.make_node("Range", ["zero", "seq", "one"], ["pos"]),
            helper.make_node("Unsqueeze", ["pos", "axis1"], ["rows"]),
            helper.make_node("Unsqueeze", ["pos", "axis0"], ["cols"]),
            helper.make_node("GreaterOrEqual", ["rows", "cols"], ["keep"]),
            helper.make_node("Where", ["keep", "ss", "neg_inf"], ["masked"]),
        ]
        logits = "masked"
    nodes += [
        helper.make_node("Softmax", [logits], ["p"], axis=-1),
        helper.make_node("MatMul", ["p", "v"], ["o"]),
    ]
    graph = helper.make_graph(nodes, "attention", inputs, [output], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("",
                                                                        17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def export_blocks(out_dir):
    sys.path.insert(0, str(REPO / "test" / "python"))
    import warnings

    import onnx_blocks
    import torch
    warnings.simplefilter("ignore")
    written = {}
    for name in ("llama", "gpt2"):
        block = onnx_blocks.make_block(name)
        x = torch.randn(2, 16, onnx_blocks.D_MODEL)
        path = Path(out_dir) / f"{name}_block.onnx"
        with torch.no_grad():
            torch.onnx.export(block, (x,), str(path), opset_version=17,
                              input_names=["x"], output_names=["y"])
        written[name] = {"batch": 2, "seq": 16, "d_model":
                         onnx_blocks.D_MODEL}
    return written


def main(out_dir):
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = ATTENTION
    onnx.save(attention_model(a["batch"], a["heads"], a["seq"],
                              a["head_dim"], a["causal"]),
              str(out / "attention.onnx"))
    meta = {"attention": a, "blocks": export_blocks(out)}
    (out / "models.json").write_text(json.dumps(meta, indent=1))


if __name__ == "__main__":
    main(sys.argv[1])
