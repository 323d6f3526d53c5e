"""``kz.gov.pki.knca.commonUtils``: NCALayer's positional methods on the native paths.

Signing methods run the ``/v1`` ``sign`` path (:func:`tanba.agent.ncalayer.timestamps.sign`:
``sign_for`` with NCALayer's TSA default) with the purpose ``keyType`` names
(``createCMSSignatureFromBase64`` with a timestamp); ``getKeyInfo`` discloses one certificate the
user picked and confirmed; ``getActiveTokens`` names the token storages that show keys.
"""

from __future__ import annotations

import base64
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from tanba.agent.ncalayer import timestamps
from tanba.protocol import ncalayer
from tanba.protocol.methods.filter import CertFilter
from tanba.providers.certificate import cert_info
from tanba.providers.registry import Stores

if TYPE_CHECKING:
    from tanba.agent.ncalayer.session import Session

#: file storage: NCALayer never lists it among active tokens
FILE_STORAGE = "PKCS12"


async def active_tokens(stores: Stores) -> list[str]:
    """Storage names of the tokens that are present (they list at least one key), in the
    order of the configured stores; PKCS#12 files are not tokens."""
    names: list[str] = []
    for identity in await stores.all_identities():
        if identity.storage != FILE_STORAGE and identity.storage not in names:
            names.append(identity.storage)
    return names


async def _sign(session: Session, method: str, request: ncalayer.CommonSign) -> Any:
    params = request.params
    if params.format == "xml":
        params = replace(params, include_chain=False)  # NCALayer's X509Data: the signer's certificate alone
    signed = await timestamps.sign(session.context(method), params, request.purpose)
    if request.params.format == "cms":
        return base64.b64encode(signed.signatures[0]).decode("ascii")  # base64 DER, as NCALayer answers
    documents = [s.decode("utf-8") for s in signed.signatures]
    return documents if request.many else documents[0]


async def handle(session: Session, envelope: ncalayer.Envelope) -> dict[str, Any]:
    """The answer to one commonUtils request; a failure is raised, and the pipeline
    answers it in commonUtils' shape (:meth:`NcaLayerCall.render_error`)."""
    uuid = envelope.uuid
    request = ncalayer.parse_common(envelope.method, envelope.args)
    if isinstance(request, ncalayer.ActiveTokens):
        return ncalayer.common_ok(await active_tokens(session.services.stores), uuid)
    if isinstance(request, ncalayer.KeyInfo):
        identity = await session.context(envelope.method or "").key_access().disclose_one(CertFilter(storages=(request.storage,)))
        return ncalayer.common_ok(ncalayer.key_info(cert_info(identity), identity.id), uuid)
    if isinstance(request, ncalayer.ChangeLocale):
        session.locale = ncalayer.normalize_locale(request.locale, session.locale)
        return ncalayer.common_done(uuid)
    return ncalayer.common_ok(await _sign(session, envelope.method or "", request), uuid)
