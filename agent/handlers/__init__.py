"""One module per native method; :func:`table` collects them."""

from __future__ import annotations

from typing import Any

from tanba.agent.dispatch import Method


def table() -> dict[str, Method[Any, Any]]:
    from tanba.agent.handlers import auth, certs_list, hello, sign, verify

    methods: list[Method[Any, Any]] = [hello.method, certs_list.method, sign.method, auth.method, verify.method]
    return {m.name: m for m in methods}
