"""Test-only servers and helpers shared by the test suite (TSA, OCSP responder, clients)."""
