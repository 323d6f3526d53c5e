"""Hostile XML from a web page is refused before it can read files, reach the network or
exhaust memory; ordinary documents parse unchanged."""

from __future__ import annotations

import codecs
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from lxml import etree

from tanba.agent.formats.xmlparse import has_xml_declaration, parse_xml, parse_xml_document
from tanba.protocol.errors import InvalidParams

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<lolz>&lol9;</lolz>"""


class _Recorder(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        type(self).hits.append(self.path)
        body = b'<!ENTITY leak "FETCHED-FROM-NETWORK">'
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback that records every request the parser might make."""
    hits: list[str] = []
    handler = type("Handler", (_Recorder,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def refused(data: bytes, **limits: int) -> str:
    with pytest.raises(InvalidParams) as info:
        parse_xml(data, **limits)
    assert info.value.reason == "invalid_params"
    return str(info.value)


def test_ordinary_document_parses_with_comments_cdata_and_cyrillic() -> None:
    data = ("<?xml version='1.0' encoding='UTF-8'?>\n<заявка a='1'><!-- note -->"
            "<![CDATA[<x>]]>Иванов</заявка>").encode()
    root = parse_xml(data).getroot()
    assert root.tag == "заявка"
    assert etree.tostring(root, encoding="unicode") == (
        "<заявка a=\"1\"><!-- note --><![CDATA[<x>]]>Иванов</заявка>")


def test_billion_laughs_is_refused_for_its_doctype() -> None:
    assert refused(BILLION_LAUGHS) == "XML with a DOCTYPE is refused"


def test_external_entity_does_not_read_local_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CANARY")
    for uri in ("file:///etc/passwd", secret.as_uri()):
        data = f'<!DOCTYPE r [<!ENTITY e SYSTEM "{uri}">]><r>&e;</r>'.encode()
        message = refused(data)
        assert message == "XML with a DOCTYPE is refused"
        assert "CANARY" not in message and "root:" not in message


def test_external_and_parameter_entities_never_reach_the_network(
    web: tuple[str, list[str]],
) -> None:
    url, hits = web
    attacks = [
        f'<!DOCTYPE r [<!ENTITY e SYSTEM "{url}/general">]><r>&e;</r>',
        f'<!DOCTYPE r [<!ENTITY % p SYSTEM "{url}/param"> %p;]><r>&leak;</r>',
        f'<!DOCTYPE r SYSTEM "{url}/external-dtd"><r>&leak;</r>',
        f'<!DOCTYPE r PUBLIC "-//X//Y//EN" "{url}/public"><r/>',
    ]
    for attack in attacks:
        assert refused(attack.encode()) == "XML with a DOCTYPE is refused"
    assert hits == []


def test_bare_doctype_is_refused_too() -> None:
    assert refused(b"<!DOCTYPE r><r/>") == "XML with a DOCTYPE is refused"


def test_xinclude_is_left_unprocessed(tmp_path: Path, web: tuple[str, list[str]]) -> None:
    url, hits = web
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-CANARY")
    data = (
        '<r xmlns:xi="http://www.w3.org/2001/XInclude">'
        f'<xi:include href="{secret.as_uri()}" parse="text"/>'
        f'<xi:include href="{url}/xinclude" parse="text"/></r>'
    ).encode()
    root = parse_xml(data).getroot()
    text = etree.tostring(root)
    assert b"CANARY" not in text and b"FETCHED" not in text
    assert len(root.findall("{http://www.w3.org/2001/XInclude}include")) == 2
    assert hits == []


def test_documents_over_the_size_limit_are_refused_before_parsing() -> None:
    small = b"<r>" + b"a" * 100 + b"</r>"
    assert refused(small, max_bytes=50) == "XML larger than 50 bytes is refused"
    huge = b"<r>" + b"a" * (16 * 1024 * 1024) + b"</r>"  # just over the 16 MiB default
    assert refused(huge) == f"XML larger than {16 * 1024 * 1024} bytes is refused"


def test_deep_nesting_is_refused() -> None:
    def nested(n: int) -> bytes:
        return b"<a>" * n + b"</a>" * n

    assert parse_xml(nested(128)).getroot().tag == "a"
    assert refused(nested(129)) == "XML nested deeper than 128 levels is refused"
    assert refused(nested(10), max_depth=5) == "XML nested deeper than 5 levels is refused"
    # Past libxml2's own limit the parser stops before building the tree.
    assert refused(nested(5000)) == "XML nested deeper than 128 levels is refused"


def test_too_many_nodes_are_refused() -> None:
    data = b"<r>" + b'<i k="v"/>' * 60 + b"</r>"
    assert parse_xml(data, max_nodes=121).getroot().tag == "r"  # 1 + 60 elements + 60 attributes
    assert refused(data, max_nodes=120) == "XML with more than 120 nodes is refused"


def test_malformed_and_empty_input_are_refused_without_quoting_content() -> None:
    message = refused(b"<secret-tag><b></secret-tag>")
    assert message.startswith("XML is not well-formed (line 1")
    assert "secret" not in message
    assert refused(b"  \n") == "XML document is empty"
    assert refused("<r/>".encode("utf-16")[:5]).startswith("XML is not well-formed")


def test_xml_declaration_is_detected_in_utf8_and_utf16() -> None:
    assert has_xml_declaration(b"<?xml version='1.0'?><r/>")
    assert has_xml_declaration(codecs.BOM_UTF8 + b'<?xml version="1.0"?><r/>')
    assert has_xml_declaration('<?xml version="1.0" encoding="UTF-16"?><r/>'.encode("utf-16"))
    assert not has_xml_declaration(b"<r/>")
    assert not has_xml_declaration(b'<?xml-stylesheet href="a.xsl"?><r/>')


def test_text_comments_and_pis_count_as_nodes() -> None:
    data = b"<?p top?><r>t<!--c--><?q x?><b/>u</r>"  # p, r, "t", comment, q, b, "u"
    assert parse_xml(data, max_nodes=7).getroot().tag == "r"
    assert refused(data, max_nodes=6) == "XML with more than 6 nodes is refused"


def test_namespace_declarations_are_bounded_in_scope_and_in_total() -> None:
    def declared(n: int) -> str:
        return "".join(f' xmlns:p{i}="urn:{i}"' for i in range(n))

    assert parse_xml(f"<r{declared(128)}><a/></r>".encode()).getroot().tag == "r"
    assert refused(f"<r{declared(129)}/>".encode()) == (
        "XML with more than 128 namespace declarations in scope is refused")
    # Declarations on ancestors count, shadowed ones too (libxml2's C14N walks them all).
    nested = "".join(f'<e xmlns:p="urn:{i}">' for i in range(10)) + "</e>" * 10
    assert refused(nested.encode(), max_namespaces=9) == (
        "XML with more than 9 namespace declarations in scope is refused")
    # In total: 10 declarations in scope at each of 1 + 100 elements.
    wide = f"<r{declared(10)}>" + "<a/>" * 100 + "</r>"
    assert parse_xml(wide.encode(), max_namespace_bindings=1010).getroot().tag == "r"
    assert refused(wide.encode(), max_namespace_bindings=1009) == (
        "XML with more than 1009 namespace bindings is refused")


def test_declared_prefixes_are_reported_first_declaration_first() -> None:
    parsed = parse_xml_document(
        b'<r xmlns="urn:d" xmlns:a="urn:1"><x xmlns:a="urn:2" xmlns:b="urn:3"/>'
        b'<y xmlns:xml="http://www.w3.org/XML/1998/namespace"/></r>')
    assert parsed.prefixes == {"a": "urn:1", "b": "urn:3"}
    assert parsed.tree.getroot().tag == "{urn:d}r"


def test_a_doctype_before_a_huge_body_is_refused_for_the_doctype() -> None:
    data = b"<!DOCTYPE r><r>" + b"<a/>" * 2_000_000 + b"</r>"  # more nodes than allowed, too
    assert refused(data, max_bytes=len(data)) == "XML with a DOCTYPE is refused"
