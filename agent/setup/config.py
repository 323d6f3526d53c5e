"""Settings of `tanba serve`: a TOML file, overridden by command-line flags.

Every `serve` flag of DESIGN.md has a key of the same name in the file::

    host = "127.0.0.1"
    port = 13579
    p12 = ["~/keys/RSA256_123.p12"]
    pkcs11 = ["AKKaztokenStore=/usr/lib/libkztokenp11.so"]
    autodetect = true
    allow-origin = ["https://egov.kz"]
    tls = true
    approver = "tk"
    tsa-url = "http://tsp.pki.gov.kz"
    trust-anchor = ["/etc/tanba/root.pem"]
    intermediate = ["/etc/tanba/issuing-ca.pem"]
    fetch-issuers = true       # verify: fetch a missing issuing CA from the AIA caIssuers URL
    pin-file = "/run/kiosk/pin"
    locale = "ru"
    ipv6 = false
    unlock-window = 0          # minutes a key stays unlocked for the site that used it

    [limits]
    max-message = 67108864
    max-connections = 64       # upgraded WebSockets in all
    max-per-origin = 16        # ... of one web origin
    max-local-programs = 16    # ... of local programs (no Origin), together
    max-pending = 128          # connections not yet upgraded
    header-timeout = 2         # seconds to send the request headers
    handshake-timeout = 10     # seconds for the whole opening handshake

    [bign-pkcs11]              # only for tokens with Belarusian bign keys (STB 34.101.45)
    mechanism = 0x80000001     # the module's CKM for bign-256 signing of a belt-hash digest
    key-type = 0x80000002      # the module's CKK of bign private keys

bign has no public PKCS#11 numbers: each vendor defines its own, so Tanba guesses none.
``[bign-pkcs11]`` gives the numbers from the token vendor's PKCS#11 documentation to every
PKCS#11 module Tanba opens; both keys are required, and both must be vendor-defined
(0x80000000 to 0xffffffff, TOML writes them in hex as above).  Without the table bign keys
on tokens are listed but cannot sign.  ``tanba sign``, ``certs`` and ``test-sign`` read this
table (and only it) from the same file (:func:`load_bign_pkcs11`).

``[limits]`` bounds what clients may take (DESIGN.md rule 7; docs/security.md, "Admission"):
``max-message``, ``max-depth``, ``max-values``, ``max-batch``, ``max-in-flight`` bound each
message and request; the rest bound connections.  A connection not yet upgraded has
``header-timeout`` seconds to send its request headers (with TLS, as many for the TLS
handshake first) and ``handshake-timeout`` for the whole handshake (the "allow this site?"
question extends it); at most ``max-pending`` are kept, and a newcomer pushes out the
oldest one still waiting for its headers.  Upgraded WebSockets are capped per origin
(``max-per-origin``), for local programs together (``max-local-programs``) and in all
(``max-connections``); over a cap a connection is closed with 1013 and a reason naming the
cap.  Counts are whole numbers of at least 1; timeouts are positive numbers of seconds.

Unknown keys and wrong types are errors that name the key: a typo in an administrator's
file must not silently weaken a setting.
"""

from __future__ import annotations

import dataclasses
import ipaddress
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from tanba.protocol.limits import Limits
from tanba.protocol.origin import normalize_origin
from tanba.providers.registry import BignPkcs11

APPROVERS: Final = ("tk", "terminal", "auto")
DEFAULT_PORT: Final = 13579


