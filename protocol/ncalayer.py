"""The NCALayer wire (endpoint ``/``), pure: envelopes in, response shapes out.

Portal code written for Kazakhstan's NCALayer talks JSON over a WebSocket.  This module
reads its requests into the same :class:`~tanba.protocol.methods.sign.SignParams` the
native ``sign`` method uses, and writes every answer in the exact shape NCALayer's
clients branch on.  It does no I/O; :mod:`tanba.agent.ncalayer` drives it.

Facts of the wire and where they come from
------------------------------------------
(S1) ``ncalayer-js-client`` 1.5.6 (npm, sigex-kz), its source and its ``test/test-data.json``,
a recording of real NCALayer answers; (S2) ``pkigovkz/NCALayerJSExample`` ``js/ncalayer.js``,
the official ``basics`` sample; (S3) ``fedor35/ncalayer-rs``, a Rust re-implementation whose
notes record what NCALayer 1.4 answers (``crates/nca-protocol``, ``docs/PLAN.md``);
(S4) Tanba's DESIGN.md, which wins where sources disagree.

- Greeting ``{"result":{"version":"1.4"}}`` on connect (S3, S4; S1 recorded ``"1.2"`` from an
  older release; the client only checks that ``result.version`` exists).  The text
  ``--heartbeat--`` is echoed as is (S3, S4).
- ``kz.gov.pki.knca.commonUtils``: ``{module, method, args:[…positional…], uuid?}``.  Success
  ``{"code":"200","responseObject":…}``; ``changeLocale`` answers ``{"code":"200"}`` with no
  ``responseObject`` (S1).  Failure ``{"code":"500","message":"…"}``; an argument of the wrong
  JSON type gives ``"java.lang.IllegalArgumentException: argument type mismatch. Method: X"``
  (S1) — Tanba answers the same shape with a localized message.  The user cancelling gives
  ``message:"action.canceled"`` (S1, S3), the one message clients compare.  ``uuid`` is
  echoed when given (S3, S4).  CMS comes back as base64 DER (S1).
- ``keyType`` ``SIGNATURE`` / ``AUTHENTICATION``; NCALayer lets "anything else" pick any key (S1
  doc comments).  Tanba: ``AUTHENTICATION`` is an *auth* operation (only auth keys, the
  confirmation says "log in": egov.kz logs in with a CMS over a challenge made this way);
  everything else, including a missing or unknown keyType, is a *sign* operation with
  signing keys only, so a request that names no key type can never get a document signed
  by an authentication key (DESIGN security rule 5).
- ``createCMSSignatureFromBase64`` always adds a signature timestamp, ``createCAdES*`` never
  (S3, from NCALayer's bytecode).
- ``kz.gov.pki.knca.basics`` ``sign`` with named args ``{allowedStorages, format, data,
  signingParams:{decode, encapsulate, digested, tsaProfile}, signerParams:{extKeyUsageOids,
  iin, bin, serialNumber, chain}, locale}`` (S1, S2); the official sample also sends ``logo``,
  ``signingParams.allowExpired / allowRevoked / outputCert`` and ``""`` for empty
  iin/bin/serialNumber (S2).  Success ``{"status":true,"body":{"result":…}}``; cancel
  ``{"status":true,"body":{}}`` — clients detect it by the missing ``result`` (S1); failure
  ``{"status":false,"code":"…","message":"…","details":"…"}`` with codes
  ``INVOCATION_ERROR`` (wrongly typed args, recorded in S1), ``INVALID_SIGNING_PARAMS``,
  ``SIGNING_FAILURE``, ``GENERAL_ERROR`` (S3's list of NCALayer's codes).
- basics CMS is PEM ``-----BEGIN CMS-----`` (S1).  ``cms`` with string data answers a string,
  array in → array out (S1 recordings, S4); S3 saw NCALayer 1.4 answer an array even for a
  string — the client copes with both; Tanba follows S4.  ``xml`` always answers an array
  (S1, S3, S4).  ``tsaProfile: {}`` asks for a timestamp, absent or ``null`` gives none (S2, S4).
  ``outputCert: true`` turns the result into ``{signatures:[…], certificate}`` (S2, S3).
- Unknown module: ``{"success":false,"errorCode":"MODULE_NOT_FOUND"}`` (S3, S4).
  ``ncalayer-js-client`` sends ``{"module":"kz.digiflow.mobile.extensions","method":"getVersion"}``
  right after the greeting and waits for any answer; a non-200 one tells it "not KAZTOKEN
  mobile" (S1).  A request without ``module`` was for the legacy applet, which NCALayer no
  longer has: also ``MODULE_NOT_FOUND``.

Tanba's own choices (no source says otherwise)
----------------------------------------------
- Malformed JSON, or a message that is not a JSON object, is answered with the commonUtils
  failure shape (every client treats a non-``"200"`` code as an error); the connection keeps
  serving.
- An unknown commonUtils method is a ``"500"`` failure; an unknown basics method a basics
  ``INVOCATION_ERROR``.
- ``commonUtils`` hashes must be 32, 48 or 64 bytes (SHA-256/384/512): a "hash" of another
  length cannot be told apart from a document and is refused.
- Base64 may carry line breaks (MIME style), which are dropped before strict decoding.
- Unknown keys inside basics ``args``/``signingParams``/``signerParams`` are ignored, as NCALayer's
  JSON reader does; known keys are type-checked.  ``logo`` is accepted and never shown (a page's
  picture in the signing dialog would help phishing).  ``allowRevoked`` is accepted and has no
  effect (revocation is not checked when choosing a key).  ``signerParams.chain`` (CA
  certificates the signer must chain to) is accepted and not enforced: the user sees and
  confirms the certificate either way.
- ``locale``: ``kz`` (what portals send) means Kazakh (``kk``).
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from tanba.protocol import i18n
from tanba.protocol.errors import InvalidParams, InvalidRequest, MethodNotFound, TanbaError
from tanba.protocol.methods.certs import CertFields
from tanba.protocol.methods.filter import CertFilter, KeyUsage
from tanba.protocol.methods.sign import DIGEST_SIZES, RAW_WITH_LOGIN_KEY, Format, SignParams, XmlOptions
from tanba.protocol.times import epoch_ms
from tanba.protocol.validate import within

VERSION: Final = "1.4"
HEARTBEAT: Final = "--heartbeat--"
COMMON_UTILS: Final = "kz.gov.pki.knca.commonUtils"
BASICS: Final = "kz.gov.pki.knca.basics"
CANCELED: Final = "action.canceled"
OID_CLIENT_AUTH: Final = "1.3.6.1.5.5.7.3.2"

Purpose = KeyUsage  # the operation a request asks for: which keys may serve it

#: the lengths a page-computed hash may have (SHA-256/384/512, Streebog, GOST 34.311)
_DIGEST_LENGTHS: Final = frozenset(DIGEST_SIZES.values())
_LOCALE_ALIASES: Final = {"kz": "kk"}
_SPACE = re.compile(r"\s+")
_MAX_STORAGE = 64
_MAX_XPATH = 1024
_MAX_UUID = 256


# -- envelopes -------------------------------------------------------------------------


@dataclass(frozen=True)
class Envelope:
    """One request: ``module`` / ``method`` are None when missing or not strings."""

    module: str | None
    method: str | None
    args: Any
    #: echoed in commonUtils answers; None when absent or not a short string / integer
    uuid: str | int | None


def parse_envelope(obj: Any) -> Envelope:
    if not isinstance(obj, dict):
        raise InvalidRequest("an NCALayer request is a JSON object")
    module, method = obj.get("module"), obj.get("method")
    uuid = obj.get("uuid")
    if isinstance(uuid, bool) or not isinstance(uuid, (str, int)) or (isinstance(uuid, str) and len(uuid) > _MAX_UUID):
        uuid = None
    return Envelope(
        module if isinstance(module, str) else None,
        method if isinstance(method, str) else None,
        obj.get("args"),
        uuid,
    )


def key_purpose(key_type: str) -> Purpose:
    """``AUTHENTICATION`` is an auth operation; anything else signs with a signing key."""
    return "auth" if key_type == "AUTHENTICATION" else "sign"


def normalize_locale(value: str, default: str) -> str:
    short = value.strip().lower()
    return i18n.normalize(_LOCALE_ALIASES.get(short, value), default)


def _b64(value: str, where: str) -> bytes:
    try:
        return base64.b64decode(_SPACE.sub("", value), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise InvalidParams(f"{where} is not valid base64", field=where) from exc


def check_digest_size(digest: bytes, where: str) -> None:
    """NCALayer's hash methods do not name the hash: its length and the key decide (SHA-2 by
    length, a GOST key's own hash); here only the length is checked."""
    if len(digest) not in _DIGEST_LENGTHS:
        raise InvalidParams(f"{where}: a hash of {len(digest)} bytes; hashes are 32, 48 or 64 bytes", field=where)


