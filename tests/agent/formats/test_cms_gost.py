"""CMS with GOST keys: what CmsBuilder writes, checked by independent verifiers.

* Russian keys (GOST R 34.10-2012): CA and leaf certificates and keys made by the gost engine;
  every CMS Tanba makes is verified by ``openssl cms -verify`` with the engine, and its
  profile is compared with the one the engine writes itself (``openssl cms -sign -cades``).
* Kazakh keys (NCA's 2015-512 and 2004 families): certificates issued by hand for Tanba
  keys; the profile is compared field by field with Kalkan's CMS from the NCA test data,
  and the 2015-512 signature is verified by the engine (its own Streebog-512 over the signed
  attributes, its own GOST R 34.10-2012 with the key rewrapped on the same curve,
  tc26-512-paramSetA, and the r_LE || s_LE value reversed into its s || r big-endian).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest
from asn1crypto import cms as acms
from asn1crypto import pem
from cryptography import x509
from support.gost_engine import openssl
from support.gost_xml import GostSigner, issue_certificate, new_key

from tanba.agent.formats.cms import CmsBuilder, PrecomputedDigest
from tanba.agent.setup.testpki import Manifest
from tanba.crypto import gost, hashes
from tanba.protocol.errors import InvalidParams
from tanba.providers.base import HashAlgorithm, SignatureScheme
from tanba.providers.gost_asn1 import encode_spki, private_key_from_pkcs8

NCA = Path(__file__).resolve().parents[3] / "../shared/testdata/nca"
needs_nca = pytest.mark.skipif(not NCA.exists(), reason=f"no NCA test material at {NCA}")
DOC = "Өтініш № 7\n".encode() * 40




@dataclass(frozen=True)
class RuPki:
    directory: Path
    ca: Path  # CA certificate (PEM)
    leaf: Path  # leaf certificate (PEM)
    leaf_key: Path  # leaf key (PEM, for the engine)
    bits: int

    def signer(self) -> GostSigner:
        der = openssl(self.directory, "pkey", "-in", str(self.leaf_key), "-outform", "DER").stdout
        cert = x509.load_pem_x509_certificate(self.leaf.read_bytes())
        return GostSigner(private_key_from_pkcs8(der), cert)


def ru_pki(directory: Path, bits: int) -> RuPki:
    """A 512-bit CA and a ``bits`` leaf (signing key: KU nonRepudiation, EKU emailProtection)."""
    directory.mkdir(parents=True, exist_ok=True)

    def run(*args: str) -> None:
        openssl(directory, *args)

    run("genpkey", "-algorithm", "gost2012_512", "-pkeyopt", "paramset:A", "-out", "ca.key")
    run("req", "-new", "-x509", "-key", "ca.key", "-md_gost12_512", "-days", "30", "-subj", "/C=RU/CN=Tanba RU CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        "-out", "ca.pem")
    paramset = "A" if bits == 256 else "B"
    run("genpkey", "-algorithm", f"gost2012_{bits}", "-pkeyopt", f"paramset:{paramset}", "-out", "leaf.key")
    run("req", "-new", "-key", "leaf.key", f"-md_gost12_{bits}", "-subj", f"/C=RU/CN=Tanba RU {bits}", "-out", "leaf.csr")
    (directory / "leaf.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=emailProtection\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n")
    run("x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-md_gost12_512",
        "-days", "10", "-extfile", "leaf.ext", "-out", "leaf.pem")
    return RuPki(directory, directory / "ca.pem", directory / "leaf.pem", directory / "leaf.key", bits)


@pytest.fixture(scope="module", params=[256, 512])
def ru(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> RuPki:
    return ru_pki(tmp_path_factory.mktemp(f"ru{request.param}"), request.param)


def engine_verify(pki: RuPki, der: bytes, content: bytes | None = None) -> tuple[bool, bytes]:
    """``openssl cms -verify`` with the engine: (verified, content it gave out)."""
    d = pki.directory
    (d / "sig.p7s").write_bytes(der)
    args = ["cms", "-verify", "-binary", "-inform", "DER", "-in", "sig.p7s", "-CAfile", str(pki.ca), "-out", "out.bin"]
    if content is not None:
        (d / "content.bin").write_bytes(content)
        args += ["-content", "content.bin"]
    proc = openssl(d, *args, check=False)
    ok = proc.returncode == 0 and b"Verification successful" in proc.stderr
    return ok, (d / "out.bin").read_bytes() if ok else b""


def flip_signature_byte(der: bytes) -> bytes:
    """The CMS with one byte of its (last) signature value changed."""
    info = acms.ContentInfo.load(der)
    value = info["content"]["signer_infos"][-1]["signature"].native
    at = der.rindex(value)
    return der[:at] + bytes([der[at] ^ 0x01]) + der[at + 1:]


def signer_info(der: bytes, index: int = 0) -> acms.SignerInfo:
    return acms.ContentInfo.load(der)["content"]["signer_infos"][index]


def attr_types(info: acms.SignerInfo) -> list[str]:
    return [a["type"].dotted for a in info["signed_attrs"]]


# ---------------------------------------------------------------- Russian keys


async def test_ru_cms_verifies_with_the_gost_engine(ru: RuPki) -> None:
    signer = ru.signer()
    builder = CmsBuilder(signer.identity.certificate)
    assert builder.hash_alg is HashAlgorithm(f"streebog{ru.bits}")
    assert builder.scheme is SignatureScheme.GOST3410
    [attached] = await builder.sign_batch(signer, [DOC], detached=False)
    [detached] = await builder.sign_batch(signer, [DOC], detached=True)
    assert engine_verify(ru, attached) == (True, DOC)
    assert engine_verify(ru, detached, DOC)[0]
    assert DOC not in detached
    assert signer.calls == [(1, builder.hash_alg, SignatureScheme.GOST3410)] * 2

    assert not engine_verify(ru, flip_signature_byte(attached))[0]
    assert not engine_verify(ru, flip_signature_byte(detached), DOC)[0]
    assert not engine_verify(ru, detached, DOC[:-1] + b"!")[0]
    tampered = attached.replace(DOC[:20], b"X" + DOC[1:20], 1)
    assert tampered != attached and not engine_verify(ru, tampered)[0]


async def test_ru_batches_big_documents_and_digests_verify_with_the_engine(ru: RuPki) -> None:
    """Past the inline limits (a 40 KiB document, more than four signed-attribute sets)
    the national hashes run in a worker thread; the result is the same."""
    signer = ru.signer()
    builder = CmsBuilder(signer.identity.certificate)
    big = bytes(range(256)) * 160
    docs = [f"doc {i}".encode() for i in range(6)] + [big]
    digest = hashes.digest(builder.hash_alg.value, DOC)
    signed = await builder.sign_batch(signer, [*docs, PrecomputedDigest(digest)], detached=True)
    assert signer.calls == [(8, builder.hash_alg, SignatureScheme.GOST3410)]  # one trip for the batch
    for der, doc in zip(signed, [*docs, DOC]):
        assert engine_verify(ru, der, doc)[0]
    assert not engine_verify(ru, signed[0], docs[1])[0]


async def test_ru_profile_is_what_the_engine_writes_in_cades_mode(ru: RuPki) -> None:
    """digestAlgorithm {Streebog OID, NULL}, signatureAlgorithm {key OID, NULL}, and
    contentType, signingTime, messageDigest, signingCertificateV2 {Streebog OID, NULL} —
    compared DER for DER with ``openssl cms -sign -cades -nosmimecap``."""
    d = ru.directory
    (d / "doc").write_bytes(DOC)
    openssl(d, "cms", "-sign", "-binary", "-nodetach", "-cades", "-nosmimecap", "-md", f"md_gost12_{ru.bits}",
            "-signer", str(ru.leaf), "-inkey", str(ru.leaf_key), "-in", "doc", "-outform", "DER", "-out", "engine.p7s")
    theirs_der = (d / "engine.p7s").read_bytes()
    signer = ru.signer()
    ours_der = await CmsBuilder(signer.identity.certificate).sign(signer, DOC, detached=False)

    ours_sd, theirs_sd = (acms.ContentInfo.load(x)["content"] for x in (ours_der, theirs_der))
    assert ours_sd["version"].native == theirs_sd["version"].native == "v1"
    assert ours_sd["digest_algorithms"].dump() == theirs_sd["digest_algorithms"].dump()
    ours, theirs = ours_sd["signer_infos"][0], theirs_sd["signer_infos"][0]
    for field in ("version", "sid", "digest_algorithm", "signature_algorithm"):
        assert ours[field].dump() == theirs[field].dump(), field
    family = gost.RU_2012_256 if ru.bits == 256 else gost.RU_2012_512
    assert ours["digest_algorithm"]["algorithm"].dotted == family.hash_oid
    assert ours["signature_algorithm"]["algorithm"].dotted == family.key_oid
    assert ours["signature_algorithm"]["parameters"].dump() == b"\x05\x00"
    assert attr_types(ours) == attr_types(theirs) == [
        "1.2.840.113549.1.9.3", "1.2.840.113549.1.9.5", "1.2.840.113549.1.9.4", "1.2.840.113549.1.9.16.2.47"]
    ess = [a for a in ours["signed_attrs"] if a["type"].native == "signing_certificate_v2"][0]
    ess_theirs = [a for a in theirs["signed_attrs"] if a["type"].native == "signing_certificate_v2"][0]
    assert ess.dump() == ess_theirs.dump()  # same hash, same certificate hash, same issuerSerial
    md = [a for a in ours["signed_attrs"] if a["type"].native == "message_digest"][0]
    assert md["values"][0].native == hashes.digest(family.hash, DOC)
    assert len(ours["signature"].native) == family.signature_size


# ---------------------------------------------------------------- Kazakh keys


def kz_identity(family: gost.Family) -> tuple[gost.PrivateKey, x509.Certificate, x509.Certificate]:
    """A key of ``family``, its certificate, and the (same family) CA that issued it."""
    ca_key = new_key(family)
    ca = issue_certificate(ca_key, "ҰЛТТЫҚ КУӘЛАНДЫРУШЫ ОРТАЛЫҚ (TANBA TEST)")
    key = new_key(family)
    return key, issue_certificate(key, "ТЕСТОВ ТЕСТ", issuer=(ca_key, ca)), ca


KALKAN_OIDS = {  # family -> (digestAlgorithm DER, signatureAlgorithm DER) as Kalkan writes them
    gost.KZ_2015_512.name: ("300c06082a830e030a01030305 00", "300e060a2a830e030a010102030205 00"),
    gost.KZ_2004.name: ("300c06082a830e030a01030105 00", "300d06092a830e030a0101010205 00"),
}


@pytest.mark.parametrize("family", [gost.KZ_2015_512, gost.KZ_2004], ids=lambda f: f.name)
async def test_kz_profile_is_kalkans_by_the_bytes(family: gost.Family) -> None:
    key, cert, _ = kz_identity(family)
    signer = GostSigner(key, cert)
    builder = CmsBuilder(cert)
    assert builder.hash_alg.value == family.hash
    der = await builder.sign(signer, DOC, detached=False)
    sd = acms.ContentInfo.load(der)["content"]
    info = sd["signer_infos"][0]
    digest_hex, signature_hex = (bytes.fromhex(x) for x in KALKAN_OIDS[family.name])
    assert [a.dump() for a in sd["digest_algorithms"]] == [digest_hex]
    assert info["digest_algorithm"].dump() == digest_hex
    assert info["signature_algorithm"].dump() == signature_hex
    assert info["version"].native == "v1" and info["sid"].name == "issuer_and_serial_number"
    assert attr_types(info) == ["1.2.840.113549.1.9.3", "1.2.840.113549.1.9.5", "1.2.840.113549.1.9.4"]
    signed_attrs = b"\x31" + info["signed_attrs"].dump()[1:]
    assert key.public_key.verify(hashes.digest(family.hash, signed_attrs), info["signature"].native)


@needs_nca
@pytest.mark.parametrize(("family", "sample"), [(gost.KZ_2015_512, "kalkan_gost2015_rsa.p7s"),
                                                (gost.KZ_2004, "kalkan_gost2004.p7s")], ids=["2015-512", "2004"])
async def test_kz_profile_matches_the_kalkan_sample(family: gost.Family, sample: str) -> None:
    kalkan_sd = acms.ContentInfo.load((NCA / sample).read_bytes())["content"]
    kalkan = kalkan_sd["signer_infos"][0]
    key, cert, _ = kz_identity(family)
    der = await CmsBuilder(cert).sign(GostSigner(key, cert), b"test123", detached=False)
    sd = acms.ContentInfo.load(der)["content"]
    ours = sd["signer_infos"][0]
    assert sd["version"].native == kalkan_sd["version"].native
    assert sd["digest_algorithms"][0].dump() == kalkan_sd["digest_algorithms"][0].dump()
    assert sd["encap_content_info"]["content_type"].dump() == kalkan_sd["encap_content_info"]["content_type"].dump()
    for field in ("version", "digest_algorithm", "signature_algorithm"):
        assert ours[field].dump() == kalkan[field].dump(), field
    assert attr_types(ours) == attr_types(kalkan)
    for i in (0, 1):  # contentType and signingTime (UTCTime) encoded alike
        assert ours["signed_attrs"][i]["values"][0].tag == kalkan["signed_attrs"][i]["values"][0].tag
    assert len(ours["signature"].native) == len(kalkan["signature"].native) == family.signature_size


async def test_kz_2015_signature_verifies_with_the_engine(tmp_path: Path) -> None:
    key, cert, _ = kz_identity(gost.KZ_2015_512)
    der = await CmsBuilder(cert).sign(GostSigner(key, cert), DOC, detached=True)
    info = signer_info(der)
    (tmp_path / "attrs.der").write_bytes(b"\x31" + info["signed_attrs"].dump()[1:])
    (tmp_path / "doc").write_bytes(DOC)
    rewrapped = gost.PublicKey.from_bytes(gost.RU_2012_512, "1.2.643.7.1.2.1.2.1", key.public_key.to_bytes())
    (tmp_path / "pub.pem").write_bytes(pem.armor("PUBLIC KEY", encode_spki(rewrapped)))

    def engine_accepts(signature: bytes) -> bool:
        (tmp_path / "sig.bin").write_bytes(signature[::-1])  # r_LE || s_LE reversed: s || r big-endian
        openssl(tmp_path, "dgst", "-streebog512", "-binary", "-out", "digest.bin", "attrs.der")
        proc = openssl(tmp_path, "pkeyutl", "-verify", "-pubin", "-inkey", "pub.pem", "-in", "digest.bin",
                       "-sigfile", "sig.bin", check=False)
        return proc.returncode == 0 and b"Verified Successfully" in proc.stdout

    md = [a for a in info["signed_attrs"] if a["type"].native == "message_digest"][0]["values"][0].native
    assert md == openssl(tmp_path, "dgst", "-streebog512", "-binary", "doc").stdout
    signature = info["signature"].native
    assert engine_accepts(signature)
    assert not engine_accepts(bytes([signature[0] ^ 1]) + signature[1:])


# ---------------------------------------------------------------- what does not fit


async def test_a_gost_key_signs_only_with_its_own_hash_and_scheme() -> None:
    _, cert, _ = kz_identity(gost.KZ_2015_512)
    for hash_alg in (HashAlgorithm.SHA256, HashAlgorithm.STREEBOG256, HashAlgorithm.GOST34311):
        with pytest.raises(InvalidParams, match="signs only with streebog512"):
            CmsBuilder(cert, (), hash_alg)
    for scheme in (SignatureScheme.ECDSA, SignatureScheme.RSA_PKCS1V15, SignatureScheme.RSA_PSS):
        with pytest.raises(InvalidParams, match="does not fit"):
            CmsBuilder(cert, (), None, scheme)
    assert CmsBuilder(cert, (), HashAlgorithm.STREEBOG512).hash_alg is HashAlgorithm.STREEBOG512


async def test_other_keys_take_no_national_hash_nor_the_gost_scheme(pki: Manifest) -> None:
    rsa = pki.identities["rsa-sign"].certificate()
    for hash_alg in (HashAlgorithm.STREEBOG256, HashAlgorithm.STREEBOG512, HashAlgorithm.GOST34311):
        with pytest.raises(InvalidParams, match="for GOST keys"):
            CmsBuilder(rsa, (), hash_alg)
    with pytest.raises(InvalidParams, match="does not fit"):
        CmsBuilder(rsa, (), HashAlgorithm.SHA256, SignatureScheme.GOST3410)


async def test_a_precomputed_digest_must_have_the_family_hash_length() -> None:
    key, cert, _ = kz_identity(gost.KZ_2015_512)
    signer = GostSigner(key, cert)
    with pytest.raises(InvalidParams, match="streebog512 needs 64"):
        await CmsBuilder(cert).sign(signer, PrecomputedDigest(bytes(32)))
    assert signer.calls == []
