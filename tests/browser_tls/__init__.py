"""A headless Chromium driven over the DevTools protocol, and a tiny page server, for the TLS tests."""
