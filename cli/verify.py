"""`tanba verify`: check a CMS or XML signature here, without the daemon.

Exit codes: 0 VALID, 1 INVALID, 2 the input could not be read as a signature (or a bad
option).  ``--json`` prints the same object the agent's ``verify`` method returns.

Chains are built as the agent's ``verify`` builds them
(:func:`~tanba.agent.verify.chain.validator_from_settings`): the config file's
``trust-anchor`` and ``intermediate`` certificates (``--config``, else the user's config
file when it exists), those given here on top, and a missing issuer fetched from the
certificate's AIA caIssuers URL (``fetch-issuers``; off with ``--revocation off``, which
makes no network request at all, unless ``--fetch-issuers`` is given).
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import click
from cryptography import x509

from tanba.agent.setup.config import ConfigError, Settings, build_settings, load_file
from tanba.agent.verify.chain import ChainValidator, validator_from_settings
from tanba.agent.verify.cms import verify_cms
from tanba.agent.verify.xml import verify_xml
from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.verify import SignerResult, VerifyResult
from tanba.protocol.times import utc_z
from tanba.providers.certificate import CertInfo

_FILE = click.Path(exists=True, dir_okay=False, path_type=Path)


def _looks_like_xml(blob: bytes) -> bool:
    head = blob.lstrip(b"\xef\xbb\xbf \t\r\n")
    return head.startswith(b"<")


async def _run(
    signature: bytes, data: bytes | None, fmt: str, validator: ChainValidator
) -> VerifyResult:
    if fmt == "auto":
        fmt = "xml" if _looks_like_xml(signature) else "cms"
    try:
        if fmt == "xml":
            if data is not None:
                raise InvalidParams("--data is for detached CMS signatures; XML signatures are enveloped")
            return await verify_xml(signature, validator)
        return await verify_cms(signature, validator, data=data)
    finally:
        await validator.aclose()


#: what a problem code means, for a person reading the output (the code stays beside it)
_PROBLEM_HINTS = {
    "content_missing": "a detached signature: pass the signed file with --data",
    "chain_untrusted": "no chain to a trust anchor: give the root with --trust-anchor "
                       "(and the issuing CA with --intermediate), or set them in the config file",
}


def _signer_lines(signer: SignerResult) -> list[str]:
    """The signer as `tanba certs show` names people: ``NAME (IIN…)``, then the subject
    and issuer with readable attribute names (SURNAME, GIVENNAME, SERIALNUMBER)."""
    if not signer.certificate:
        return ["(signer certificate not found)"]
    cert = x509.load_pem_x509_certificate(signer.certificate.encode("ascii"))
    info = CertInfo.from_certificate(cert, id="", storage="")
    numbers = ", ".join(f"{label} {value}" for label, value in (
        ("IIN", info.iin), ("BIN", info.bin), ("personal number", info.personal_number), ("UNP", info.unp)) if value)
    return [
        f"{info.owner_name}{f' ({numbers})' if numbers else ''}",
        f"  subject:      {info.subject_dn}",
        f"  issuer:       {info.issuer}",
    ]


def _print(result: VerifyResult) -> None:
    for number, signer in enumerate(result.signers, 1):
        first, *details = _signer_lines(signer)
        click.echo(f"Signer {number}: {first}")
        for line in details:
            click.echo(line)
        click.echo(f"  signing time: {utc_z(signer.signing_time) if signer.signing_time else '-'}")
        click.echo(f"  timestamp:    {utc_z(signer.timestamp) if signer.timestamp else '-'}")
        click.echo(f"  signature:    {'valid' if signer.signature_valid else 'INVALID'}")
        click.echo(f"  chain valid:  {'yes' if signer.chain_valid else 'no'}")
        click.echo(f"  revocation:   {signer.revocation}")
        if signer.problems:
            click.echo(f"  problems:     {', '.join(signer.problems)}")
            for problem in signer.problems:
                if problem in _PROBLEM_HINTS:
                    click.echo(f"  {problem}: {_PROBLEM_HINTS[problem]}")
    click.echo("VALID" if result.valid else "INVALID")


def _settings(config: Path | None) -> Settings:
    """The config file's settings (``--config``, else the user's file when there is one)."""
    from tanba.agent.state import paths

    path = config if config is not None else paths.config_file()
    try:
        return build_settings(load_file(path), {})
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        raise SystemExit(2) from exc


@click.command()
@click.argument("signature", type=_FILE)
@click.option("--data", type=_FILE, help="The signed file, for a detached CMS signature.")
@click.option(
    "--format", "fmt", type=click.Choice(["cms", "xml", "auto"]), default="auto", show_default=True
)
@click.option("--trust-anchor", "anchors", type=_FILE, multiple=True, help="Trusted root CA (PEM/DER); repeatable.")
@click.option(
    "--intermediate", "intermediates", type=_FILE, multiple=True,
    help="Untrusted CA certificate for building the chain; repeatable.",
)
@click.option(
    "--revocation", type=click.Choice(["require", "soft", "off"]), default="soft", show_default=True,
    help="require: unknown status makes a signature invalid; off: no OCSP/CRL requests.",
)
@click.option("--strict", is_flag=True,
              help="What a portal accepting signatures wants: revocation must be known good "
                   "(the same as --revocation require). Without it, soft: VALID with revocation unknown.")
@click.option("--crl", "crls", type=_FILE, multiple=True,
              help="A CRL you already have (PEM/DER), checked like a fetched one; repeatable.")
@click.option("--timeout", type=click.FloatRange(min=0.1), default=10.0, show_default=True,
              help="Seconds allowed for all OCSP/CRL checks of the signature together.")
@click.option("--config", type=_FILE, default=None,
              help="Config file whose trust-anchor, intermediate and fetch-issuers apply "
                   "[the user's config.toml, as `tanba serve` reads it].")
@click.option("--fetch-issuers/--no-fetch-issuers", default=None,
              help="Fetch a missing issuing CA certificate from the AIA caIssuers URL "
                   "[the config's fetch-issuers, default on; off with --revocation off].")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(
    signature: Path,
    data: Path | None,
    fmt: str,
    anchors: tuple[Path, ...],
    intermediates: tuple[Path, ...],
    revocation: str,
    strict: bool,
    crls: tuple[Path, ...],
    timeout: float,
    config: Path | None,
    fetch_issuers: bool | None,
    as_json: bool,
) -> None:
    """Verify SIGNATURE (CMS in DER/PEM/base64, or an XML document with an enveloped signature).

    The default, --revocation soft, reports VALID when no OCSP responder or CRL answered
    (problem revocation_unknown): fine for a person looking at a file, not for a program
    deciding to accept it — use --strict (or --revocation require) there.

    Trust anchors and intermediate CA certificates come from the config file (trust-anchor,
    intermediate: the same the agent's verify uses) and from --trust-anchor / --intermediate."""
    if strict:
        if revocation == "off":
            raise click.UsageError("--strict needs revocation checks: drop --revocation off")
        revocation = "require"
    settings = _settings(config)
    if fetch_issuers is None and revocation == "off":
        fetch_issuers = False  # "off": no network request at all
    try:
        validator = validator_from_settings(
            settings,
            trust_anchors=list(anchors),
            intermediates=list(intermediates),
            revocation=revocation,  # type: ignore[arg-type]  # checked by click.Choice
            timeout=timeout,
            crls=list(crls),
            fetch_issuers=fetch_issuers,
        )
        result = asyncio.run(
            _run(signature.read_bytes(), data.read_bytes() if data else None, fmt, validator)
        )
    except InvalidParams as exc:
        click.echo(f"error: {exc.detail or exc.reason}", err=True)
        raise SystemExit(2) from exc
    if not anchors and not settings.trust_anchor and not as_json:
        click.echo("note: no trust anchor (--trust-anchor, or trust-anchor in the config file), "
                   "so no chain can be valid", err=True)
    if as_json:
        click.echo(json.dumps(result.to_wire(), ensure_ascii=False, indent=2))
    else:
        _print(result)
    raise SystemExit(0 if result.valid else 1)
