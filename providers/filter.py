"""Matching certificates against the DESIGN ``filter`` — implemented once, here.

Every criterion that is set must hold (they are ANDed); an unset criterion matches all.

* ``keyUsage``: ``"sign"`` / ``"auth"`` ask :meth:`CertInfo.serves` (see
  :mod:`tanba.providers.certificate` for how purpose is decided).
* ``extKeyUsage``: every given OID is present among the certificate's extended key usages
  *or* its certificate policies — NCALayer's ``extKeyUsageOids`` mixes both (the KZ
  individual / organisation marks 1.2.398.3.3.4.1.1 / .2 are policies).  clientAuth and
  emailProtection also match a key that serves ``auth`` / ``sign`` without listing them: a
  portal's login filter ``[clientAuth]`` finds NCA's one-key-per-person GOST keys.
* ``iin`` / ``bin``: equal to the 12 digits read from the subject.
* ``personalNumber`` / ``unp`` (Belarus): equal to the subject's, case-insensitively.
* ``serialNumber``: hexadecimal, compared case-insensitively with leading zeros ignored.
* ``issuer``: case-insensitive; matches when it equals the issuer's CN or is a substring of
  the issuer's RFC 4514 DN (so ``"TANBA TEST INTERMEDIATE CA"`` and ``"O=Example"`` both work).
* ``validOnly`` (default true): a certificate outside notBefore..notAfter at ``now`` is
  left out.  Revocation is not checked here (that needs the network; ``verify`` does it).
* ``storages``: the identity's storage name is one of them (exact, case-sensitive: storage
  names are identifiers such as ``PKCS12`` and ``AKKaztokenStore``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from tanba.protocol.methods.filter import CertFilter
from tanba.providers.base import Identity
from tanba.providers.certificate import OID_CLIENT_AUTH, OID_EMAIL_PROTECTION, CertInfo, cert_info, normalize_serial

_EKU_OF = {"auth": OID_CLIENT_AUTH, "sign": OID_EMAIL_PROTECTION}


def matches(f: CertFilter, info: CertInfo, now: dt.datetime) -> bool:
    """True when ``info`` passes every criterion set in ``f`` at time ``now`` (aware)."""
    if f.storages is not None and info.storage not in f.storages:
        return False
    if f.valid_only and not info.is_valid(now):
        return False
    if f.key_usage is not None and not info.serves(f.key_usage):
        return False
    if f.ext_key_usage:
        present = set(info.ext_key_usage) | set(info.policies)
        present |= {_EKU_OF[p] for p in info.purposes}
        if not present.issuperset(f.ext_key_usage):
            return False
    if f.iin is not None and info.iin != f.iin:
        return False
    if f.bin is not None and info.bin != f.bin:
        return False
    if f.personal_number is not None and info.personal_number != f.personal_number.upper():
        return False
    if f.unp is not None and info.unp != f.unp.upper():
        return False
    if f.serial_number is not None and normalize_serial(f.serial_number) != info.serial_number:
        return False
    if f.issuer is not None:
        wanted = f.issuer.casefold()
        cn = (info.issuer_cn or "").casefold()
        if wanted != cn and wanted not in info.issuer.casefold():
            return False
    return True


def select(identities: Iterable[Identity], f: CertFilter, now: dt.datetime) -> list[Identity]:
    """The identities whose certificate matches ``f`` at ``now``, in the given order."""
    return [identity for identity in identities if matches(f, cert_info(identity), now)]
