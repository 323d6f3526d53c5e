"""Params and result values of the native methods, one module per method (pure)."""
