#!/usr/bin/python3
# ===- make_corpora.py - Seed corpora and dictionaries for the fuzzers ----===#
#
# Part of the Iolite project.
#
# Writes OUT/<target>/seeds/ and OUT/<target>.dict for the four fuzz targets
# from what the tests already hold, so no binary seed is committed:
#   mlir    the cases of the .mlir tests (split at `// -----`)
#   onnx    the .onnxtxt test models as binary ModelProtos, the models
#           test/Import/ONNX/Inputs/make_models.py writes, and a sample of
#           the ONNX test-data models (libonnx-testdata)
#   npy     arrays of every dtype, order, byte order and header version
#   bundle  manifests in iolite-compile's format, each followed by a NUL and
#           bytes that pick the run's inputs (tools/fuzz/iolite-bundle-fuzzer)
# Dictionaries: op names and keywords found in the sources and tests.
#
# ===----------------------------------------------------------------------===#

import argparse
import glob
import io
import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
ONNX_TESTDATA = "/usr/share/libonnx-testdata/data"


def write_seed(folder, name, data):
    os.makedirs(folder, exist_ok=True)
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(os.path.join(folder, name), mode) as f:
        f.write(data)


def write_dict(path, tokens):
    with open(path, "w") as f:
        for t in sorted(set(tokens)):
            escaped = "".join(
                c if 32 <= ord(c) < 127 and c not in '"\\' else "\\x%02x" % ord(c)
                for c in t)
            f.write('"%s"\n' % escaped)


def mlir_corpus(out):
    seeds = os.path.join(out, "mlir", "seeds")
    files = []
    for pattern in ["test/Dialect/**/*.mlir", "test/Pipelines/*.mlir",
                    "test/Conversion/**/*.mlir", "test/Driver/**/*.mlir",
                    "test/Codegen/*.mlir", "examples/**/*.mlir"]:
        files += glob.glob(os.path.join(ROOT, pattern), recursive=True)
    tokens = {"func.func", "return", "tensor<", "f32", "bf16", "f16", "i1",
              "i32", "i64", "loc(", "dense<", "->", "{", "}", "%arg0", "!"}
    count = 0
    for path in sorted(files):
        text = open(path).read()
        tokens.update(re.findall(r"\b(?:iolite|igpu)\.[a-z_0-9]+", text))
        for i, case in enumerate(re.split(r"^// -----.*$", text, flags=re.M)):
            body = "\n".join(l for l in case.splitlines()
                             if not re.match(r"\s*//\s*(RUN|CHECK|[A-Z]+[-:])", l))
            if body.strip():
                rel = os.path.relpath(path, ROOT).replace("/", "_")
                write_seed(seeds, "%s.%d.mlir" % (rel, i), body + "\n")
                count += 1
    for path in glob.glob(os.path.join(ROOT, "include/iolite/**/*.td"),
                          recursive=True):
        for m in re.finditer(r'def \w+ : \w+<"([a-z_0-9.]+)"', open(path).read()):
            tokens.add(("igpu." if "IoliteGPU" in path else "iolite.") + m.group(1))
    write_dict(os.path.join(out, "mlir.dict"), tokens)
    return count


