"""Parse XML that came from a web page, refusing what could hurt the user's machine.

Portals send whole documents to sign, so the parser is an attack surface: entity
expansion (billion laughs), external entities that read local files or reach the network
(``file:///etc/passwd``, ``http://...``), parameter entities, XInclude, and documents built
to exhaust memory.  The rules here:

* no DTD at all: a document with a ``<!DOCTYPE ...>`` is refused outright, so no entity of
  any kind is ever defined, let alone expanded or fetched;
* the parser itself never resolves entities, never loads a DTD and never uses the network
  (defence in depth: the DOCTYPE check runs after libxml2 has read the prologue);
* XInclude is never processed: ``xi:include`` elements stay ordinary elements;
* libxml2's ``huge_tree`` stays off, and the caller's limits apply: input size, element
  nesting depth, and node count (elements, attributes, text, comments, PIs).

Every refusal is :class:`~tanba.protocol.errors.InvalidParams` with a message saying which
rule was hit; messages never quote document content.
"""

from __future__ import annotations

import codecs
import logging
from typing import Any, Final

from lxml import etree

from tanba.protocol.errors import InvalidParams

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH: Final = 128
DEFAULT_MAX_NODES: Final = 1_000_000
_LIBXML2_MAX_DEPTH: Final = 256


def _parser() -> Any:
    # A fresh parser per call: lxml parsers keep error logs and are not thread-safe.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        attribute_defaults=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        strip_cdata=False,
        remove_blank_text=False,
    )


def has_xml_declaration(data: bytes) -> bool:
    """Whether ``data`` starts with an ``<?xml ...?>`` declaration (UTF-8 or UTF-16)."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            head = data[len(bom) : len(bom) + 12].decode(encoding, errors="replace")
            break
    else:
        head = data[:6].decode("latin-1")
    return head.startswith("<?xml") and head[5:6] in (" ", "\t", "\r", "\n")


def parse_xml(
    data: bytes,
    *,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int = DEFAULT_MAX_NODES,
) -> Any:
    """Parse untrusted ``data`` into an lxml ``ElementTree`` or refuse with InvalidParams."""
    if not isinstance(data, bytes):
        raise InvalidParams("XML must be given as bytes")
    if len(data) > max_bytes:
        raise InvalidParams(f"XML larger than {max_bytes} bytes is refused")
    if not data.strip():
        raise InvalidParams("XML document is empty")
    try:
        root = etree.fromstring(data, _parser())
    except etree.XMLSyntaxError as exc:
        if _declares_doctype(data):  # e.g. billion laughs trips libxml2's amplification limit
            raise InvalidParams("XML with a DOCTYPE is refused") from exc
        line, column = exc.position
        if "Excessive depth" in str(exc):  # libxml2's own limit, without huge_tree
            limit = min(max_depth, _LIBXML2_MAX_DEPTH)
            raise InvalidParams(f"XML nested deeper than {limit} levels is refused") from exc
        raise InvalidParams(f"XML is not well-formed (line {line}, column {column})") from exc
    except (etree.ParserError, ValueError) as exc:
        raise InvalidParams("XML could not be parsed") from exc
    tree = root.getroottree()
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise InvalidParams("XML with a DOCTYPE is refused")
    _check_shape(root, max_depth=max_depth, max_nodes=max_nodes)
    return tree


class _DoctypeFound(Exception):
    pass


class _DoctypeSpotter:
    """Parser target that stops at ``<!DOCTYPE``, before any internal subset is read."""

    def doctype(self, name: object, public_id: object, system_url: object) -> None:
        raise _DoctypeFound

    def start(self, tag: object, attrib: object) -> None:
        pass

    def end(self, tag: object) -> None:
        pass

    def data(self, data: object) -> None:
        pass

    def close(self) -> None:
        pass


def _declares_doctype(data: bytes) -> bool:
    parser = etree.XMLParser(
        target=_DoctypeSpotter(), resolve_entities=False, no_network=True, load_dtd=False
    )
    try:
        etree.fromstring(data, parser)
    except _DoctypeFound:
        return True
    except etree.LxmlError:
        pass
    return False


def _check_shape(root: Any, *, max_depth: int, max_nodes: int) -> None:
    # Both checks are single XPath calls, evaluated in C: cheap even for large documents.
    too_deep = "boolean(/" + "/".join(["*"] * (max_depth + 1)) + ")"
    if root.xpath(too_deep):
        raise InvalidParams(f"XML nested deeper than {max_depth} levels is refused")
    nodes = int(root.xpath("count(//node() | //@*)"))
    if nodes > max_nodes:
        raise InvalidParams(f"XML with more than {max_nodes} nodes is refused")
    log.debug("parsed XML: %d nodes", nodes)
