"""The handler table is the one lazy boundary of the request path."""

from __future__ import annotations

import subprocess
import sys

from tanba.agent.handlers import NATIVE_MODULES, NCALAYER_MODULES, ncalayer_handler, table
from tanba.protocol import ncalayer

PROBE = """
import sys
from tanba.agent.handlers import table
from tanba.agent.transport import server  # what `tanba serve` imports to listen
t = table()
heavy = ('lxml', 'signxml', 'pyhanko_certvalidator', 'tanba.agent.formats.cms', 'tanba.agent.verify.cms')
print(sorted(m for m in heavy if m in sys.modules))
t['verify']
print(sorted(m for m in heavy if m in sys.modules))
"""


def test_the_server_starts_without_the_formats_and_a_method_loads_them_on_first_use() -> None:
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=60)
    before, after = out.stdout.splitlines()
    assert before == "[]"
    assert "tanba.agent.verify.cms" in after and "pyhanko_certvalidator" in after


def test_every_method_and_ncalayer_module_is_there() -> None:
    methods = table()
    assert sorted(methods) == sorted(NATIVE_MODULES)
    assert all(methods[name].name == name for name in NATIVE_MODULES)
    assert methods.get("nope") is None
    assert all(ncalayer_handler(m) is not None for m in NCALAYER_MODULES)
    assert ncalayer_handler("kz.digiflow.mobile.extensions") is None and ncalayer_handler(None) is None
    assert ncalayer.COMMON_UTILS in NCALAYER_MODULES
