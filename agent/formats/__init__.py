"""Signature formats built on the provider primitive: CMS/CAdES, XML-DSig, raw, auth token."""