class ConfigError(Exception):
    """A setting is wrong; the message names it and says what is expected."""


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = DEFAULT_PORT
    ipv6: bool = False
    p12: tuple[Path, ...] = ()
    pkcs11: tuple[str, ...] = ()
    #: also offer the PKCS#11 modules found in the usual places (vendor tokens, OpenSC)
    autodetect: bool = True
    allow_origin: tuple[str, ...] = ()
    tls: bool | None = None  # None: wss when a local certificate is installed
    #: tk: the desktop dialogs when there is a display, else the terminal (and it says so)
    approver: str = "tk"
    tsa_url: str | None = None
    trust_anchor: tuple[Path, ...] = ()
    #: CA certificates (PEM) offered for chain building in verify, not trusted: national
    #: issuing CAs, which XML signatures (signer certificate only) do not carry
    intermediate: tuple[Path, ...] = ()
    #: verify: fetch an issuer that neither the signature nor ``intermediate`` holds from the
    #: certificate's AIA caIssuers URL (bounded like revocation fetching; docs/security.md)
    fetch_issuers: bool = True
    pin_file: Path | None = None
    locale: str | None = None
    #: minutes a key stays unlocked for the site that used it (0: ask the PIN every time)
    unlock_window: float = 0
    limits: Limits = field(default_factory=Limits)
    #: the PKCS#11 modules' vendor-defined bign numbers (``[bign-pkcs11]``); None: bign
    #: keys on tokens cannot sign
    bign_pkcs11: BignPkcs11 | None = None

    def __post_init__(self) -> None:
        try:
            if not ipaddress.ip_address(self.host).is_loopback:
                raise ConfigError(f"host: {self.host} is not a loopback address; Tanba listens on loopback only")
        except ValueError as exc:
            raise ConfigError(f"host: {self.host!r} must be a loopback IP address (127.0.0.1 or ::1)") from exc
        if not 0 <= self.port < 65536:
            raise ConfigError(f"port: {self.port} is out of range")
        if self.approver not in APPROVERS:
            raise ConfigError(f"approver: {self.approver!r} must be one of {', '.join(APPROVERS)}")
        for origin in self.allow_origin:
            if normalize_origin(origin) != origin:
                raise ConfigError(f"allow-origin: {origin!r} is not a web origin like https://portal.example")
        if self.pin_file is not None and self.approver != "auto":
            raise ConfigError("pin-file: only allowed with approver = auto")
        if self.approver == "auto" and self.pin_file is None:
            raise ConfigError("approver auto needs pin-file: it enters the PIN from that file")


# file key -> (Settings field, expected kind)
_KEYS: Final[dict[str, tuple[str, str]]] = {
    "host": ("host", "str"),
    "port": ("port", "int"),
    "ipv6": ("ipv6", "bool"),
    "p12": ("p12", "paths"),
    "pkcs11": ("pkcs11", "strs"),
    "autodetect": ("autodetect", "bool"),
    "allow-origin": ("allow_origin", "origins"),
    "tls": ("tls", "bool"),
    "approver": ("approver", "str"),
    "tsa-url": ("tsa_url", "str"),
    "trust-anchor": ("trust_anchor", "paths"),
    "intermediate": ("intermediate", "paths"),
    "fetch-issuers": ("fetch_issuers", "bool"),
    "pin-file": ("pin_file", "path"),
    "locale": ("locale", "str"),
    "unlock-window": ("unlock_window", "minutes"),
}
_LIMIT_KEYS: Final[dict[str, str]] = {
    "max-message": "max_message",
    "max-depth": "max_depth",
    "max-values": "max_values",
    "max-batch": "max_batch",
    "max-in-flight": "max_in_flight",
    "max-connections": "max_connections",
    "max-per-origin": "max_per_origin",
    "max-local-programs": "max_local_programs",
    "max-pending": "max_pending",
    "header-timeout": "header_timeout",
    "handshake-timeout": "handshake_timeout",
}


def _convert(key: str, kind: str, value: Any, base: Path) -> Any:
    def path(v: Any) -> Path:
        if not isinstance(v, str) or not v:
            raise ConfigError(f"{key}: expected a path string")
        p = Path(v).expanduser()
        return p if p.is_absolute() else base / p

    def strings(v: Any) -> tuple[str, ...]:
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(i, str) for i in v):
            raise ConfigError(f"{key}: expected a string or a list of strings")
        return tuple(v)

    if kind == "str":
        if not isinstance(value, str):
            raise ConfigError(f"{key}: expected a string")
        return value
    if kind == "int":
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{key}: expected an integer")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{key}: expected true or false")
        return value
    if kind == "minutes":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 24 * 60:
            raise ConfigError(f"{key}: expected minutes between 0 and 1440")
        return float(value)
    if kind == "path":
        return path(value)
    if kind == "paths":
        return tuple(path(v) for v in strings(value))
    if kind == "origins":
        return tuple(canonical_origin(v, key) for v in strings(value))
    return strings(value)


def canonical_origin(value: str, key: str = "allow-origin") -> str:
    origin = normalize_origin(value)
    if origin is None:
        raise ConfigError(f"{key}: {value!r} is not a web origin like https://portal.example")
    return origin