# -- commonUtils -------------------------------------------------------------------------


@dataclass(frozen=True)
class ActiveTokens:
    pass


@dataclass(frozen=True)
class KeyInfo:
    storage: str


@dataclass(frozen=True)
class ChangeLocale:
    locale: str


@dataclass(frozen=True)
class CommonSign:
    """A commonUtils signing method, translated to the native ``sign`` params."""

    purpose: Purpose
    params: SignParams
    #: signXmls answers a list, every other method one string
    many: bool = False


CommonRequest = ActiveTokens | KeyInfo | ChangeLocale | CommonSign


class _Args:
    """Positional args of one commonUtils method; a wrong JSON type is NCALayer's
    "argument type mismatch" (an invalid_request), a bad value an invalid_params."""

    def __init__(self, method: str, args: Any) -> None:
        if args is None:
            args = []
        self.method = method
        if not isinstance(args, list):
            raise self.mismatch()
        self.args = args

    def mismatch(self) -> InvalidRequest:
        return InvalidRequest(f"argument type mismatch. Method: {self.method}")

    def get(self, index: int, kind: type, default: Any = None) -> Any:
        if index >= len(self.args):
            if default is None:
                raise InvalidRequest(f"wrong number of arguments. Method: {self.method}")
            return default
        value = self.args[index]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.mismatch()
        return value

    def check_count(self, most: int) -> None:
        if len(self.args) > most:
            raise InvalidRequest(f"wrong number of arguments. Method: {self.method}")

    def storage(self) -> tuple[str, ...]:
        name: str = self.get(0, str)
        if not name or len(name) > _MAX_STORAGE:
            raise InvalidParams(f"{self.method}: storage name must be 1..{_MAX_STORAGE} characters", field="args[0]")
        return (name,)


