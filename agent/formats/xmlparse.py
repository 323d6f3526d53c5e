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
  nesting depth, node count (elements, attributes, text, comments, PIs), and namespace
  declarations (in scope at one element, and summed over all elements).

Every check is linear in the input and stops early: the document is fed to libxml2 in
chunks and the parser's events (start and end tags, namespace declarations, comments,
PIs) are counted as they come, so a refused document is never built in full.  The bounds
also keep later work linear: libxml2's inclusive C14N spends, per element, time
quadratic in the namespace declarations in scope there (200 at the root of 40,000 empty
elements: seconds), so those are bounded per element and in total.

This is CPU work (up to a second or so for the largest documents): callers in the agent
run it off the event loop.

Every refusal is :class:`~tanba.protocol.errors.InvalidParams` with a message saying which
rule was hit; messages never quote document content.
"""

from __future__ import annotations

import codecs
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from lxml import etree

from tanba.protocol.errors import InvalidParams

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES: Final = 16 * 1024 * 1024
DEFAULT_MAX_DEPTH: Final = 128
DEFAULT_MAX_NODES: Final = 1_000_000
#: namespace declarations in scope at one element (on it and its ancestors, shadowed ones
#: too).  Ordinary documents have a handful; XBRL instances up to about a hundred.
DEFAULT_MAX_NAMESPACES: Final = 128
#: the same, summed over every element: with both bounds, libxml2's inclusive C14N of a
#: whole document stays near a second in the worst case (128 declarations, 31,000 elements)
DEFAULT_MAX_NAMESPACE_BINDINGS: Final = 4_000_000
_LIBXML2_MAX_DEPTH: Final = 256
_CHUNK: Final = 64 * 1024
_EVENTS: Final = ("start-ns", "start", "end", "comment", "pi")


@dataclass(frozen=True)
class XmlLimits:
    """The shape bounds of :func:`parse_xml_document` (the size bound is ``max_bytes``)."""

    max_depth: int = DEFAULT_MAX_DEPTH
    max_nodes: int = DEFAULT_MAX_NODES
    max_namespaces: int = DEFAULT_MAX_NAMESPACES
    max_namespace_bindings: int = DEFAULT_MAX_NAMESPACE_BINDINGS


@dataclass(frozen=True)
class ParsedXml:
    """A parsed document and the namespace prefixes it declares.

    ``prefixes`` maps each non-empty prefix to the URI of its first declaration in
    document order (``xml`` left out): what XPath expressions over the document may use.
    """

    tree: Any
    prefixes: dict[str, str]
    nodes: int


def _parser() -> Any:
    # A fresh parser per call: lxml parsers keep error logs and are not thread-safe.
    return etree.XMLPullParser(
        events=_EVENTS,
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
    max_namespaces: int = DEFAULT_MAX_NAMESPACES,
    max_namespace_bindings: int = DEFAULT_MAX_NAMESPACE_BINDINGS,
) -> Any:
    """Parse untrusted ``data`` into an lxml ``ElementTree`` or refuse with InvalidParams."""
    limits = XmlLimits(max_depth, max_nodes, max_namespaces, max_namespace_bindings)
    return parse_xml_document(data, max_bytes=max_bytes, limits=limits).tree


def parse_xml_document(
    data: bytes, *, max_bytes: int = DEFAULT_MAX_BYTES, limits: XmlLimits | None = None
) -> ParsedXml:
    """Like :func:`parse_xml`, and also say which namespace prefixes the document declares."""
    if not isinstance(data, bytes):
        raise InvalidParams("XML must be given as bytes")
    if len(data) > max_bytes:
        raise InvalidParams(f"XML larger than {max_bytes} bytes is refused")
    if not data.strip():
        raise InvalidParams("XML document is empty")
    limits = limits or XmlLimits()
    shape = _Shape(limits)
    parser = _parser()
    try:
        for start in range(0, len(data), _CHUNK):
            parser.feed(data[start : start + _CHUNK])
            shape.take(parser.read_events())
        root = parser.close()
        shape.take(parser.read_events())
    except etree.XMLSyntaxError as exc:
        raise _syntax_error(data, exc, limits.max_depth) from exc
    except (etree.ParserError, ValueError) as exc:
        raise InvalidParams("XML could not be parsed") from exc
    tree = root.getroottree()
    _refuse_doctype(tree)
    log.debug("parsed XML: %d nodes, %d namespace bindings", shape.nodes, shape.bindings)
    return ParsedXml(tree=tree, prefixes=shape.prefixes, nodes=shape.nodes)


def _syntax_error(data: bytes, exc: etree.XMLSyntaxError, max_depth: int) -> InvalidParams:
    if _declares_doctype(data):  # e.g. billion laughs trips libxml2's amplification limit
        return InvalidParams("XML with a DOCTYPE is refused")
    if "Excessive depth" in str(exc):  # libxml2's own limit, without huge_tree
        limit = min(max_depth, _LIBXML2_MAX_DEPTH)
        return InvalidParams(f"XML nested deeper than {limit} levels is refused")
    line, column = exc.position
    return InvalidParams(f"XML is not well-formed (line {line}, column {column})")


def _refuse_doctype(tree: Any) -> None:
    info = tree.docinfo
    if info.doctype or info.internalDTD is not None or info.externalDTD is not None:
        raise InvalidParams("XML with a DOCTYPE is refused")


class _Shape:
    """Counts the parser's events and refuses as soon as a limit is passed.

    Nodes are counted as XPath sees them: each element, attribute, comment and PI, and
    each run of text (an element's ``text``, and each child's ``tail``, counted when the
    element ends).  A namespace declaration is reported (``start-ns``) just before the
    start tag that carries it.
    """

    def __init__(self, limits: XmlLimits) -> None:
        self.limits = limits
        self.nodes = 0
        self.bindings = 0
        self.prefixes: dict[str, str] = {}
        self._scope = [0]  # declarations in scope at each open element (a sentinel first)
        self._declared = 0  # declarations on the start tag about to be reported
        self._seen_root = False

    def take(self, events: Iterable[tuple[str, Any]]) -> None:
        for event, value in events:
            if event == "start":
                self._start(value)
            elif event == "end":
                self._end(value)
            elif event == "start-ns":
                self._declare(*value)
            else:  # comment, pi
                self._count(1)

    def _declare(self, prefix: str, uri: str) -> None:
        self._declared += 1
        if prefix and prefix != "xml":
            self.prefixes.setdefault(prefix, uri)

    def _start(self, element: Any) -> None:
        if not self._seen_root:  # the prologue is read: refuse a DOCTYPE before the body
            self._seen_root = True
            _refuse_doctype(element.getroottree())
        limits = self.limits
        if len(self._scope) > limits.max_depth:
            raise InvalidParams(f"XML nested deeper than {limits.max_depth} levels is refused")
        in_scope = self._scope[-1] + self._declared
        self._declared = 0
        if in_scope > limits.max_namespaces:
            raise InvalidParams(
                f"XML with more than {limits.max_namespaces} namespace declarations in scope is refused"
            )
        self.bindings += in_scope
        if self.bindings > limits.max_namespace_bindings:
            raise InvalidParams(
                f"XML with more than {limits.max_namespace_bindings} namespace bindings is refused"
            )
        self._scope.append(in_scope)
        self._count(1 + len(element.attrib))

    def _end(self, element: Any) -> None:
        self._scope.pop()
        texts = 1 if element.text else 0
        for child in element:
            if child.tail:
                texts += 1
        self._count(texts)

    def _count(self, n: int) -> None:
        self.nodes += n
        if self.nodes > self.limits.max_nodes:
            raise InvalidParams(f"XML with more than {self.limits.max_nodes} nodes is refused")


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