def onnx_corpus(out, max_testdata):
    import onnx
    import onnx.parser
    seeds = os.path.join(out, "onnx", "seeds")
    count = 0
    texts = glob.glob(os.path.join(ROOT, "test/**/*.onnxtxt"), recursive=True)
    for path in sorted(texts):
        for i, case in enumerate(re.split(r"^# -----.*$", open(path).read(),
                                          flags=re.M)):
            try:
                model = onnx.parser.parse_model(case)
            except Exception:
                continue  # the error tests hold some unparsable models
            rel = os.path.relpath(path, ROOT).replace("/", "_")
            write_seed(seeds, "%s.%d.onnx" % (rel, i), model.SerializeToString())
            count += 1
    with tempfile.TemporaryDirectory() as tmp:
        maker = os.path.join(ROOT, "test/Import/ONNX/Inputs/make_models.py")
        if subprocess.run([sys.executable, maker, tmp],
                          stdout=subprocess.DEVNULL).returncode == 0:
            for path in sorted(glob.glob(os.path.join(tmp, "*.onnx"))):
                write_seed(seeds, "make_models_" + os.path.basename(path),
                           open(path, "rb").read())
                count += 1
    models = sorted(glob.glob(os.path.join(ONNX_TESTDATA, "node/*/model.onnx")))
    step = max(1, len(models) // max(1, max_testdata))
    for path in models[::step][:max_testdata]:
        data = open(path, "rb").read()
        if len(data) <= 64 * 1024:
            write_seed(seeds, "testdata_%s.onnx" %
                       os.path.basename(os.path.dirname(path)), data)
            count += 1
    tokens = set()
    for path in glob.glob(os.path.join(ROOT, "lib/Import/ONNX/*.cpp")):
        tokens.update(re.findall(r'"([A-Za-z][A-Za-z0-9_]{1,30})"',
                                 open(path).read()))
    write_dict(os.path.join(out, "onnx.dict"), tokens)
    return count


def npy_bytes(array, version=None):
    import numpy as np
    buf = io.BytesIO()
    if version is None:
        np.save(buf, array, allow_pickle=False)
    else:
        np.lib.format.write_array(buf, array, version=version,
                                  allow_pickle=False)
    return buf.getvalue()


def npy_corpus(out):
    import numpy as np
    seeds = os.path.join(out, "npy", "seeds")
    rng = np.random.default_rng(17)
    count = 0
    dtypes = ["bool", "int8", "uint8", "int16", "uint16", "int32", "uint32",
              "int64", "uint64", "float16", "float32", "float64"]
    shapes = [(), (0,), (3,), (2, 3), (2, 0, 4), (2, 3, 2)]
    for dtype in dtypes:
        for shape in shapes:
            a = (rng.standard_normal(shape) * 10).astype(dtype)
            write_seed(seeds, "%s_%s.npy" % (dtype, "x".join(map(str, shape))
                                             or "scalar"), npy_bytes(a))
            count += 1
        a = (rng.standard_normal((3, 4)) * 10).astype(dtype)
        write_seed(seeds, "%s_fortran.npy" % dtype, npy_bytes(np.asfortranarray(a)))
        write_seed(seeds, "%s_bigendian.npy" % dtype,
                   npy_bytes(a.astype(np.dtype(dtype).newbyteorder(">"))))
        count += 2
    for version in [(1, 0), (2, 0), (3, 0)]:
        write_seed(seeds, "f32_v%d.npy" % version[0],
                   npy_bytes(np.arange(6, dtype=np.float32).reshape(2, 3), version))
        count += 1
    tokens = ["\x93NUMPY", "\x01\x00", "\x02\x00", "\x03\x00", "'descr'",
              "'fortran_order'", "'shape'", "True", "False", "(", ")", ",",
              ": ", "{", "}", "<", ">", "|", "="]
    tokens += ["<f2", "<f4", "<f8", "|b1", "|i1", "|u1", "<i2", "<u2", "<i4",
               "<u4", "<i8", "<u8", ">f4", "<c8", "|O"]
    write_dict(os.path.join(out, "npy.dict"), tokens)
    return count


def bundle_corpus(out):
    seeds = os.path.join(out, "bundle", "seeds")
    interfaces = [
        ([("f32", [8, 32])], [("f32", [8, 16])], 0),
        ([("f16", [2, 4, 64]), ("f16", [2, 4, 64]), ("i32", [2])],
         [("f16", [2, 4, 64])], 4096),
        ([("bf16", [1, 128]), ("i64", [])], [("bf16", [1, 128]), ("i1", [4])],
         256),
        ([("i1", [0, 3])], [("f32", [0])], 0),
        ([], [("f32", [1])], 0),
    ]
    count = 0
    for i, (ins, outs, workspace) in enumerate(interfaces):
        def tensors(list_):
            return [{"dtype": d, "shape": s,
                     "bytes": {"f32": 4, "i32": 4, "f16": 2, "bf16": 2,
                               "i64": 8, "i1": 1}[d] *
                     int(__import__("math").prod(s))} for d, s in list_]
        manifest = {"name": "model%d" % i, "inputs": tensors(ins),
                    "outputs": tensors(outs), "workspace_bytes": workspace,
                    "targets": [{"name": "emu-sm_90a"}, {"name": "gfx942"}]}
        text = json.dumps(manifest, indent=2).encode()
        # After the NUL: the run's inputs as the fuzzer decodes them; all
        # zeros takes the manifest's count and the first choices.
        for j, tail in enumerate([b"", bytes(16), bytes([1] * 32),
                                  bytes(range(64))]):
            write_seed(seeds, "manifest%d_%d" % (i, j), text + b"\0" + tail)
            count += 1
    # A bundle compiled for symbolic dims (docs/dynamic-shapes.md): -1 in
    # "shape", each dim as coeff * prod(dims[i]^exps[i]).
    def dim(coeff, exps):
        return {"coeff": coeff, "exps": exps}
    symbolic = {
        "name": "symbolic", "workspace_bytes": 65536,
        "dims": [{"name": "batch", "min": 1, "max": 4},
                 {"name": "seq", "min": 1, "max": 64}],
        "inputs": [
            {"dtype": "f32", "shape": [-1, -1, 32], "bytes": 32768,
             "dims": [dim(1, [1, 0]), dim(1, [0, 1]), dim(32, [0, 0])]},
            {"dtype": "f16", "shape": [-1, 8], "bytes": 1024,
             "dims": [dim(1, [0, 1]), dim(8, [0, 0])]},
            {"dtype": "f32", "shape": [32], "bytes": 128,
             "dims": [dim(32, [0, 0])]}],
        "outputs": [
            {"dtype": "f32", "shape": [-1, 32], "bytes": 32768,
             "dims": [dim(1, [1, 1]), dim(32, [0, 0])]}],
        "workspace_tensors": [
            {"name": "k0.result0", "offset": 0, "bytes": 65536,
             "bytes_at_dims": dim(256, [1, 1])}],
        "targets": [{"name": "emu-sm_90a"}]}
    text = json.dumps(symbolic, indent=2).encode()
    for j, tail in enumerate([b"", bytes(16), bytes([1] * 32),
                              bytes(range(64)), bytes([7, 1, 3] * 20)]):
        write_seed(seeds, "symbolic_%d" % j, text + b"\0" + tail)
        count += 1
    tokens = ['"name"', '"inputs"', '"outputs"', '"dtype"', '"shape"',
              '"dims"', '"coeff"', '"exps"', '"min"', '"max"',
              '"bytes_at_dims"', '"workspace_tensors"', '"offset"',
              '"bytes"', '"workspace_bytes"', '"targets"', '"f32"', '"f16"',
              '"bf16"', '"i1"', '"i32"', '"i64"', "9223372036854775807",
              "-1", "[", "]", "{", "}", ":", ",", "\x00"]
    write_dict(os.path.join(out, "bundle.dict"), tokens)
    return count


def main():
    parser = argparse.ArgumentParser(description="Seed corpora and dictionaries for the fuzzers")
    parser.add_argument("out", help="folder for <target>/seeds and <target>.dict")
    parser.add_argument("--targets", default="mlir,onnx,npy,bundle")
    parser.add_argument("--max-onnx-testdata", type=int, default=400)
    args = parser.parse_args()
    makers = {"mlir": mlir_corpus, "npy": npy_corpus, "bundle": bundle_corpus,
              "onnx": lambda out: onnx_corpus(out, args.max_onnx_testdata)}
    for target in args.targets.split(","):
        print("%s: %d seeds" % (target, makers[target](args.out)))


if __name__ == "__main__":
    main()
