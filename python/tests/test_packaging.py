"""The package outside the build tree: installed by `cmake --install`, and
built into a wheel and pip-installed into a virtual environment (offline:
--no-index --no-build-isolation, Debian's setuptools and wheel). Each copy
must load its own libraries and compile and run a graph on the emulator."""

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))

SMOKE = textwrap.dedent("""
    import numpy as np
    import iolite
    g = iolite.Graph("smoke")
    x = g.input((4, 8))
    g.output(g.softmax(x * 2.0))
    bundle = iolite.compile(g, targets=["emu-sm_90a"])
    y = bundle.run(np.zeros((4, 8), np.float32))
    assert np.allclose(y, 1 / 8), y
    print("package", iolite.__file__)
    print("version", iolite.__version__)
    maps = open("/proc/self/maps").read().splitlines()
    for lib in ("libIoliteCAPI.so", "libiolite_runtime.so.0"):
        paths = sorted({l.split()[-1] for l in maps if l.endswith(lib)})
        print("loaded", lib, *paths)
    """)


def clean_env():
    env = dict(os.environ)
    for var in ("PYTHONPATH", "IOLITE_LIB_DIR", "IOLITE_BUILD_DIR"):
        env.pop(var, None)
    return env


def run(args, **kwargs):
    proc = subprocess.run([str(a) for a in args], capture_output=True,
                          text=True, **kwargs)
    assert proc.returncode == 0, f"{args}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def check_smoke(output, root):
    """The package and both libraries came from under `root`."""
    root = str(Path(root).resolve())
    package = re.search(r"^package (.*)$", output, re.M).group(1)
    assert package.startswith(root), output
    loaded = re.findall(r"^loaded (\S+) (.*)$", output, re.M)
    assert [lib for lib, _ in loaded] == ["libIoliteCAPI.so",
                                          "libiolite_runtime.so.0"]
    for lib, paths in loaded:
        assert paths and all(p.startswith(root) for p in paths.split()), \
            output
    assert re.search(r"^version \d+\.\d+\.\d+$", output, re.M)


def cache_value(name):
    text = (BUILD / "CMakeCache.txt").read_text()
    return re.search(rf"^{name}:\w+=(.*)$", text, re.M).group(1)


def test_cmake_install(tmp_path):
    prefix = tmp_path / "prefix"
    run(["cmake", "--install", BUILD, "--prefix", prefix])
    site = prefix / cache_value("IOLITE_PYTHON_INSTALL_DIR")
    assert (site / "iolite" / "_lib" / "libIoliteCAPI.so").exists()
    env = clean_env()
    env["PYTHONPATH"] = str(site)
    output = run([sys.executable, "-c", SMOKE], cwd=tmp_path, env=env)
    check_smoke(output, site)


def test_pip_wheel_in_a_virtual_environment(tmp_path):
    pytest.importorskip("wheel")
    pytest.importorskip("setuptools")
    # Build from a copy: pip builds in place and would leave build/ and
    # egg-info behind in the build tree.
    source = tmp_path / "source"
    shutil.copytree(BUILD / "python", source,
                    ignore=shutil.ignore_patterns("CMakeFiles", "*.cmake",
                                                  "__pycache__"))
    venv = tmp_path / "venv"
    run([sys.executable, "-m", "venv", "--system-site-packages", venv])
    pip = [venv / "bin" / "python", "-m", "pip", "--disable-pip-version-check",
           "--no-cache-dir"]
    env = clean_env()
    run(pip + ["wheel", "--no-index", "--no-build-isolation", "--no-deps",
               "-w", tmp_path / "wheels", source], env=env, cwd=tmp_path)
    wheels = list((tmp_path / "wheels").glob("iolite-*.whl"))
    assert len(wheels) == 1
    # Platform-specific: it carries shared libraries.
    assert not wheels[0].name.endswith("-none-any.whl"), wheels[0].name
    run(pip + ["install", "--no-index", "--no-deps", wheels[0]], env=env,
        cwd=tmp_path)
    output = run([venv / "bin" / "python", "-c", SMOKE], cwd=tmp_path,
                 env=env)
    check_smoke(output, venv)