def _common_cms(a: _Args, *, timestamp: bool) -> CommonSign:
    a.check_count(4)
    storages = a.storage()
    purpose = key_purpose(a.get(1, str))
    data = _b64(a.get(2, str), "args[2]")
    attach: bool = a.get(3, bool, False)
    params = SignParams(
        format="cms", data=(data,), detached=not attach, timestamp=timestamp, filter=CertFilter(storages=storages)
    )
    return CommonSign(purpose, params)


def _common_hash(a: _Args) -> CommonSign:
    a.check_count(3)
    storages = a.storage()
    purpose = key_purpose(a.get(1, str))
    digest = _b64(a.get(2, str), "args[2]")
    check_digest_size(digest, "args[2]")
    params = SignParams(
        format="cms",
        digests=(digest,),
        filter=CertFilter(storages=storages),
    )
    return CommonSign(purpose, params)


def _xpath(a: _Args, index: int) -> str:
    value: str = a.get(index, str, "")
    if len(value) > _MAX_XPATH:
        raise InvalidParams(f"args[{index}] is longer than {_MAX_XPATH}", field=f"args[{index}]")
    return value


def _common_xml(a: _Args, *, many: bool) -> CommonSign:
    a.check_count(5)
    storages = a.storage()
    purpose = key_purpose(a.get(1, str))
    if many:
        documents = a.get(2, list)
        if not documents or not all(isinstance(d, str) for d in documents):
            raise a.mismatch() if documents else InvalidParams("signXmls needs at least one document", field="args[2]")
    else:
        documents = [a.get(2, str)]
    options = XmlOptions(sign_element=_xpath(a, 3), parent=_xpath(a, 4))
    params = SignParams(
        format="xml", data=tuple(d.encode("utf-8") for d in documents), xml=options, filter=CertFilter(storages=storages)
    )
    return CommonSign(purpose, params, many=many)


