"""RFC 3161 timestamps, and CAdES-T on top of a CAdES-BES CMS.

:func:`request_timestamp` sends a TimeStampReq (SHA-256 imprint, a random nonce,
certReq true) as an HTTP POST ``application/timestamp-query`` — through the agent's one HTTP
client (:mod:`tanba.agent.http`: no redirects, bounded body) — and checks the answer:
status granted, a SignedData token over a TSTInfo whose nonce and messageImprint are the
ones asked for.  :func:`add_signature_timestamp` stamps the signature value of each
SignerInfo and adds the token as the unsigned attribute signatureTimeStampToken
(1.2.840.113549.1.9.16.2.14).  Every failure — TSA down, timeout, HTTP error, garbage, a
token for something else — is ``timestamp_failed`` with a detail saying which (for the log)
and a ``problem`` the user's message names (:class:`~tanba.protocol.errors.TimestampFailed`):
``bad_url``, ``no_answer`` (not reached, or no answer within the timeout) or ``bad_answer``
(with what it answered), the TSA named by :func:`shown_url` — never its user, password or
query, which may hold credentials.

The token's own signature and its TSA certificate chain are checked by verification
(``agent/verify``), against the user's trust anchors, not here.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import secrets
import urllib.parse
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from asn1crypto import cms as acms
from asn1crypto import core as acore
from asn1crypto import tsp as atsp

from tanba.agent.formats.cms import (
    OID_SIGNATURE_TIMESTAMP,
    SEQ,
    SET,
    build_content_info,
    der_set,
    der_tlv,
    parse_signed_data,
)
from tanba.agent.http import FetchError, HttpClient
from tanba.protocol.errors import InvalidParams, TimestampFailed

log = logging.getLogger(__name__)

MAX_RESPONSE = 1 << 20  # a timestamp response is a few KiB; refuse to buffer more
_CONTENT_TYPE = "application/timestamp-query"


def shown_url(url: str) -> str:
    """``url`` as a message may show it: scheme, host, port and path; no user, password,
    query or fragment (a TSA's credentials ride there)."""
    try:
        parts = urllib.parse.urlsplit(url.strip())
        host = parts.hostname or ""
        if ":" in host:
            host = f"[{host}]"
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return url.strip()[:200].split("?", 1)[0].rpartition("@")[2]
    if not parts.scheme and not host:
        return parts.path[:200]
    return f"{parts.scheme}://{host}{port}{parts.path}"[:200]


def _no_answer(detail: str, url: str) -> TimestampFailed:
    return TimestampFailed(detail, problem="no_answer", tsa_url=shown_url(url))


def _bad_answer(detail: str, url: str, answer: str, status: str = "") -> TimestampFailed:
    return TimestampFailed(detail, problem="bad_answer", tsa_url=shown_url(url), answer=answer, status=status)


async def _exchange(url: str, body: bytes, timeout: float, http: HttpClient) -> bytes:
    scheme = urllib.parse.urlsplit(url).scheme
    if scheme.lower() not in ("http", "https"):
        raise TimestampFailed(f"TSA URL must be http(s), not {scheme or 'empty'!r}", problem="bad_url",
                              tsa_url=shown_url(url))
    try:
        return await http.fetch(
            url, accept="application/timestamp-reply", max_bytes=MAX_RESPONSE, timeout=timeout,
            body=body, content_type=_CONTENT_TYPE,
        )
    except FetchError as exc:
        if exc.kind == "timeout":
            raise _no_answer(f"TSA {url} did not answer within {timeout:g} s", url) from exc
        if exc.kind == "unreachable":
            raise _no_answer(f"TSA {url} unreachable: {exc}", url) from exc
        if exc.kind == "status":
            codes = re.findall(r"HTTP (\d{3})", str(exc))
            raise _bad_answer(f"TSA {exc}", url, "http_status", codes[-1] if codes else "?") from exc
        raise _bad_answer(f"TSA {exc}", url, "http_refused") from exc


class _TimeStampResp(acore.Sequence):  # type: ignore[misc]
    """RFC 3161 TimeStampResp; asn1crypto's own makes the token mandatory, it is not."""

    _fields = [
        ("status", atsp.PKIStatusInfo),
        ("time_stamp_token", acms.ContentInfo, {"optional": True}),
    ]


def _check_response(answer: bytes, imprint: bytes, nonce: int, url: str) -> bytes:
    """The token (ContentInfo DER) if ``answer`` grants a timestamp for ``imprint``."""
    try:
        resp = _TimeStampResp.load(answer, strict=True)
        status = resp["status"]["status"].native
        if status not in ("granted", "granted_with_mods"):
            text = " ".join(resp["status"]["status_string"].native or [])
            info = ",".join(sorted(resp["status"]["fail_info"].native or []))
            raise _bad_answer(f"TSA refused: {status} {text} {info}".strip(), url, "refused",
                              f"{status}: {info}" if info else str(status))
        token = resp["time_stamp_token"]
        if not token:
            raise _bad_answer("TSA granted but sent no token", url, "not_timestamp")
        if token["content_type"].native != "signed_data":
            raise _bad_answer("TSA token is not a SignedData", url, "not_timestamp")
        encap = token["content"]["encap_content_info"]
        if encap["content_type"].native != "tst_info":
            raise _bad_answer("TSA token does not hold a TSTInfo", url, "not_timestamp")
        tst = encap["content"].parsed
        got = tst["message_imprint"]
        if got["hash_algorithm"]["algorithm"].native != "sha256" or got["hashed_message"].native != imprint:
            raise _bad_answer("TSA token is for another message imprint", url, "mismatch")
        if tst["nonce"].native != nonce:
            raise _bad_answer("TSA token nonce does not match the request", url, "mismatch")
        log.info("timestamp granted: %s", tst["gen_time"].native)
        return bytes(token.dump())
    except TimestampFailed:
        raise
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise _bad_answer(f"TSA answer is not a valid RFC 3161 response: {exc}", url, "not_timestamp") from exc


@asynccontextmanager
async def _client(http: HttpClient | None) -> AsyncIterator[HttpClient]:
    """The agent's client when given; else one for this call alone (the command line)."""
    if http is not None:
        yield http
        return
    own = HttpClient()
    try:
        yield own
    finally:
        await own.aclose()


async def request_timestamp(
    imprint: bytes, tsa_url: str, timeout: float = 10.0, http: HttpClient | None = None
) -> bytes:
    """An RFC 3161 token (ContentInfo DER) for the SHA-256 ``imprint``."""
    if len(imprint) != 32:
        raise InvalidParams("a timestamp imprint is a SHA-256 digest (32 bytes)")
    nonce = secrets.randbits(63)
    request = atsp.TimeStampReq(
        {
            "version": 1,
            "message_imprint": {"hash_algorithm": {"algorithm": "sha256"}, "hashed_message": imprint},
            "nonce": nonce,
            "cert_req": True,
        }
    ).dump()
    async with _client(http) as client:
        answer = await _exchange(tsa_url, request, timeout, client)
    return _check_response(answer, imprint, nonce, tsa_url)


def _has_timestamp(si: Any) -> bool:
    attrs = si["unsigned_attrs"]
    return bool(attrs) and any(a["type"].native == "signature_time_stamp_token" for a in attrs)


def _with_unsigned_attr(si: Any, attribute: bytes) -> bytes:
    """``si`` re-encoded from its original parts plus one unsigned attribute."""
    parts = [si[name].dump() for name in ("version", "sid", "digest_algorithm")]
    if si["signed_attrs"]:
        parts.append(si["signed_attrs"].dump())
    parts += [si["signature_algorithm"].dump(), si["signature"].dump()]
    existing = [bytes(a.dump()) for a in si["unsigned_attrs"]] if si["unsigned_attrs"] else []
    parts.append(der_set([*existing, attribute], tag=0xA1))
    return der_tlv(SEQ, b"".join(bytes(p) for p in parts))


async def add_signature_timestamp(
    cms_der: bytes, tsa_url: str, timeout: float = 10.0, http: HttpClient | None = None
) -> bytes:
    """CAdES-T: ``cms_der`` with a signatureTimeStampToken on each SignerInfo lacking one."""
    sd = parse_signed_data(cms_der)
    try:
        infos = list(sd["signer_infos"])
        todo = [i for i, si in enumerate(infos) if not _has_timestamp(si)]
        imprints = [hashlib.sha256(infos[i]["signature"].native).digest() for i in todo]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise InvalidParams(f"malformed CMS: {exc}") from exc
    if not todo:
        return cms_der
    async with _client(http) as client:
        tokens = await asyncio.gather(*(request_timestamp(im, tsa_url, timeout, client) for im in imprints))
    encoded = [bytes(si.dump()) for si in infos]
    for i, token in zip(todo, tokens):
        attribute = der_tlv(SEQ, OID_SIGNATURE_TIMESTAMP + der_tlv(SET, token))
        encoded[i] = _with_unsigned_attr(infos[i], attribute)
    return build_content_info(
        version=int(sd["version"].native[1:]),
        digest_algs=[bytes(a.dump()) for a in sd["digest_algorithms"]],
        encap=bytes(sd["encap_content_info"].dump()),
        certificates=[bytes(c.dump()) for c in sd["certificates"]] if sd["certificates"] else [],
        crls=bytes(sd["crls"].dump()) if sd["crls"] else b"",
        signer_infos=encoded,
    )

