"""pytest set-up: the project's fail-closed skip policy (test/skip_policy.py):
a skip not in test/skip-allowlist.txt fails, and so does a run in which no
test passed."""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parents[1]))

from skip_policy import (pytest_configure, pytest_make_collect_report,  # noqa: E402,F401
                         pytest_runtest_logreport, pytest_runtest_makereport,
                         pytest_sessionfinish)
