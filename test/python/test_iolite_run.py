"""iolite-run's command line: inputs, outputs, --expect, and the errors it
must report (with a non-zero exit, never a crash)."""

import json
import subprocess

import numpy as np
import pytest

from iolite_testing import (from_npy, iolite_run, round_to, to_npy, tool,
                            TOLERANCES)

MODEL = """
func.func @scale(%x: tensor<2x3xf32>, %s: tensor<3xf32>) -> tensor<2x3xf32> {
  %y = iolite.mul %x, %s : tensor<2x3xf32>, tensor<3xf32>
  return %y : tensor<2x3xf32>
}
func.func @pair(%x: tensor<4xbf16>, %h: tensor<4xf16>, %m: tensor<4xi1>)
    -> (tensor<4xbf16>, tensor<4xf16>, tensor<4xi1>, tensor<i64>) {
  %a = iolite.add %x, %x : tensor<4xbf16>, tensor<4xbf16>
  %b = iolite.neg %h : tensor<4xf16>
  %t = iolite.constant dense<true> : tensor<4xi1>
  %c = iolite.compare ne %m, %t : tensor<4xi1>, tensor<4xi1>
  %n = iolite.constant dense<42> : tensor<i64>
  return %a, %b, %c, %n : tensor<4xbf16>, tensor<4xf16>, tensor<4xi1>, tensor<i64>
}
"""

X = np.arange(6, dtype=np.float32).reshape(2, 3)
S = np.array([1.0, -2.0, 0.5], np.float32)


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "model.mlir"
    path.write_text(MODEL)
    return path


def run(args, tmp_path):
    return subprocess.run([str(tool("iolite-run"))] + [str(a) for a in args],
                          capture_output=True, text=True, cwd=tmp_path)


def save(tmp_path, name, array):
    path = tmp_path / name
    np.save(path, array)
    return path


def test_outputs_and_encodings(model):
    x = np.array([1.5, -2.25, 3.0, 0.1], np.float32)
    h = np.array([0.5, -1.0, 2.0, 65504.0], np.float16)
    m = np.array([True, False, True, False])
    rc, outs, stdout, _ = iolite_run(
        model, [to_npy(x, "bf16"), h, m], function="pair")
    assert rc == 0
    assert [o.dtype for o in outs] == [np.uint16, np.float16, np.bool_,
                                       np.int64]
    np.testing.assert_array_equal(from_npy(outs[0]), 2 * round_to(x, "bf16"))
    np.testing.assert_array_equal(outs[1], -h)
    np.testing.assert_array_equal(outs[2], ~m)
    assert outs[3].shape == () and outs[3] == 42
    assert "out3: tensor<i64>" in stdout


