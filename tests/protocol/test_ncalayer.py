"""protocol/ncalayer.py: NCALayer envelopes read into native sign params; answer shapes."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest

from tanba.protocol import i18n, ncalayer
from tanba.protocol.errors import (
    Busy,
    InternalError,
    InvalidParams,
    InvalidRequest,
    MethodNotFound,
    NoCertificate,
    UserCancelled,
    WrongPin,
)

B64 = base64.b64encode(b"document").decode()
SHA256 = base64.b64encode(hashlib.sha256(b"document").digest()).decode()


def test_greeting_and_module_not_found_are_exact() -> None:
    assert ncalayer.greeting() == {"result": {"version": "1.4"}}
    assert ncalayer.module_not_found() == {"success": False, "errorCode": "MODULE_NOT_FOUND"}
    assert ncalayer.HEARTBEAT == "--heartbeat--"


def test_envelope_keeps_a_short_uuid_and_drops_odd_ones() -> None:
    env = ncalayer.parse_envelope({"module": "m", "method": "x", "args": [1], "uuid": "abc"})
    assert (env.module, env.method, env.args, env.uuid) == ("m", "x", [1], "abc")
    assert ncalayer.parse_envelope({"module": "m", "uuid": 7}).uuid == 7
    assert ncalayer.parse_envelope({"uuid": True}).uuid is None
    assert ncalayer.parse_envelope({"uuid": "u" * 300}).uuid is None
    assert ncalayer.parse_envelope({"module": 5}).module is None
    with pytest.raises(InvalidRequest):
        ncalayer.parse_envelope(["not", "an", "object"])


def test_key_type_authentication_is_auth_and_anything_else_signs() -> None:
    assert ncalayer.key_purpose("AUTHENTICATION") == "auth"
    for other in ("SIGNATURE", "", "123", "authentication"):
        assert ncalayer.key_purpose(other) == "sign"


def test_create_cades_attached_and_detached() -> None:
    req = ncalayer.parse_common("createCAdESFromBase64", ["PKCS12", "SIGNATURE", B64, True])
    assert isinstance(req, ncalayer.CommonSign)
    assert req.purpose == "sign" and req.params.format == "cms" and req.params.data == (b"document",)
    assert req.params.detached is False and req.params.timestamp is False
    assert req.params.filter.storages == ("PKCS12",)
    detached = ncalayer.parse_common("createCAdESFromBase64", ["AKKaztokenStore", "AUTHENTICATION", B64, False])
    assert isinstance(detached, ncalayer.CommonSign)
    assert detached.params.detached is True and detached.purpose == "auth"


def test_create_cms_signature_always_asks_a_timestamp() -> None:
    req = ncalayer.parse_common("createCMSSignatureFromBase64", ["PKCS12", "SIGNATURE", B64, False])
    assert isinstance(req, ncalayer.CommonSign) and req.params.timestamp is True


def test_hash_leaves_the_digest_algorithm_to_the_key_and_refuses_other_lengths() -> None:
    # NCALayer's hash methods do not name the hash: a 32-byte digest is SHA-256 for an RSA
    # key but GOST 34.311 for a 2004 GOST key, so the key decides (providers.keyalg)
    req = ncalayer.parse_common("createCAdESFromBase64Hash", ["PKCS12", "SIGNATURE", SHA256])
    assert isinstance(req, ncalayer.CommonSign)
    assert req.params.digests == (hashlib.sha256(b"document").digest(),) and req.params.digest_algorithm is None
    sha512 = base64.b64encode(hashlib.sha512(b"x").digest()).decode()
    req512 = ncalayer.parse_common("createCAdESFromBase64Hash", ["PKCS12", "SIGNATURE", sha512])
    assert isinstance(req512, ncalayer.CommonSign) and req512.params.digests == (hashlib.sha512(b"x").digest(),)
    with pytest.raises(InvalidParams):
        ncalayer.parse_common("createCAdESFromBase64Hash", ["PKCS12", "SIGNATURE", B64])


def test_base64_with_line_breaks_is_accepted_garbage_is_not() -> None:
    wrapped = base64.encodebytes(b"x" * 100).decode()  # MIME style, with newlines
    req = ncalayer.parse_common("createCAdESFromBase64", ["PKCS12", "SIGNATURE", wrapped, False])
    assert isinstance(req, ncalayer.CommonSign) and req.params.data == (b"x" * 100,)
    with pytest.raises(InvalidParams):
        ncalayer.parse_common("createCAdESFromBase64", ["PKCS12", "SIGNATURE", "not base64!", False])


def test_sign_xml_and_xmls() -> None:
    one = ncalayer.parse_common("signXml", ["PKCS12", "SIGNATURE", "<a/>", "//b", "/a"])
    assert isinstance(one, ncalayer.CommonSign) and not one.many
    assert one.params.format == "xml" and one.params.data == (b"<a/>",)
    assert (one.params.xml.sign_element, one.params.xml.parent) == ("//b", "/a")
    many = ncalayer.parse_common("signXmls", ["PKCS12", "SIGNATURE", ["<a/>", "<b/>"], "", ""])
    assert isinstance(many, ncalayer.CommonSign) and many.many and many.params.data == (b"<a/>", b"<b/>")
    with pytest.raises(InvalidRequest):
        ncalayer.parse_common("signXmls", ["PKCS12", "SIGNATURE", "<a/>", "", ""])
    with pytest.raises(InvalidParams):
        ncalayer.parse_common("signXmls", ["PKCS12", "SIGNATURE", [], "", ""])


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("getKeyInfo", [None]),
        ("getKeyInfo", [1]),
        ("createCAdESFromBase64", ["AKKaztokenStore", 123, "MTEK", False]),  # recorded from NCALayer
        ("createCMSSignatureFromBase64", ["AKKaztokenStore", [7, 7, 7], "MTEK", False]),
        ("signXml", ["AKKaztokenStore", "123", 555, "", ""]),
        ("changeLocale", [2]),
        ("createCAdESFromBase64", ["PKCS12", "SIGNATURE", B64, "true"]),
        ("createCAdESFromBase64", "not a list"),
        ("createCAdESFromBase64", ["PKCS12", "SIGNATURE"]),
        ("getActiveTokens", ["extra"]),
    ],
)
def test_wrong_argument_types_or_counts_are_invalid_requests(method: str, args: Any) -> None:
    with pytest.raises(InvalidRequest):
        ncalayer.parse_common(method, args)


def test_unknown_common_method() -> None:
    with pytest.raises(MethodNotFound):
        ncalayer.parse_common("createCAdESFromFile", ["PKCS12", "SIGNATURE", "/etc/passwd", False])


def test_simple_common_methods() -> None:
    assert ncalayer.parse_common("getActiveTokens", None) == ncalayer.ActiveTokens()
    assert ncalayer.parse_common("getKeyInfo", ["AKKaztokenStore"]) == ncalayer.KeyInfo("AKKaztokenStore")
    assert ncalayer.parse_common("changeLocale", ["kz"]) == ncalayer.ChangeLocale("kz")
    with pytest.raises(InvalidParams):
        ncalayer.parse_common("getKeyInfo", [""])


def test_locale_kz_means_kazakh() -> None:
    assert ncalayer.normalize_locale("kz", "en") == "kk"
    assert ncalayer.normalize_locale("ru_RU", "en") == "ru"
    assert ncalayer.normalize_locale("xx", "ru") == "ru"


def _basics(**over: Any) -> dict[str, Any]:
    args: dict[str, Any] = {
        "allowedStorages": None,
        "format": "cms",
        "data": B64,
        "signingParams": {"decode": True, "encapsulate": True, "digested": False},
        "signerParams": {"extKeyUsageOids": []},
        "locale": "ru",
    }
    args.update(over)
    return args


def test_basics_cms_string_attached() -> None:
    req = ncalayer.parse_basics_sign(_basics())
    assert req.single and req.format == "cms" and req.purpose == "sign" and req.locale == "ru"
    assert req.params.data == (b"document",) and req.params.detached is False and req.params.timestamp is False
    assert req.params.filter.storages is None and req.params.filter.ext_key_usage is None


def test_basics_decode_false_signs_the_text_itself() -> None:
    req = ncalayer.parse_basics_sign(_basics(data=["MTEK", "текст"], signingParams={}))
    assert not req.single and req.params.data == (b"MTEK", "текст".encode())
    assert req.params.detached is True  # encapsulate defaults to false


def test_basics_tsa_profile_object_asks_a_timestamp_null_or_absent_does_not() -> None:
    assert ncalayer.parse_basics_sign(_basics(signingParams={"decode": True, "tsaProfile": {}})).params.timestamp
    assert not ncalayer.parse_basics_sign(_basics(signingParams={"decode": True, "tsaProfile": None})).params.timestamp
    xml = ncalayer.parse_basics_sign(_basics(format="xml", data="<a/>", signingParams={"tsaProfile": {}}))
    assert xml.params.timestamp is False  # CMS only; XML ignores it


def test_basics_digested() -> None:
    req = ncalayer.parse_basics_sign(_basics(data=SHA256, signingParams={"decode": True, "digested": True}))
    assert req.params.digests == (hashlib.sha256(b"document").digest(),) and req.params.detached
    with pytest.raises(InvalidParams):  # a CMS over a hash cannot hold the document
        ncalayer.parse_basics_sign(_basics(data=SHA256, signingParams={"decode": True, "digested": True, "encapsulate": True}))


def test_basics_signer_params_become_the_filter() -> None:
    req = ncalayer.parse_basics_sign(_basics(
        allowedStorages=["AKKaztokenStore", "PKCS12"],
        signerParams={"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2", "1.2.398.3.3.4.1.1"], "iin": "850101300015",
                      "bin": "", "serialNumber": "0aB1", "chain": []},
        signingParams={"decode": True, "allowExpired": True, "outputCert": True},
        logo="iVBORw0KGgo=",
    ))
    f = req.params.filter
    assert req.purpose == "auth"  # the clientAuth OID makes it a login
    assert f.storages == ("AKKaztokenStore", "PKCS12") and f.ext_key_usage == ("1.3.6.1.5.5.7.3.2", "1.2.398.3.3.4.1.1")
    assert (f.iin, f.bin, f.serial_number, f.valid_only) == ("850101300015", None, "0aB1", False)
    assert req.output_cert
    with pytest.raises(InvalidParams) as bad:
        ncalayer.parse_basics_sign(_basics(signerParams={"iin": "12"}))
    assert bad.value.data["field"] == "signerParams.iin"


@pytest.mark.parametrize(
    "args",
    [
        _basics(signingParams=555),  # recorded from NCALayer: INVOCATION_ERROR
        _basics(signerParams="x"),
        _basics(data=5),
        _basics(data=[1, 2]),
        _basics(format=None),
        _basics(signingParams={"decode": "yes"}),
        _basics(signingParams={"tsaProfile": "default"}),
        _basics(allowedStorages="PKCS12"),
        "not an object",
    ],
)
def test_basics_wrong_types_are_invalid_requests(args: Any) -> None:
    with pytest.raises(InvalidRequest):
        ncalayer.parse_basics_sign(args)


@pytest.mark.parametrize("args", [_basics(format="pdf"), _basics(data=[]), _basics(data="%%%")])
def test_basics_bad_values_are_invalid_params(args: Any) -> None:
    with pytest.raises(InvalidParams):
        ncalayer.parse_basics_sign(args)


def test_common_answers() -> None:
    assert ncalayer.common_ok(["AKKaztokenStore"]) == {"code": "200", "responseObject": ["AKKaztokenStore"]}
    assert ncalayer.common_ok("x", uuid="u-1") == {"code": "200", "responseObject": "x", "uuid": "u-1"}
    assert ncalayer.common_done() == {"code": "200"}
    assert ncalayer.common_error(UserCancelled("no"), "ru", 3) == {"code": "500", "message": "action.canceled", "uuid": 3}
    assert ncalayer.common_error(NoCertificate("x"), "ru") == {"code": "500", "message": i18n.error_text(NoCertificate(), "ru")}
    internal = ncalayer.common_error(InternalError("secret path /home/u/key.p12"), "en")
    assert "secret" not in internal["message"]


def test_basics_answers() -> None:
    assert ncalayer.basics_ok("pem") == {"status": True, "body": {"result": "pem"}}
    assert ncalayer.basics_error(UserCancelled(), "ru") == {"status": True, "body": {}}
    assert ncalayer.basics_error(InvalidRequest("x"), "en")["code"] == "INVOCATION_ERROR"
    assert ncalayer.basics_error(MethodNotFound("x"), "en")["code"] == "INVOCATION_ERROR"
    bad = ncalayer.basics_error(InvalidParams("x", field="data[0]"), "kk")
    assert bad == {"status": False, "code": "INVALID_SIGNING_PARAMS",
                   "message": i18n.error_text(InvalidParams(), "kk"), "details": "invalid_params: data[0]"}
    pin = ncalayer.basics_error(WrongPin("x", retries_left=2), "en")
    assert pin["code"] == "SIGNING_FAILURE" and "2" in pin["message"] and pin["details"] == "wrong_pin"
    assert ncalayer.basics_error(Busy(), "en")["code"] == "SIGNING_FAILURE"
    # A key file's backoff: wrong_pin (not busy) on both NCALayer shapes, saying how long to wait.
    waiting = WrongPin("x", retry_after=3)
    assert ncalayer.basics_error(waiting, "ru") == {
        "status": False, "code": "SIGNING_FAILURE", "message": i18n.error_text(waiting, "ru"), "details": "wrong_pin"}
    assert "3" in i18n.error_text(waiting, "ru")
    assert ncalayer.common_error(waiting, "en", "u1")["message"] == "Wrong password. Wait 3 s before the next try."
    assert ncalayer.basics_error(InternalError("secret"), "en") == {
        "status": False, "code": "GENERAL_ERROR", "message": i18n.error_text(InternalError(), "en"), "details": "internal"}


def test_cms_pem_is_64_columns_between_cms_markers() -> None:
    der = bytes(range(256)) * 2
    pem = ncalayer.cms_pem(der)
    lines = pem.split("\n")
    assert lines[0] == "-----BEGIN CMS-----" and lines[-2] == "-----END CMS-----" and lines[-1] == ""
    assert all(len(line) == 64 for line in lines[1:-3]) and 0 < len(lines[-3]) <= 64
    assert base64.b64decode("".join(lines[1:-2])) == der


def test_basics_errors_name_basics_fields_not_v1_paths() -> None:
    """A bad second digest is data[1] (basics' own name), not params.digests[1]; a bad IIN
    is signerParams.iin — without string patching of /v1 paths (issue 13)."""
    digest = base64.b64encode(hashlib.sha256(b"x").digest()).decode()
    short = base64.b64encode(b"\x01" * 20).decode()
    with pytest.raises(InvalidParams) as info:
        ncalayer.parse_basics_sign(_basics(data=[digest, short], signingParams={"decode": True, "digested": True}))
    assert info.value.data["field"] == "data[1]" and info.value.detail.startswith("data[1] ")
    with pytest.raises(InvalidParams) as info:
        ncalayer.parse_basics_sign(_basics(signerParams={"iin": "12"}))
    assert info.value.data["field"] == "signerParams.iin"
