"""Property tests of both envelopes (JSON-RPC on ``/v1``, NCALayer on ``/``) and of every
method's params: any decoded JSON gives a typed request or an error of the protocol's tree
(``invalid_request`` / ``invalid_params``), and a typed request always respects the rules
the handlers rely on (digest lengths, formats, no unknown keys)."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tanba.protocol import codec, ncalayer
from tanba.protocol.errors import ALL_ERRORS, InvalidParams, InvalidRequest, TanbaError
from tanba.protocol.messages import Request, error_message, parse_request, salvage_id
from tanba.protocol.methods.auth import AuthParams
from tanba.protocol.methods.certs import CertsListParams
from tanba.protocol.methods.hello import HelloParams
from tanba.protocol.methods.sign import DIGEST_SIZES, SignParams
from tanba.protocol.methods.verify import VerifyParams

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(exclude_categories=["Cs"]), max_size=20)
b64 = st.binary(max_size=70).map(lambda b: base64.b64encode(b).decode())
scalars = st.none() | st.booleans() | st.integers(-(2**60), 2**60) | st.floats(allow_nan=False, allow_infinity=False) | text | b64
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(text, inner, max_size=4), max_leaves=20)

# Keys the parsers know, so that generated objects often get past the first check.
SIGN_KEYS = ["format", "data", "digests", "digestAlgorithm", "detached", "timestamp", "includeChain", "xml", "filter", "pin"]
FILTER_KEYS = ["keyUsage", "extKeyUsage", "iin", "bin", "serialNumber", "issuer", "validOnly", "storages"]
known_values = (
    values
    | st.sampled_from(["cms", "xml", "raw", "sha256", "sha384", "sha512", "md5", "sign", "auth", "c14n", "exc-c14n"])
    | st.lists(b64, max_size=3)
)
filters = st.dictionaries(st.sampled_from(FILTER_KEYS) | text, known_values, max_size=4)
sign_params = st.dictionaries(
    st.sampled_from(SIGN_KEYS) | text,
    known_values | filters | st.dictionaries(st.sampled_from(["signElement", "parent", "canonicalization"]), known_values),
    max_size=6,
)


def only_protocol_errors(parse: Any, value: Any, *allowed: str) -> Any:
    try:
        return parse(value)
    except TanbaError as exc:
        assert exc.reason in allowed, (exc, value)
        assert type(exc) in ALL_ERRORS
        return None


@FUZZ
@given(st.dictionaries(st.sampled_from(["jsonrpc", "id", "method", "params"]) | text,
                       values | st.just("2.0") | st.sampled_from(["sign", "agent.hello"]), max_size=5))
@example({"jsonrpc": "2.0", "id": True, "method": "sign"})
@example({"jsonrpc": "2.0", "id": 2**53, "method": "sign"})
def test_jsonrpc_envelope(obj: dict[str, Any]) -> None:
    request = only_protocol_errors(parse_request, obj, "invalid_request")
    if request is not None:
        assert isinstance(request, Request)
        assert obj["jsonrpc"] == "2.0" and set(obj) <= {"jsonrpc", "id", "method", "params"}
        assert isinstance(request.params, dict)
        assert salvage_id(obj) == request.id
    # whatever the id, an error reply can be written and read back
    reply = error_message(salvage_id(obj), InvalidRequest("x"), "message")
    assert codec.decode(codec.encode(reply))["error"]["data"]["reason"] == "invalid_request"


@FUZZ
@given(sign_params)
@example({"format": "cms", "digests": [base64.b64encode(b"x" * 20).decode()], "digestAlgorithm": "sha256"})
@example({"format": "raw", "data": ["YQ"]})
@example({"format": "cms", "data": ["YQ=="], "filter": {"keyUsage": "sign"}})
@example({"format": "raw", "digests": [base64.b64encode(b"x" * 48).decode()], "digestAlgorithm": "sha384"})
def test_sign_params(params: dict[str, Any]) -> None:
    parsed = only_protocol_errors(SignParams.from_wire, params, "invalid_params")
    if parsed is None:
        return
    assert set(params) <= set(SIGN_KEYS) - {"pin"}
    assert parsed.format in ("cms", "xml", "raw")
    assert (parsed.data is None) != (parsed.digests is None)
    if parsed.digests is not None:
        assert all(len(d) == DIGEST_SIZES[parsed.digest_algorithm] for d in parsed.digests)
        assert parsed.format != "xml"
    assert parsed.count >= 1


@FUZZ
@given(st.dictionaries(st.sampled_from(["challenge", "filter", "origin"]) | text, known_values | filters | text, max_size=3))
def test_auth_params(params: dict[str, Any]) -> None:
    parsed = only_protocol_errors(AuthParams.from_wire, params, "invalid_params")
    if parsed is not None:
        assert set(params) <= {"challenge", "filter"}
        assert 44 <= len(parsed.challenge) <= 128 and parsed.challenge.isascii()
        assert parsed.filter.key_usage != "sign"


@FUZZ
@given(st.dictionaries(st.sampled_from(["format", "signature", "data"]) | text, known_values, max_size=3))
def test_verify_params(params: dict[str, Any]) -> None:
    parsed = only_protocol_errors(VerifyParams.from_wire, params, "invalid_params")
    if parsed is not None:
        assert parsed.format in ("cms", "xml") and isinstance(parsed.signature, bytes)


@FUZZ
@given(st.dictionaries(st.just("filter") | text, filters | values, max_size=2), values)
def test_certs_and_hello_params(params: dict[str, Any], anything: Any) -> None:
    only_protocol_errors(CertsListParams.from_wire, params, "invalid_params")
    only_protocol_errors(CertsListParams.from_wire, anything, "invalid_params")
    hello = only_protocol_errors(HelloParams.from_wire, anything, "invalid_params")
    if hello is not None:
        assert anything in ({}, None)


# -- the NCALayer envelope -----------------------------------------------------------------

COMMON_METHODS = ["getActiveTokens", "getKeyInfo", "changeLocale", "createCAdESFromBase64", "createCAdESFromBase64Hash",
                  "createCMSSignatureFromBase64", "signXml", "signXmls", "launchMissiles"]
common_args = st.lists(
    st.sampled_from(["PKCS12", "AKKaztokenStore", "SIGNATURE", "AUTHENTICATION", ""]) | b64 | st.booleans() | values
    | st.lists(b64 | text, max_size=3),
    max_size=6,
) | values


@FUZZ
@given(values, st.sampled_from(COMMON_METHODS) | st.none() | text, common_args)
def test_ncalayer_envelope_and_common_utils(obj: Any, method: str | None, args: Any) -> None:
    envelope = only_protocol_errors(ncalayer.parse_envelope, obj, "invalid_request")
    if envelope is not None:
        assert envelope.uuid is None or isinstance(envelope.uuid, (str, int))
    request = only_protocol_errors(lambda a: ncalayer.parse_common(method, a), args,
                                   "invalid_request", "invalid_params", "method_not_found")
    if isinstance(request, ncalayer.CommonSign):
        params = request.params
        if params.digests is not None:
            assert all(len(d) in (32, 48, 64) for d in params.digests)
        assert request.purpose in ("sign", "auth")


BASICS_KEYS = ["allowedStorages", "format", "data", "signingParams", "signerParams", "locale", "logo"]
signing = st.dictionaries(
    st.sampled_from(["decode", "encapsulate", "digested", "tsaProfile", "allowExpired", "outputCert",
                     "tbsElementXPath", "signatureParentElementXPath"]) | text,
    st.booleans() | st.just({}) | values, max_size=4,
)
signer = st.dictionaries(st.sampled_from(["extKeyUsageOids", "iin", "bin", "serialNumber", "chain"]) | text,
                         st.lists(st.sampled_from(["1.3.6.1.5.5.7.3.2", "1.3.6.1.5.5.7.3.4"]) | text, max_size=2) | text | values,
                         max_size=3)


@FUZZ
@given(st.fixed_dictionaries({}, optional={
    "allowedStorages": st.lists(st.sampled_from(["PKCS12", "AKKaztokenStore"]) | text, max_size=2) | values,
    "format": st.sampled_from(["cms", "xml", "raw"]) | values,
    "data": b64 | st.lists(b64, max_size=3) | values,
    "signingParams": signing | values,
    "signerParams": signer | values,
    "locale": st.sampled_from(["ru", "kz", "en"]) | values,
}) | values)
@example({"format": "cms", "data": "YQ==", "signingParams": {"decode": True}, "signerParams": {}})
@example({"format": "cms", "data": [base64.b64encode(b"x" * 32).decode()], "signingParams": {"decode": True, "digested": True},
          "signerParams": {"extKeyUsageOids": ["1.3.6.1.5.5.7.3.2"]}})
def test_ncalayer_basics_sign(args: Any) -> None:
    parsed = only_protocol_errors(ncalayer.parse_basics_sign, args, "invalid_request", "invalid_params")
    if parsed is not None:
        assert parsed.purpose in ("sign", "auth")
        assert parsed.params.count >= 1
        if parsed.params.digests is not None:
            # basics does not name the hash: the digests' one length (and the key) decide it
            assert parsed.params.digest_algorithm is None
            assert {len(d) for d in parsed.params.digests} <= set(DIGEST_SIZES.values())
            assert len({len(d) for d in parsed.params.digests}) == 1


@FUZZ
@given(st.sampled_from(ALL_ERRORS), text, st.sampled_from(["en", "ru", "kk", "xx"]))
def test_every_error_has_a_wire_form_in_both_envelopes(cls: type[TanbaError], detail: str, locale: str) -> None:
    error = cls(detail)
    for answer in (ncalayer.common_error(error, locale, "u"), ncalayer.basics_error(error, locale),
                   error_message(1, error, "m")):
        assert codec.decode(codec.encode(answer)) == answer
    if cls is InvalidParams or cls is InvalidRequest:
        assert error_message(1, error, "m")["error"]["data"]["reason"] == cls.reason