def parse_common(method: str | None, args: Any) -> CommonRequest:
    """A commonUtils request; raises MethodNotFound, InvalidRequest or InvalidParams."""
    if method == "getActiveTokens":
        _Args(method, args).check_count(0)
        return ActiveTokens()
    if method == "getKeyInfo":
        a = _Args(method, args)
        a.check_count(1)
        return KeyInfo(a.storage()[0])
    if method == "changeLocale":
        a = _Args(method, args)
        a.check_count(1)
        return ChangeLocale(a.get(0, str))
    with within("", _COMMON_NAMES):  # SignParams' names are positions here
        if method == "createCAdESFromBase64":
            return _common_cms(_Args(method, args), timestamp=False)
        if method == "createCMSSignatureFromBase64":
            return _common_cms(_Args(method, args), timestamp=True)
        if method == "createCAdESFromBase64Hash":
            return _common_hash(_Args(method, args))
        if method in ("signXml", "signXmls"):
            return _common_xml(_Args(method, args), many=method == "signXmls")
    raise MethodNotFound(f"no commonUtils method {method!r}")


_COMMON_NAMES: Final = {"data[0]": "args[2]", "digests[0]": "args[2]", "data": "args[2]", "digests": "args[2]",
                        "detached": "args[3]"}


# -- basics ------------------------------------------------------------------------------


@dataclass(frozen=True)
class BasicsSign:
    format: Format
    purpose: Purpose
    params: SignParams
    #: data was a string (cms/raw then answer a string; xml always answers a list)
    single: bool
    locale: str | None = None
    output_cert: bool = False