#: [bign-pkcs11] key -> BignPkcs11 field; every key is required
_BIGN_KEYS: Final[dict[str, str]] = {"mechanism": "mechanism", "key-type": "key_type"}
BIGN_TABLE: Final = "bign-pkcs11"


def parse_bign_pkcs11(value: Any) -> BignPkcs11:
    """The ``[bign-pkcs11]`` table; errors name the key (``bign-pkcs11.mechanism: ...``)."""
    if not isinstance(value, dict):
        raise ConfigError(f"{BIGN_TABLE}: expected a table")
    for key in value:
        if key not in _BIGN_KEYS:
            raise ConfigError(f"{BIGN_TABLE}.{key}: unknown setting")
    numbers: dict[str, int] = {}
    for key, name in _BIGN_KEYS.items():
        if key not in value:
            raise ConfigError(f"{BIGN_TABLE}.{key}: required (the module's vendor-defined number)")
        number = value[key]
        if isinstance(number, bool) or not isinstance(number, int):
            raise ConfigError(f"{BIGN_TABLE}.{key}: expected an integer, like 0x80000001")
        try:
            BignPkcs11(number, number)  # the range check, one number at a time
        except ValueError as exc:
            raise ConfigError(f"{BIGN_TABLE}.{key}: {str(exc).partition(': ')[2]}") from exc
        numbers[name] = number
    return BignPkcs11(**numbers)


def parse_config(data: Mapping[str, Any], base: Path) -> dict[str, Any]:
    """Turn a decoded TOML document into Settings keyword arguments."""
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key == "limits":
            if not isinstance(value, dict):
                raise ConfigError("limits: expected a table")
            limit_values: dict[str, Any] = {}
            for lkey, lvalue in value.items():
                if lkey not in _LIMIT_KEYS:
                    raise ConfigError(f"limits.{lkey}: unknown setting")
                if isinstance(lvalue, bool) or not isinstance(lvalue, (int, float)):
                    raise ConfigError(f"limits.{lkey}: expected a number")
                limit_values[_LIMIT_KEYS[lkey]] = lvalue
            try:
                values["limits"] = Limits(**limit_values)
            except (ValueError, TypeError) as exc:
                raise ConfigError(f"limits: {exc}") from exc
            continue
        if key == BIGN_TABLE:
            values["bign_pkcs11"] = parse_bign_pkcs11(value)
            continue
        if key not in _KEYS:
            raise ConfigError(f"{key}: unknown setting")
        name, kind = _KEYS[key]
        values[name] = _convert(key, kind, value, base)
    return values


def _read_toml(path: Path) -> dict[str, Any] | None:
    """The decoded file; None when it does not exist."""
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        return None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: not UTF-8 text (byte {exc.start})") from exc
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc


def load_file(path: Path) -> dict[str, Any]:
    data = _read_toml(path)
    if data is None:
        return {}
    try:
        return parse_config(data, path.parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def configured_bign_pkcs11() -> BignPkcs11 | None:
    """The ``[bign-pkcs11]`` table of the user's config file (``TANBA_CONFIG_DIR`` honoured),
    for the commands that build their stores without `serve`'s settings."""
    from tanba.agent.state import paths

    return load_bign_pkcs11(paths.config_file())


def load_bign_pkcs11(path: Path) -> BignPkcs11 | None:
    """Only the ``[bign-pkcs11]`` table of the config file (what the one-shot commands
    need of it; the other keys are `serve`'s).  None without the file or the table."""
    data = _read_toml(path)
    if data is None or BIGN_TABLE not in data:
        return None
    try:
        return parse_bign_pkcs11(data[BIGN_TABLE])
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def build_settings(file_values: Mapping[str, Any], overrides: Mapping[str, Any]) -> Settings:
    """File values, then flags on top (flags given as None / empty are not set)."""
    merged = dict(file_values)
    for name, value in overrides.items():
        if value is None or value == ():
            continue
        merged[name] = value
    known = {f.name for f in dataclasses.fields(Settings)}
    unknown = merged.keys() - known
    if unknown:
        raise ConfigError(f"unknown setting {sorted(unknown)[0]}")
    return Settings(**merged)
