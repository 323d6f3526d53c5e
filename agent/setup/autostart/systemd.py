"""The systemd user unit (``~/.config/systemd/user/tanba.service``).

Hardening, each checked against what the agent needs — Python, the PKCS#11 modules it
loads in-process (vendor ``.so`` files), USB tokens and pcscd:

``NoNewPrivileges``
    nothing the agent runs needs setuid (pcscd is reached over its socket).
``ProtectSystem=strict`` + ``ReadWritePaths`` config and state dirs
    everything else read-only: key files and modules stay readable, only Tanba's own
    files (approvals, token, log, TLS) are written.  A vendor module that writes elsewhere
    (some keep caches in ``$HOME``) needs a drop-in: ``systemctl --user edit tanba`` with
    ``ReadWritePaths=/that/dir``.
``PrivateTmp``
    the agent shares nothing through /tmp; pcscd's socket lives in /run.
``RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK``
    UNIX for pcscd and the journal, INET/INET6 to listen on loopback and reach TSA/OCSP,
    NETLINK because libusb (used by vendor modules that talk to USB directly) enumerates
    devices through udev's netlink socket.
``LockPersonality``, ``RestrictRealtime``, ``RestrictSUIDSGID``, ``RestrictNamespaces``,
``SystemCallArchitectures=native``, ``ProtectKernelTunables``, ``ProtectKernelModules``,
``ProtectControlGroups``, ``ProtectHostname``
    none of it is used by the agent or a PKCS#11 module.
``MemoryDenyWriteExecute``
    CPython has no JIT here; ctypes/libffi callbacks use static trampolines; tested with
    the kernel's equivalent (``PR_SET_MDWE``) on SoftHSM and PKCS#12 signing.  A packed
    vendor module that unpacks itself into executable memory would fail: a drop-in with
    ``MemoryDenyWriteExecute=no`` lifts it.
``SystemCallFilter=@system-service ~@privileged @resources`` with ``SystemCallErrorNumber=EPERM``
    a call outside the set fails instead of killing the agent.
``ProtectKernelLogs``, ``ProtectProc=invisible``, ``PrivateMounts``, ``KeyringMode=private``
    the agent reads no kernel log, no other process, mounts nothing, uses no kernel keyring.
``CapabilityBoundingSet=`` / ``AmbientCapabilities=`` (empty)
    a user service has no capabilities anyway; saying so keeps it true if the unit is
    ever copied to a system unit with ``User=``.

Left out on purpose: ``PrivateDevices`` and ``DeviceAllow``/``ProtectClock`` (they hide or
fence ``/dev/bus/usb`` and card readers some vendor modules open directly),
``ProtectHome`` (PKCS#12 files live in the home directory), ``PrivateNetwork`` (it is a
network server), ``ProcSubset=pid`` (vendor modules may read /proc/cpuinfo and the like).  In a user unit the namespace options imply ``PrivateUsers``; a kernel
without unprivileged user namespaces makes the unit fail to start — `tanba service status`
then shows the reason and a drop-in can turn them off.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

from tanba.agent.setup.autostart import NAME, ServiceSpec

UNIT_NAME: Final = f"{NAME}.service"

HARDENING: Final = (
    ("NoNewPrivileges", "yes"),
    ("ProtectSystem", "strict"),
    ("PrivateTmp", "yes"),
    ("RestrictAddressFamilies", "AF_UNIX AF_INET AF_INET6 AF_NETLINK"),
    ("LockPersonality", "yes"),
    ("MemoryDenyWriteExecute", "yes"),
    ("RestrictRealtime", "yes"),
    ("RestrictSUIDSGID", "yes"),
    ("RestrictNamespaces", "yes"),
    ("SystemCallArchitectures", "native"),
    ("SystemCallFilter", "@system-service"),
    ("SystemCallFilter", "~@privileged @resources"),
    ("SystemCallErrorNumber", "EPERM"),
    ("ProtectKernelTunables", "yes"),
    ("ProtectKernelModules", "yes"),
    ("ProtectKernelLogs", "yes"),
    ("ProtectControlGroups", "yes"),
    ("ProtectHostname", "yes"),
    ("ProtectProc", "invisible"),
    ("PrivateMounts", "yes"),
    ("KeyringMode", "private"),
    ("CapabilityBoundingSet", ""),
    ("AmbientCapabilities", ""),
)


def quote(word: str, dollar: bool = True) -> str:
    """One word as systemd reads it: quotes, backslashes and % escaped, and $ too where
    systemd would expand variables (``dollar``: Exec arguments, not the program path)."""
    escaped = word.replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    if dollar:
        escaped = escaped.replace("$", "$$")
    if escaped and not any(c in escaped for c in " \t\"'\\;"):
        return escaped
    return f'"{escaped}"'


def _path(path: Path) -> str:
    return quote(str(path), dollar=False)


def unit_text(spec: ServiceSpec) -> str:
    env = {"PYTHONUNBUFFERED": "1", **spec.environment}
    lines = [
        "# Written by `tanba service install`; `tanba service uninstall` removes it.",
        "[Unit]",
        f"Description={spec.description.replace('%', '%%')}",
        "StartLimitIntervalSec=60",
        "StartLimitBurst=5",
        "",
        "[Service]",
        "Type=notify",
        "NotifyAccess=main",
        "ExecStart=" + " ".join([quote(spec.command[0], dollar=False), *(quote(w) for w in spec.command[1:])]),
        "ExecReload=/bin/kill -HUP $MAINPID",
        "Restart=on-failure",
        "RestartSec=2",
        "TimeoutStopSec=30",
        "UMask=0077",
        *(f"Environment={quote(f'{k}={v}', dollar=False)}" for k, v in sorted(env.items())),
        "",
        "# Hardening: see tanba/agent/setup/autostart/systemd.py for why each fits (and what needs a drop-in).",
        *(f"{key}={value}" for key, value in HARDENING),
        f"ReadWritePaths=-{_path(spec.config_dir)} -{_path(spec.state_dir)}",
        "",
        "[Install]",
        "WantedBy=default.target",
        "",
    ]
    return "\n".join(lines)