def _object(value: Any, where: str) -> Mapping[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidRequest(f'JSONObject["{where}"] is not a JSONObject.')
    return value


def _opt(obj: Mapping[str, Any], key: str, kind: type, where: str, default: Any = None) -> Any:
    value = obj.get(key)
    if value is None:
        return default
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise InvalidRequest(f'JSONObject["{where}.{key}"] is not a {kind.__name__}.')
    return value


def _opt_text(obj: Mapping[str, Any], key: str, where: str) -> str | None:
    value: str | None = _opt(obj, key, str, where)
    return value or None  # portals send "" for "any"


def _strings(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidRequest(f'JSONObject["{where}"] is not a list of strings.')
    if len(value) > 64:
        raise InvalidParams(f"{where} has more than 64 items", field=where)
    return tuple(value) or None


def _signer_filter(signer: Mapping[str, Any], storages: tuple[str, ...] | None, allow_expired: bool) -> CertFilter:
    oids = _strings(signer.get("extKeyUsageOids"), "signerParams.extKeyUsageOids")
    _strings(signer.get("chain"), "signerParams.chain")  # accepted, not enforced (module doc)
    with within("signerParams", {"extKeyUsage": "extKeyUsageOids", "storages": "allowedStorages"}):
        return CertFilter(
            ext_key_usage=oids,
            iin=_opt_text(signer, "iin", "signerParams"),
            bin=_opt_text(signer, "bin", "signerParams"),
            serial_number=_opt_text(signer, "serialNumber", "signerParams"),
            valid_only=not allow_expired,
            storages=storages,
        )


#: key names that would carry a PIN or password: a request holding one is refused (DESIGN
#: rule 4), whatever else NCALayer's looser format lets through
_SECRET_KEYS = frozenset({"pin", "pincode", "password", "pass", "passwd", "storepassword", "keypassword"})


def _refuse_secrets(obj: Mapping[str, Any], where: str) -> None:
    for key in obj:
        if key.replace("_", "").replace("-", "").lower() in _SECRET_KEYS:
            raise InvalidParams(f"{where}.{key}: a PIN is typed only in Tanba's own dialog", field=f"{where}.{key}")


def parse_basics_sign(args: Any) -> BasicsSign:
    a = _object(args, "args")
    _refuse_secrets(a, "args")
    fmt = a.get("format")
    if not isinstance(fmt, str):
        raise InvalidRequest('JSONObject["format"] not a string.')
    if fmt not in ("cms", "xml", "raw"):
        raise InvalidParams(f"format {fmt!r} is not supported: cms, xml or raw", field="format")
    data: Any = a.get("data")
    single = isinstance(data, str)
    items: Any = [data] if single else data
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise InvalidRequest('JSONObject["data"] is not a string or a list of strings.')
    if not items:
        raise InvalidParams("data is empty", field="data")
    signing = _object(a.get("signingParams"), "signingParams")
    signer = _object(a.get("signerParams"), "signerParams")
    _refuse_secrets(signing, "signingParams")
    _refuse_secrets(signer, "signerParams")
    decode = _opt(signing, "decode", bool, "signingParams", False)
    encapsulate = _opt(signing, "encapsulate", bool, "signingParams", False)
    digested = _opt(signing, "digested", bool, "signingParams", False)
    timestamp = _opt(signing, "tsaProfile", dict, "signingParams") is not None
    allow_expired = _opt(signing, "allowExpired", bool, "signingParams", False)
    _opt(signing, "allowRevoked", bool, "signingParams", False)
    output_cert = _opt(signing, "outputCert", bool, "signingParams", False)
    xml = XmlOptions(
        sign_element=_opt(signing, "tbsElementXPath", str, "signingParams", ""),
        parent=_opt(signing, "signatureParentElementXPath", str, "signingParams", ""),
    )
    _opt(a, "logo", str, "args")
    locale = _opt(a, "locale", str, "args")
    storages = _strings(a.get("allowedStorages"), "allowedStorages")
    cert_filter = _signer_filter(signer, storages, allow_expired)
    purpose: Purpose = "auth" if cert_filter.ext_key_usage and OID_CLIENT_AUTH in cert_filter.ext_key_usage else "sign"
    if fmt == "raw" and purpose == "auth":
        # A raw signature by a login key over caller-chosen bytes is a login token for any
        # site (DESIGN security rule 5): refused before anyone is asked anything.
        raise InvalidParams(RAW_WITH_LOGIN_KEY, field="format")
    blobs = tuple(_b64(item, f"data[{i}]") if decode else item.encode("utf-8") for i, item in enumerate(items))
    with within("", _BASICS_NAMES):
        params = _basics_params(fmt, blobs, digested, encapsulate, timestamp, xml, cert_filter)
    return BasicsSign(fmt, purpose, params, single, locale, output_cert)  # type: ignore[arg-type]


#: SignParams' names for what basics calls otherwise
_BASICS_NAMES: Final = {
    "digests": "data", "detached": "signingParams.encapsulate", "timestamp": "signingParams.tsaProfile",
    "xml": "signingParams", "filter": "signerParams",
}


def _basics_params(
    fmt: str, blobs: tuple[bytes, ...], digested: bool, encapsulate: bool, timestamp: bool, xml: XmlOptions,
    cert_filter: CertFilter,
) -> SignParams:
    if digested:
        check_digest_size(blobs[0], "data[0]")
        return SignParams(
            format=fmt,  # type: ignore[arg-type]  # checked by the caller
            digests=blobs,
            detached=not encapsulate,
            timestamp=timestamp and fmt == "cms",
            filter=cert_filter,
        )
    else:
        params = SignParams(
            format=fmt,  # type: ignore[arg-type]
            data=blobs,
            detached=not encapsulate,
            timestamp=timestamp and fmt == "cms",
            xml=xml,
            filter=cert_filter,
        )
    return params


# -- answers -----------------------------------------------------------------------------


def greeting() -> dict[str, Any]:
    return {"result": {"version": VERSION}}


def module_not_found() -> dict[str, Any]:
    return {"success": False, "errorCode": "MODULE_NOT_FOUND"}


def _with_uuid(answer: dict[str, Any], uuid: str | int | None) -> dict[str, Any]:
    if uuid is not None:
        answer["uuid"] = uuid
    return answer


def common_ok(response_object: Any, uuid: str | int | None = None) -> dict[str, Any]:
    return _with_uuid({"code": "200", "responseObject": response_object}, uuid)


def common_done(uuid: str | int | None = None) -> dict[str, Any]:
    """Success without a value (``changeLocale``)."""
    return _with_uuid({"code": "200"}, uuid)


def common_failure(message: str, uuid: str | int | None = None) -> dict[str, Any]:
    return _with_uuid({"code": "500", "message": message}, uuid)


def common_error(error: TanbaError, locale: str, uuid: str | int | None = None) -> dict[str, Any]:
    """A failure in commonUtils' shape: ``action.canceled`` when the user cancelled, else
    the localized message of the error's reason."""
    if error.reason == "user_cancelled":
        return common_failure(CANCELED, uuid)
    return common_failure(i18n.error_text(error, locale), uuid)


def basics_ok(result: Any) -> dict[str, Any]:
    return {"status": True, "body": {"result": result}}


def basics_cancel() -> dict[str, Any]:
    return {"status": True, "body": {}}


def basics_failure(code: str, message: str, details: str) -> dict[str, Any]:
    return {"status": False, "code": code, "message": message, "details": details}


def basics_code(error: TanbaError) -> str:
    if error.reason in ("invalid_request", "method_not_found"):
        return "INVOCATION_ERROR"
    if error.reason == "invalid_params":
        return "INVALID_SIGNING_PARAMS"
    if error.reason == "internal":
        return "GENERAL_ERROR"
    return "SIGNING_FAILURE"


def basics_error(error: TanbaError, locale: str) -> dict[str, Any]:
    """A failure in basics' shape; ``details`` carries Tanba's stable reason (and the
    offending field for invalid params), never internal details."""
    if error.reason == "user_cancelled":
        return basics_cancel()
    details = error.reason
    field = error.data.get("field")
    if error.reason == "invalid_params" and isinstance(field, str) and field:
        details = f"{details}: {field}"
    return basics_failure(basics_code(error), i18n.error_text(error, locale), details)


def key_info(c: CertFields, alias: str) -> dict[str, str]:
    """NCALayer ``getKeyInfo``'s answer (dates as epoch milliseconds in strings, DNs in
    certificate order as BouncyCastle prints them)."""
    return {
        "alias": alias,
        "keyId": c.subject_key_id or "",
        "algorithm": c.ncalayer_algorithm,
        "subjectCn": c.subject_cn or "",
        "subjectDn": c.subject_dn_forward,
        "issuerCn": c.issuer_cn or "",
        "issuerDn": c.issuer_dn_forward,
        "serialNumber": c.serial_number,
        "certNotAfter": epoch_ms(c.not_after),
        "certNotBefore": epoch_ms(c.not_before),
        "authorityKeyIdentifier": c.authority_key_id or "",
        "pem": c.pem,
    }


def cms_pem(der: bytes) -> str:
    """A CMS as NCALayer's basics writes it: ``-----BEGIN CMS-----``, 64-column base64."""
    text = base64.b64encode(der).decode("ascii")
    lines = [text[i : i + 64] for i in range(0, len(text), 64)]
    return "-----BEGIN CMS-----\n" + "\n".join(lines) + "\n-----END CMS-----\n"