def test_expect_match_and_mismatch(model, tmp_path):
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    good = save(tmp_path, "good.npy", (X * S).astype(np.float64))
    r = run([model, "--function=scale", f"--input={x}", f"--input={s}",
             f"--expect={good}", "--rtol=1e-6", "--atol=0"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "max_abs_err=0.000e+00" in r.stdout and "ok" in r.stdout

    bad = X * S
    bad[1, 2] += 0.5
    bad = save(tmp_path, "bad.npy", bad)
    r = run([model, "--function=scale", f"--input={x}", f"--input={s}",
             f"--expect={bad}", "--rtol=1e-3", "--atol=1e-3"], tmp_path)
    assert r.returncode == 1
    assert "MISMATCH" in r.stdout and "flat index 5" in r.stdout
    assert "max_abs_err=5.000e-01" in r.stdout

    wrong_shape = save(tmp_path, "wrong.npy", np.zeros((3, 2), np.float32))
    r = run([model, "--function=scale", f"--input={x}", f"--input={s}",
             f"--expect={wrong_shape}"], tmp_path)
    assert r.returncode == 1 and "expected shape 3x2" in r.stdout


def test_output_dir(model, tmp_path):
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    out = tmp_path / "a" / "b"
    r = run([model, "--function=scale", f"--input={x}", f"--input={s}",
             f"--output-dir={out}"], tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out / "out0.npy"), X * S)


def test_fortran_order_and_big_endian_inputs(model, tmp_path):
    # np.save keeps a transposed view Fortran-ordered; '>f4' is big-endian.
    xf = save(tmp_path, "xf.npy", np.asfortranarray(X))
    sb = save(tmp_path, "sb.npy", S.astype(">f4"))
    out = tmp_path / "out"
    r = run([model, "--function=scale", f"--input={xf}", f"--input={sb}",
             f"--output-dir={out}"], tmp_path)
    assert r.returncode == 0, r.stderr
    np.testing.assert_array_equal(np.load(out / "out0.npy"), X * S)


ERRORS = [
    # (arguments after the model, a fragment of the message)
    (["--function=scale", "--input={x}"],
     "@scale takes 2 argument(s) but 1 --input file(s) were given"),
    (["--function=scale", "--input={x}", "--input={x}"],
     "input #1 ({x}) does not fit argument #1 of @scale: expected 3 float32 "
     "for tensor<3xf32>, got 2x3 float32"),
    (["--function=scale", "--input={x}", "--input={s64}"],
     "expected 3 float32 for tensor<3xf32>, got 3 float64"),
    (["--function=pair", "--input={s}", "--input={s}", "--input={s}"],
     "expected 4 uint16 (bf16 bit patterns) for tensor<4xbf16>"),
    (["--function=scale", "--input={x}", "--input=missing.npy"],
     "input #1: missing.npy: cannot read"),
    (["--function=scale", "--input={x}", "--input={garbage}"],
     "not an .npy file"),
    # Found by the .npy fuzzer's harness: dims whose product overflows.
    (["--function=scale", "--input={x}", "--input={huge}"],
     "shape 4294967296x4294967296 of float32 is too large"),
    (["--function=scale", "--input={x}", "--input={truncated}"],
     "data bytes but shape 3 of float32 needs 12"),
    (["--function=nope"], "no function @nope in the model (functions: "
     "@scale, @pair)"),
    ([], "the model has several functions; pick one with --function"),
    (["--function=scale", "--backend=tpu"], "unknown backend 'tpu'"),
    # Inputs are checked before the model is compiled for the device.
    (["--function=scale", "--backend=emu", "--input={x}"],
     "@scale takes 2 argument(s) but 1 --input file(s) were given"),
    (["--function=scale", "--stats", "--input={x}", "--input={s}"],
     "--stats needs --backend=emu"),
    (["--function=scale", "--backend=emu", "--stats=csv"],
     "--stats takes table or json, not 'csv'"),
    (["--function=scale", "--target=emu-gfx942"],
     "--target applies to the emu, cuda and hip backends"),
    (["--function=scale", "--backend=emu", "--target=emu-sm_75",
      "--input={x}", "--input={s}"], "unknown target 'emu-sm_75'"),
    (["--function=scale", "--backend=emu", "--target=gfx942",
      "--input={x}", "--input={s}"],
     "--target=gfx942 has no emu-... target, which --backend=emu needs"),
    (["--function=scale", "--input={x}", "--input={s}", "--expect={x}",
      "--expect={x}"], "@scale returns 1 result(s) but 2 --expect file(s)"),
    (["--function=scale", "--check=race", "--input={x}", "--input={s}"],
     "--check and --emu-seed need --backend=emu"),
    # The emu device reads the checks when it launches.
    (["--function=scale", "--backend=emu", "--check=races", "--input={x}",
      "--input={s}"],
     "IOLITE_EMU_CHECK: unknown check 'races' (expected race, bounds, "
     "init, hang, all or none)"),
]


@pytest.mark.parametrize("args,message", ERRORS)
def test_errors(model, tmp_path, args, message):
    files = {
        "x": save(tmp_path, "x.npy", X),
        "s": save(tmp_path, "s.npy", S),
        "s64": save(tmp_path, "s64.npy", S.astype(np.float64)),
    }
    (tmp_path / "garbage.npy").write_bytes(b"definitely not numpy")
    files["garbage"] = tmp_path / "garbage.npy"
    raw = (tmp_path / "s.npy").read_bytes()
    (tmp_path / "truncated.npy").write_bytes(raw[:-4])
    files["truncated"] = tmp_path / "truncated.npy"
    header = (b"{'descr': '<f4', 'fortran_order': False, "
              b"'shape': (4294967296, 4294967296), }").ljust(117) + b"\n"
    (tmp_path / "huge.npy").write_bytes(b"\x93NUMPY\x01\x00" +
                                        len(header).to_bytes(2, "little") +
                                        header)
    files["huge"] = tmp_path / "huge.npy"
    args = [a.format(**files) for a in args]
    r = run([model] + args, tmp_path)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert message.format(**files) in r.stderr, r.stderr


def test_emu_backend(model, tmp_path):
    # A model file on emu is compiled to a temporary bundle (one function
    # of several), run on the emulator of each vendor, and cleaned up.
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    want = save(tmp_path, "want.npy", X * S)
    for chip in ("emu-sm_90a", "emu-gfx942"):
        stats = tmp_path / f"{chip}.json"
        r = run([model, "--backend=emu", f"--target={chip}",
                 "--function=scale", f"--input={x}", f"--input={s}",
                 f"--expect={want}", "--rtol=0", "--atol=0", "--stats",
                 f"--stats-file={stats}"], tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "ok" in r.stdout
        # The table: a header and the kernel's row.
        assert "global read" in r.stdout and "_k0_" in r.stdout, r.stdout
        launches = json.loads(stats.read_text())["launches"]
        assert len(launches) == 1
        # Six f32 outputs written exactly once; x read once, s per element.
        assert launches[0]["global_bytes_written"] == 6 * 4
        assert launches[0]["global_bytes_read"] >= (6 + 3) * 4


def test_emu_checks_and_seed(model, tmp_path):
    # --check and --emu-seed reach the emu device: all checks on and
    # another fiber order give the same exact result.
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    want = save(tmp_path, "want.npy", X * S)
    for check, seed in (("all", "5"), ("race,bounds,init,hang", "0"),
                        ("none", "2")):
        r = run([model, "--backend=emu", "--function=scale",
                 f"--check={check}", f"--emu-seed={seed}", f"--input={x}",
                 f"--input={s}", f"--expect={want}", "--rtol=0",
                 "--atol=0"], tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
    r = run([model, "--backend=emu", "--function=scale", "--emu-seed=x",
             f"--input={x}", f"--input={s}"], tmp_path)
    assert r.returncode == 2 and "IOLITE_EMU_SEED: 'x' is not a " \
        "non-negative integer" in r.stderr, r.stderr


def test_bundle_folder(tmp_path):
    # iolite-compile's bundle, run as it is; --backend=cpu needs a model.
    path = tmp_path / "scale.mlir"
    path.write_text(MODEL.split("func.func @pair")[0])
    bundle = tmp_path / "bundle"
    subprocess.run([str(tool("iolite-compile")), str(path),
                    "--target=gfx942,emu-gfx942,emu-sm_90a", "-o",
                    str(bundle)], check=True, capture_output=True)
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    for extra in ([], ["--target=emu-gfx942"]):
        r = run([bundle, "--backend=emu", *extra, f"--input={x}",
                 f"--input={s}", f"--output-dir={tmp_path / 'out'}",
                 "--stats=json"], tmp_path)
        assert r.returncode == 0, r.stdout + r.stderr
        np.testing.assert_array_equal(np.load(tmp_path / "out" / "out0.npy"),
                                      X * S)
        stats = json.loads(r.stdout[r.stdout.index("{"):])
        assert stats["total"]["global_bytes_written"] == 24
    r = run([bundle, f"--input={x}"], tmp_path)
    assert r.returncode == 2 and "is a bundle folder" in r.stderr, r.stderr
    r = run([bundle, "--backend=emu", f"--input={x}"], tmp_path)
    assert r.returncode == 2
    assert "takes 2 argument(s) but 1 --input" in r.stderr, r.stderr
    r = run([bundle, "--backend=emu", "--target=emu-sm_80", f"--input={x}",
             f"--input={s}"], tmp_path)
    assert r.returncode == 2 and "sm_80" in r.stderr, r.stderr


def test_gpu_backend_without_a_gpu(model, tmp_path):
    # No driver library or device: a clear error, exit 2, no crash.
    x, s = save(tmp_path, "x.npy", X), save(tmp_path, "s.npy", S)
    for backend in ("cuda", "hip"):
        r = run([model, f"--backend={backend}", "--function=scale",
                 f"--input={x}", f"--input={s}"], tmp_path)
        if r.returncode == 0:
            continue  # a machine with that GPU
        assert r.returncode == 2, (r.returncode, r.stderr)
        assert f"cannot open a {backend} device" in r.stderr, r.stderr


@pytest.mark.parametrize("backend", ["cpu", "emu"])
def test_value_returned_twice(tmp_path, backend):
    # Each result gets its own output buffer, also when two results are the
    # same value or a result is an argument (on the CPU a copy; in a bundle
    # a copy kernel, docs/fusion.md).
    path = tmp_path / "twice.mlir"
    path.write_text("""
func.func @f(%x: tensor<4xf32>) -> (tensor<4xf32>, tensor<4xf32>,
                                     tensor<4xf32>) {
  %y = iolite.exp %x : tensor<4xf32>
  return %y, %y, %x : tensor<4xf32>, tensor<4xf32>, tensor<4xf32>
}
""")
    x = np.array([0.0, 1.0, -1.0, 2.0], np.float32)
    rc, outs, _, stderr = iolite_run(path, [x], backend=backend, check=False)
    assert rc == 0, stderr
    np.testing.assert_allclose(outs[0], np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(outs[1], np.exp(x), rtol=1e-6)
    np.testing.assert_array_equal(outs[2], x)


def test_model_errors_have_locations(tmp_path):
    bad = tmp_path / "bad.mlir"
    bad.write_text("func.func @f(%x: tensor<2xf32>) -> tensor<2xf32> {\n"
                   "  %y = iolite.exp %x : tensor<3xf32>\n"
                   "  return %y : tensor<2xf32>\n}\n")
    r = run([bad], tmp_path)
    assert r.returncode == 2 and "bad.mlir:2:" in r.stderr, r.stderr

    dyn = tmp_path / "dyn.mlir"
    dyn.write_text("func.func @f(%x: tensor<?xf32>) -> tensor<?xf32> {\n"
                   "  return %x : tensor<?xf32>\n}\n")
    r = run([dyn], tmp_path)
    assert r.returncode == 2
    assert "dyn.mlir:1:" in r.stderr and \
        "is dynamic but names no symbol" in r.stderr, r.stderr

    r = run([tmp_path / "absent.mlir"], tmp_path)
    assert r.returncode == 2 and "cannot read model" in r.stderr


def test_tolerance_table_is_ordered():
    # Narrower types never get tighter tolerances than wider ones.
    assert TOLERANCES["f32"] <= TOLERANCES["f16"] <= TOLERANCES["bf16"]


@pytest.mark.parametrize("backend", ["cpu", "emu"])
def test_empty_tensor_returned_twice(tmp_path, backend):
    # Tensors with no elements (ONNX's zero-size splits) run and come back.
    path = tmp_path / "empty.mlir"
    path.write_text("""
func.func @f(%x: tensor<0x3xf32>) -> (tensor<0x3xf32>, tensor<0x3xf32>) {
  return %x, %x : tensor<0x3xf32>, tensor<0x3xf32>
}
""")
    x = np.zeros((0, 3), np.float32)
    rc, outs, _, stderr = iolite_run(path, [x], backend=backend, check=False)
    assert rc == 0, stderr
    assert [o.shape for o in outs] == [(0, 3), (0, 3)]
