"""Build configuration that pyproject.toml cannot express: the optional C extension.

Everything else (metadata, packages, package-dir) is in pyproject.toml; setuptools merges the
two.  ``tanba.crypto._speedups`` (crypto/_speedups.c: the Streebog, GOST R 34.11-94 and
belt-hash compression functions) is built when a C compiler and the Python headers are present.
``optional=True`` turns a failed build into a warning, and Tanba then runs its pure-Python hashes
(tanba.crypto.accel says which path is in use).
"""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tanba.crypto._speedups", ["crypto/_speedups.c"], optional=True),
                   Extension("tanba.crypto._ecspeed", ["crypto/_ecspeed.c"], optional=True)])
