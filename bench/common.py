"""Paths, tool invocation, measurement of child processes and the result
cache shared by the benchmark sections."""

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BENCH = REPO / "bench"
WORK = BENCH / ".work"
CACHE = BENCH / ".cache"
VENV_PYTHON = BENCH / ".venv" / "bin" / "python"


def build_dir():
    return Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))


def tool(name):
    path = build_dir() / "bin" / name
    if not path.exists():
        raise FileNotFoundError(f"{path} not built (tools/build.sh)")
    return str(path)


def log(*args):
    print(*args, file=sys.stderr, flush=True)


class ToolError(Exception):
    pass


def run(cmd, cwd=None, env=None, check=True, timeout=None):
    """Runs a command; returns (stdout, stderr, seconds, returncode)."""
    start = time.perf_counter()
    try:
        proc = subprocess.run([str(c) for c in cmd], cwd=cwd, env=env,
                              capture_output=True, text=True,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ToolError(f"timed out after {timeout} s: "
                        f"{' '.join(map(str, cmd))}")
    seconds = time.perf_counter() - start
    if check and proc.returncode != 0:
        raise ToolError(f"{' '.join(map(str, cmd))} failed "
                        f"(exit {proc.returncode}):\n"
                        f"{proc.stderr.strip()[-4000:]}")
    return proc.stdout, proc.stderr, seconds, proc.returncode


def run_measured(cmd, cwd=None, env=None):
    """Runs `cmd` and measures it alone: wall seconds, the peak resident
    memory of the process tree (KiB) from wait4, and the exit status."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    # Read the pipes on threads so a chatty child cannot block.
    import threading
    chunks = {1: [], 2: []}

    def pump(stream, key):
        for block in iter(lambda: stream.read(65536), b""):
            chunks[key].append(block)

    threads = [threading.Thread(target=pump, args=(proc.stdout, 1)),
               threading.Thread(target=pump, args=(proc.stderr, 2))]
    for th in threads:
        th.start()
    _, status, usage = os.wait4(proc.pid, 0)
    seconds = time.perf_counter() - start
    for th in threads:
        th.join()
    proc.returncode = os.waitstatus_to_exitcode(status)
    out = b"".join(chunks[1]).decode(errors="replace")
    err = b"".join(chunks[2]).decode(errors="replace")
    return {"stdout": out, "stderr": err, "seconds": seconds,
            "max_rss_kib": usage.ru_maxrss, "user_s": usage.ru_utime,
            "sys_s": usage.ru_stime, "returncode": proc.returncode}


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class Cache:
    """Results keyed by everything that determines them (for the emulator,
    io_traffic.emulate: the model text, the compiler binaries, the options,
    every file of the compiled bundle and the runtime library whose
    emulator does the counting), so that a rerun after an unrelated change
    re-emulates nothing and a change to any input is always re-measured.
    With `reuse=False` (--no-cache) earlier runs' entries are ignored; a
    measurement with the same key within one run is still made once."""

    def __init__(self, name, reuse=True):
        self.path = CACHE / f"{name}.json"
        self.data = {}
        if reuse and self.path.exists():
            try:
                self.data = json.loads(self.path.read_text())
            except json.JSONDecodeError:
                self.data = {}

    def get(self, key):
        return self.data.get(key)

    def put(self, key, value):
        self.data[key] = value
        CACHE.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data))
        tmp.replace(self.path)


_PROVENANCE = None


def provenance():
    """When and at which commit this run measures: stored in every result
    row (a reused row keeps the provenance of the run that counted it).
    `dirty`: tracked files differ from the commit; the files the benchmark
    itself writes (docs/perf.md, docs/perf/) do not count, so a rerun of
    one section after another is not marked dirty by the first's output."""
    global _PROVENANCE
    if _PROVENANCE is None:
        head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
        status = subprocess.run(["git", "-C", str(REPO), "status",
                                 "--porcelain", "--untracked-files=no", "--",
                                 ".", ":(exclude)docs/perf.md",
                                 ":(exclude)docs/perf"],
                                capture_output=True, text=True).stdout
        _PROVENANCE = {"commit": head or "unknown",
                       "dirty": bool(status.strip()),
                       "date": datetime.now(timezone.utc).strftime(
                           "%Y-%m-%d %H:%M UTC")}
    return dict(_PROVENANCE)


_HASHES = {}


def sha256_tool(path):
    """sha256 of a built binary or library, once per run."""
    path = str(path)
    if path not in _HASHES:
        _HASHES[path] = sha256_file(path) if os.path.exists(path) else \
            "missing"
    return _HASHES[path]


def sha256_tree(folder):
    """sha256 over every file under `folder` (names and contents)."""
    h = hashlib.sha256()
    folder = Path(folder)
    for f in sorted(p for p in folder.rglob("*") if p.is_file()):
        h.update(str(f.relative_to(folder)).encode() + b"\0")
        h.update(sha256_file(f).encode())
    return h.hexdigest()


def _read(path):
    try:
        return Path(path).read_text()
    except OSError:
        return ""


def find_ptxas():
    """The ptxas Iolite uses: the CUDA toolkit's, else the one
    tools/setup.sh installs from PyPI into /opt/iolite/cuda."""
    for p in ("/usr/local/cuda/bin/ptxas", "/opt/iolite/cuda/bin/ptxas"):
        if os.path.exists(p):
            return p
    return shutil.which("ptxas") or "ptxas"


def machine_stamp():
    """What the numbers were measured on."""
    cpu = ""
    for line in _read("/proc/cpuinfo").splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kib = 0
    m = re.search(r"MemTotal:\s+(\d+)", _read("/proc/meminfo"))
    if m:
        mem_kib = int(m.group(1))
    osname = ""
    m = re.search(r'PRETTY_NAME="([^"]+)"', _read("/etc/os-release"))
    if m:
        osname = m.group(1)
    prov = provenance()
    ptxas = subprocess.run([find_ptxas(), "--version"],
                           capture_output=True, text=True).stdout
    m = re.search(r"release ([\d.]+)", ptxas)
    return {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "host": platform.node(),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / (1 << 20), 1),
        "os": osname,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "commit": prov["commit"],
        "dirty": prov["dirty"],
        "ptxas": m.group(1) if m else "not found",
        "load_average": os.getloadavg(),
    }
