"""pip install BUILD/python: a wheel of the built package.

Run from the build tree's copy (BUILD/python), where iolite/_lib holds the
shared libraries the build made; the wheel is platform-specific because of
them. Building needs setuptools and wheel (Debian: python3-setuptools,
python3-wheel); use --no-build-isolation to build offline with them.
"""

import re
from pathlib import Path

from setuptools import setup
from setuptools.dist import Distribution

here = Path(__file__).resolve().parent
libs = sorted(p.name for p in (here / "iolite" / "_lib").glob("*.so*"))
if "libIoliteCAPI.so" not in libs:
    raise SystemExit("iolite/_lib has no libIoliteCAPI.so: pip install the "
                     "build tree's copy (BUILD/python), after building")
version = re.search(r'__version__ = "([^"]+)"',
                    (here / "iolite" / "_version.py").read_text()).group(1)


class BinaryDistribution(Distribution):
    """The package carries shared libraries: not a pure-Python wheel."""

    def has_ext_modules(self):
        return True


setup(
    name="iolite",
    version=version,
    description="Iolite: build, import, compile and run models from Python",
    packages=["iolite"],
    package_data={"iolite": [f"_lib/{name}" for name in libs]},
    python_requires=">=3.9",
    install_requires=["numpy"],
    extras_require={"torch": ["torch"]},
    distclass=BinaryDistribution,
    zip_safe=False,
)
