"""``kz.gov.pki.knca.basics`` ``sign``: named arguments onto the native ``sign`` handler.

Output encodings (module doc of :mod:`tanba.protocol.ncalayer`): CMS as PEM, XML as text
and always a list, raw signatures as base64; string data answers a string, a list a list;
``outputCert`` answers ``{signatures, certificate}``.  ``tsaProfile: {}`` stamps with the
endpoint's TSA (:mod:`tanba.agent.ncalayer.timestamps`).
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tanba.agent.ncalayer import timestamps
from tanba.agent.transport.pipeline import log_error
from tanba.protocol import ncalayer
from tanba.protocol.errors import MethodNotFound, TanbaError
from tanba.providers.certificate import cert_info

if TYPE_CHECKING:
    from tanba.agent.ncalayer.session import Session


def _encode(fmt: str, signature: bytes) -> str:
    if fmt == "cms":
        return ncalayer.cms_pem(signature)
    if fmt == "xml":
        return signature.decode("utf-8")
    return base64.b64encode(signature).decode("ascii")


async def handle(session: Session, envelope: ncalayer.Envelope) -> dict[str, Any]:
    locale = session.locale
    try:
        if envelope.method != "sign":
            raise MethodNotFound(f"no basics method {envelope.method!r}")
        request = ncalayer.parse_basics_sign(envelope.args)
        if request.locale is not None:
            locale = ncalayer.normalize_locale(request.locale, locale)
        params = request.params
        if params.format == "xml":
            params = replace(params, include_chain=False)  # NCALayer's X509Data: the signer's certificate alone
        signed = await timestamps.sign(session.context("basics.sign", locale), params, request.purpose)
    except TanbaError as exc:  # answered here: in the request's own locale
        log_error(exc)
        return ncalayer.basics_error(exc, locale)
    outputs = [_encode(request.format, s) for s in signed.signatures]
    if request.output_cert:
        return ncalayer.basics_ok({"signatures": outputs, "certificate": cert_info(signed.identity).pem})
    if request.format == "xml" or not request.single:
        return ncalayer.basics_ok(outputs)
    return ncalayer.basics_ok(outputs[0])
