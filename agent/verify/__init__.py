"""Signature verification: cryptographic check, chain, timestamp, revocation."""
