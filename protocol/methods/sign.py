"""``sign``: one confirmation and one PIN for a batch of documents or digests."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Final, Literal

from tanba.protocol.errors import InvalidParams
from tanba.protocol.methods.filter import CertFilter
from tanba.protocol.validate import as_object, b64decode, exact_keys, get_bool, get_str, within

METHOD: Final = "sign"
FORMATS: Final = ("cms", "xml", "raw")
#: digestAlgorithm name -> digest length in bytes
DIGEST_SIZES: Final = {"sha256": 32, "sha384": 48, "sha512": 64,
                       "streebog256": 32, "streebog512": 64, "gost34311-95": 32,
                       "belt-hash": 32, "bash384": 48, "bash512": 64}
#: the hashes of national keys: a GOST or bign key signs only with its own (DESIGN "National algorithms")
NATIONAL_DIGESTS: Final = ("streebog256", "streebog512", "gost34311-95", "belt-hash", "bash384", "bash512")

Format = Literal["cms", "xml", "raw"]

#: why a raw signature is refused with a key that can log in (DESIGN security rule 5: a bare
#: signature over caller-chosen bytes by such a key is a login token for any site).  Public:
#: it is the ``detail`` of the ``invalid_params`` answer on both wires.
RAW_WITH_LOGIN_KEY: Final = (
    "raw signatures are never made with a key that can log in (it would be a login token for any site): "
    "sign a CMS instead, or use a signing-only key"
)


@dataclass(frozen=True)
class XmlOptions:
    """Where the XML signature goes (NCALayer's tbsElementXPath / signatureParentElementXPath)."""

    sign_element: str = ""
    parent: str = ""
    exclusive: bool = False

    @classmethod
    def from_wire(cls, value: Any, where: str = "") -> XmlOptions:
        with within(where):
            obj = as_object(value, "")
            exact_keys(obj, "", optional={"signElement", "parent", "canonicalization"})
            c14n = get_str(obj, "canonicalization", "", "c14n")
            if c14n not in ("c14n", "exc-c14n"):
                raise InvalidParams("canonicalization must be 'c14n' or 'exc-c14n'", field="canonicalization")
            return cls(
                sign_element=get_str(obj, "signElement", "", "", max_len=1024),
                parent=get_str(obj, "parent", "", "", max_len=1024),
                exclusive=c14n == "exc-c14n",
            )


def _b64_list(value: Any, where: str) -> tuple[bytes, ...]:
    if not isinstance(value, list) or not value:
        raise InvalidParams(f"{where} must be a non-empty list of base64 strings", field=where)
    return tuple(b64decode(item, f"{where}[{i}]") for i, item in enumerate(value))


@dataclass(frozen=True)
class SignParams:
    format: Format
    data: tuple[bytes, ...] | None = None
    digests: tuple[bytes, ...] | None = None
    #: None: the key's own hash (SHA-256 for RSA/EC keys, the family's for GOST keys); with
    #: ``digests`` it is None only where the wire does not name it (NCALayer's ``…Hash``
    #: methods): the digests' length and the key decide
    digest_algorithm: str | None = None
    detached: bool = True
    timestamp: bool = False
    include_chain: bool = True
    xml: XmlOptions = field(default_factory=XmlOptions)
    filter: CertFilter = field(default_factory=CertFilter)

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise InvalidParams("format must be 'cms', 'xml' or 'raw'", field="format")
        if (self.data is None) == (self.digests is None):
            raise InvalidParams("give exactly one of data and digests", field="data")
        if self.digest_algorithm is not None and self.digest_algorithm not in DIGEST_SIZES:
            raise InvalidParams(f"digestAlgorithm must be one of {', '.join(DIGEST_SIZES)}", field="digestAlgorithm")
        if self.digests is not None:
            if self.format == "xml":
                raise InvalidParams("an XML signature needs the document, not its digest", field="digests")
            if self.format == "cms" and not self.detached:
                raise InvalidParams("a CMS over a digest can only be detached", field="detached")
            if self.digest_algorithm is not None:
                size = DIGEST_SIZES[self.digest_algorithm]
                for i, digest in enumerate(self.digests):
                    if len(digest) != size:
                        raise InvalidParams(
                            f"digests[{i}] is {len(digest)} bytes; {self.digest_algorithm} digests are {size}",
                            field=f"digests[{i}]",
                        )
            else:
                sizes = set(DIGEST_SIZES.values())
                for i, digest in enumerate(self.digests):
                    if len(digest) not in sizes or len(digest) != len(self.digests[0]):
                        raise InvalidParams(
                            f"digests[{i}] is {len(digest)} bytes; digests are 32, 48 or 64 bytes, all alike",
                            field=f"digests[{i}]",
                        )
        if self.timestamp and self.format != "cms":
            raise InvalidParams("timestamp applies to CMS only", field="timestamp")

    @property
    def count(self) -> int:
        return len(self.data if self.data is not None else self.digests or ())

    @classmethod
    def from_wire(cls, params: Any) -> SignParams:
        obj = as_object(params, "")
        exact_keys(
            obj,
            "",
            required={"format"},
            optional={"data", "digests", "digestAlgorithm", "detached", "timestamp", "includeChain", "xml", "filter"},
        )
        if "digests" in obj and "digestAlgorithm" not in obj:
            raise InvalidParams("digestAlgorithm is needed with digests", field="digestAlgorithm")
        return cls(
            format=get_str(obj, "format", ""),
            data=_b64_list(obj["data"], "data") if "data" in obj else None,
            digests=_b64_list(obj["digests"], "digests") if "digests" in obj else None,
            digest_algorithm=get_str(obj, "digestAlgorithm", "") if "digestAlgorithm" in obj else None,
            detached=get_bool(obj, "detached", "", True),
            timestamp=get_bool(obj, "timestamp", "", False),
            include_chain=get_bool(obj, "includeChain", "", True),
            xml=XmlOptions.from_wire(obj["xml"], "xml") if "xml" in obj else XmlOptions(),
            filter=CertFilter.from_wire(obj["filter"], "filter") if "filter" in obj else CertFilter(),
        )


@dataclass(frozen=True)
class SignResult:
    signatures: tuple[str, ...]  # base64
    certificate: str  # PEM
    chain: tuple[str, ...]  # PEM

    def to_wire(self) -> dict[str, Any]:
        return {"signatures": list(self.signatures), "certificate": self.certificate, "chain": list(self.chain)}
