"""OpenSSL with Debian's gost engine (`libengine-gost-openssl`): the tests' independent GOST oracle.

Never a runtime dependency of Tanba: only tests run it, through :func:`openssl`, with an engine
config file of their own (``OPENSSL_CONF``), so the machine's OpenSSL set-up is not touched.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ENGINE = Path("/usr/lib/x86_64-linux-gnu/engines-3/gost.so")

CONFIG = f"""openssl_conf = openssl_def
[openssl_def]
engines = engine_section
[engine_section]
gost = gost_section
[gost_section]
engine_id = gost
dynamic_path = {ENGINE}
default_algorithms = ALL
"""


def config(directory: Path) -> Path:
    """Write the engine config into ``directory`` (once) and return its path."""
    path = directory / "openssl-gost.cnf"
    if not path.exists():
        path.write_text(CONFIG)
    return path


def openssl(directory: Path, *args: str, check: bool = True, input: bytes | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    """Run ``openssl args`` in ``directory`` with the gost engine loaded."""
    env = dict(os.environ, OPENSSL_CONF=str(config(directory)))
    result = subprocess.run(["openssl", *args], cwd=directory, env=env, input=input,
                            capture_output=True, check=False, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"openssl {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
    return result
