"""The national algorithms, in Tanba's own code: pure, no I/O, no other Tanba package.

Hashes (Streebog, GOST R 34.11-94 / GOST 34.311-95) and signatures (GOST R 34.10 on the
TC26 and CryptoPro curves) are written here because no maintained Python library has them;
each is held to its standard's test vectors and to an independent implementation (OpenSSL's
gost engine) in tests/crypto.  The rest of Tanba asks "hash this", "sign this digest with
this key", "verify this", whatever the family.
"""
