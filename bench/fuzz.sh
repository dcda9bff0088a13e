#!/usr/bin/env bash
#===- fuzz.sh - Run Iolite's libFuzzer targets ----------------------------===#
#
# bench/fuzz.sh [--time=SECONDS] [--targets=mlir,onnx,npy,bundle] [--jobs=N]
#               [--cache=DIR] [--keep-going] [--no-build]
#
# Builds the fuzz build if needed (build-fuzz, or $IOLITE_FUZZ_BUILD_DIR:
# IOLITE_ENABLE_FUZZERS=ON, libFuzzer + ASan + UBSan), writes the seed
# corpora and dictionaries (tools/fuzz/make_corpora.py), and runs each target
# for --time seconds (default 60), --jobs targets at a time (default 1).
#
# Everything stays under the cache folder (default bench/.cache/fuzz, not in
# git): CACHE/TARGET/corpus is the corpus each run grows and the next one
# starts from, CACHE/TARGET/artifacts holds crash-*, timeout-*, oom-* and
# leak-* reproducers, CACHE/TARGET/fuzz.log the fuzzer's output.
# CACHE/summary.json and CACHE/summary.md give per target: wall and CPU
# seconds, executions, coverage (libFuzzer's cov and ft), corpus size and
# the reproducers found.
#
# --keep-going (long runs) runs libFuzzer's fork mode, which records a
# reproducer and carries on instead of stopping at the first finding.
#
# Exit status: 0 when no target found anything, 1 when one crashed (each
# reproducer and the command that replays it are printed), 2 on a usage or
# build error.
#
#===----------------------------------------------------------------------===#
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BUILD_DIR="${IOLITE_FUZZ_BUILD_DIR:-$ROOT/build-fuzz}"
CACHE="$ROOT/bench/.cache/fuzz"
TIME=60
TARGETS="mlir,onnx,npy,bundle"
JOBS=1
BUILD=1
KEEP_GOING=()

usage() { sed -n '3,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }
for arg in "$@"; do
  case "$arg" in
    --time=*) TIME="${arg#*=}" ;;
    --targets=*) TARGETS="${arg#*=}" ;;
    --jobs=*) JOBS="${arg#*=}" ;;
    --cache=*) CACHE="${arg#*=}" ;;
    --no-build) BUILD=0 ;;
    --keep-going)
      KEEP_GOING=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1) ;;
    -h|--help) usage ;;
    *) echo "fuzz.sh: unknown argument '$arg'" >&2; usage ;;
  esac
done
[[ "$TIME" =~ ^[0-9]+$ && "$JOBS" =~ ^[1-9][0-9]*$ ]] || usage
IFS=, read -r -a TARGET_LIST <<< "$TARGETS"
for t in "${TARGET_LIST[@]}"; do
  case "$t" in mlir|onnx|npy|bundle) ;; *)
    echo "fuzz.sh: unknown target '$t' (mlir, onnx, npy, bundle)" >&2; exit 2 ;;
  esac
done
mkdir -p "$CACHE"
CACHE="$(cd "$CACHE" && pwd)"

if [ "$BUILD" = 1 ]; then
  BUILD_DIR="$BUILD_DIR" \
  IOLITE_CMAKE_ARGS="-DIOLITE_ENABLE_FUZZERS=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo" \
    "$ROOT/tools/build.sh" --target iolite-fuzzers || exit 2
fi

# Seeds are regenerated from the tests on every run (cheap); the grown
# corpus is kept.
SEEDS="$CACHE/seeds"
rm -rf "$SEEDS"
/usr/bin/python3 "$ROOT/tools/fuzz/make_corpora.py" "$SEEDS" \
  --targets="$TARGETS" >/dev/null || exit 2

# LSan stays on: every target is a library entry point that tools and the
# Python package call many times in one process, so a per-input leak is a
# bug. UBSan findings are fatal (the build uses -fno-sanitize-recover).
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:detect_stack_use_after_return=0:symbolize=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"

run_target() {
  local t="$1" dir="$CACHE/$1"
  local bin="$BUILD_DIR/bin/iolite-$t-fuzzer"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  local start end
  start=$(date +%s)
  # -rss_limit_mb and -timeout turn runaway inputs into oom-/timeout-
  # reproducers; -max_len covers the largest seeds.
  /usr/bin/time -f '%e %U %S' -o "$dir/time.txt" \
    "$bin" "$dir/corpus" "$SEEDS/$t/seeds" \
    -dict="$SEEDS/$t.dict" -max_total_time="$TIME" -timeout=25 \
    -rss_limit_mb=2560 -malloc_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$dir/artifacts/" -print_final_stats=1 \
    ${KEEP_GOING[@]+"${KEEP_GOING[@]}"} \
    >"$dir/fuzz.log" 2>&1 && echo 0 >"$dir/rc" || echo $? >"$dir/rc"
  end=$(date +%s)
  echo "$start $end" >"$dir/wall.txt"
}

