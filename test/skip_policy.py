"""Fail-closed pytest policy for every pytest run of the project.

Loaded by the conftest.py of test/python, test/bench and python/tests (the
folders CTest runs pytest on). A skipped test passes CI silently, so:

- a skip (pytest.skip, skipif, importorskip, at collection or in a test)
  fails unless test/skip-allowlist.txt lists its file and exact reason;
- a run in which no test passed (nothing collected, or all skipped) fails.

test/skip-allowlist.txt: one entry per line, `FILE | REASON | WHY`: FILE is
the test file's name, REASON the skip message exactly as pytest.skip was
given it, WHY why that skip is legitimate. `#` starts a comment line. A
malformed entry is an error, not an ignored line.
"""

from pathlib import Path

import pytest

ALLOWLIST = Path(__file__).resolve().parent / "skip-allowlist.txt"


def read_allowlist(path=ALLOWLIST):
    """{(file name, reason): why} from the allow-list; raises on a
    malformed line."""
    entries = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split(" | ")]
        if len(fields) != 3 or not all(fields):
            raise ValueError(f"{path}:{n}: expected 'FILE | REASON | WHY', "
                             f"got {line!r}")
        entries[(fields[0], fields[1])] = fields[2]
    return entries


def skip_reason(report):
    """The message a skipped report carries ('Skipped: ' stripped)."""
    longrepr = report.longrepr
    reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
    return reason[len("Skipped: "):] if reason.startswith(
        "Skipped: ") else reason


def enforce(report):
    """Turns `report`, if it is a skip the allow-list does not name, into a
    failure that says so."""
    if not report.skipped or hasattr(report, "wasxfail"):
        return
    reason = skip_reason(report)
    name = Path(report.nodeid.split("::")[0]).name
    if (name, reason) in read_allowlist():
        return
    report.outcome = "failed"
    report.longrepr = (
        f"{report.nodeid} skipped ({reason!r}) and "
        f"test/skip-allowlist.txt has no '{name} | {reason} | WHY' entry: "
        "a skip is a failure in CI (test/skip_policy.py)")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    enforce(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    enforce(outcome.get_result())


# Tests that passed in this session (the "call" phase).
_passed = [0]


def pytest_configure(config):
    _passed[0] = 0
    read_allowlist()  # a malformed allow-list stops the run


def pytest_runtest_logreport(report):
    if report.when == "call" and report.passed:
        _passed[0] += 1


def pytest_sessionfinish(session, exitstatus):
    if exitstatus == pytest.ExitCode.OK and _passed[0] == 0:
        session.config.get_terminal_writer().line(
            "\nno test passed (none collected or all skipped): a run that "
            "checks nothing fails (test/skip_policy.py)", red=True)
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
