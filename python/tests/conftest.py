"""pytest set-up for the iolite package's tests.

`import iolite` must find the build tree's package (BUILD/python, with its
_lib folder), not the sources: CTest sets PYTHONPATH; run by hand, the build
is $IOLITE_BUILD_DIR or <repo>/build. test/python holds the project's one
tolerance helper (iolite_testing.py).
"""

import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BUILD = Path(os.environ.get("IOLITE_BUILD_DIR", REPO / "build"))

for path in (Path(__file__).resolve().parent, REPO / "test" / "python",
             BUILD / "python"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))

# The project's fail-closed skip policy (test/skip_policy.py): a skip not in
# test/skip-allowlist.txt fails, and so does a run in which no test passed.
sys.path.append(str(REPO / "test"))
from skip_policy import (pytest_configure, pytest_make_collect_report,  # noqa: E402,F401
                         pytest_runtest_logreport, pytest_runtest_makereport,
                         pytest_sessionfinish)