# --jobs targets at a time.
running=0
for t in "${TARGET_LIST[@]}"; do
  echo "fuzz.sh: $t for ${TIME}s ..."
  rm -f "$CACHE/$t/rc"
  run_target "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$JOBS" ]; then
    wait -n || true
    running=$((running - 1))
  fi
done
wait || true

/usr/bin/python3 - "$CACHE" "$TIME" "${TARGET_LIST[@]}" <<'EOF'
import glob, json, os, re, sys
cache, budget, targets = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
rows, failed = [], False
for t in targets:
    d = os.path.join(cache, t)
    log = open(os.path.join(d, "fuzz.log"), errors="replace").read()
    rc = int(open(os.path.join(d, "rc")).read().split()[0])
    stat = lambda k: int((re.findall(r"stat::%s:\s+(\d+)" % k, log) or [0])[-1])
    cov = re.findall(r"\bcov: (\d+) ft: (\d+)", log)
    wall, user, sys_ = (open(os.path.join(d, "time.txt")).read().split()[-3:]
                        if os.path.exists(os.path.join(d, "time.txt"))
                        else ("0", "0", "0"))
    corpus = glob.glob(os.path.join(d, "corpus", "*"))
    found = sorted(glob.glob(os.path.join(d, "artifacts", "*")))
    row = {"target": t, "budget_s": budget, "wall_s": float(wall),
           "cpu_s": round(float(user) + float(sys_), 1),
           # Fork mode prints no final stats: its last "#N: cov:" line.
           "executions": stat("number_of_executed_units") or int(
               (re.findall(r"#(\d+):? +cov:", log) or [0])[-1]),
           "execs_per_s": stat("average_exec_per_sec"),
           "cov": int(cov[-1][0]) if cov else 0,
           "ft": int(cov[-1][1]) if cov else 0,
           # libFuzzer's corpus (seeds that add coverage included) and the
           # files this run and earlier ones added to CACHE/TARGET/corpus.
           "corpus_units": int((re.findall(r"corp: (\d+)", log) or [0])[-1]),
           "corpus_files": len(corpus),
           "corpus_bytes": sum(os.path.getsize(p) for p in corpus),
           "peak_rss_mb": stat("peak_rss_mb"), "exit_status": rc,
           "reproducers": found}
    if not row["execs_per_s"] and row["wall_s"]:
        row["execs_per_s"] = int(row["executions"] / row["wall_s"])
    rows.append(row)
    if rc != 0 or found:
        failed = True
json.dump(rows, open(os.path.join(cache, "summary.json"), "w"), indent=2)
with open(os.path.join(cache, "summary.md"), "w") as f:
    f.write("| target | wall s | CPU s | executions | exec/s | cov | ft | "
            "corpus units | grown files | grown KiB | reproducers |\n")
    f.write("|---|---|---|---|---|---|---|---|---|---|---|\n")
    for r in rows:
        f.write("| %s | %.0f | %.0f | %d | %d | %d | %d | %d | %d | %d | %d |\n" % (
            r["target"], r["wall_s"], r["cpu_s"], r["executions"],
            r["execs_per_s"], r["cov"], r["ft"], r["corpus_units"],
            r["corpus_files"],
            r["corpus_bytes"] // 1024, len(r["reproducers"])))
print(open(os.path.join(cache, "summary.md")).read(), end="")
for r in rows:
    if r["exit_status"] != 0 and not r["reproducers"]:
        print("fuzz.sh: %s exited with %d and left no reproducer: see %s"
              % (r["target"], r["exit_status"],
                 os.path.join(cache, r["target"], "fuzz.log")))
    for p in r["reproducers"]:
        print("fuzz.sh: %s found %s\n  replay: iolite-%s-fuzzer %s" %
              (r["target"], p, r["target"], p))
    if r["exit_status"] != 0:
        # The sanitizer's report and the input (base64), for a log that
        # outlives the machine (CI).
        log = open(os.path.join(cache, r["target"], "fuzz.log"),
                   errors="replace").read().splitlines()
        first = next((i for i, l in enumerate(log)
                      if re.search(r"ERROR: |runtime error: |==\d+== ", l)),
                     max(0, len(log) - 40))
        print("fuzz.sh: %s's report:\n%s" %
              (r["target"], "\n".join("  " + l for l in log[first:first + 60])))
sys.exit(1 if failed else 0)
EOF
