"""A bare RSGI hello-world for granian (``granian --interface rsgi netid.bench.rsgi_hello:app``):
no framework, no routing, the same JSON as ``/healthz``."""

from __future__ import annotations

from typing import Any

_BODY = b'{"status":"ok"}'
_HEADERS = [("content-type", "application/json")]


async def app(scope: Any, protocol: Any) -> None:
    protocol.response_bytes(200, _HEADERS, _BODY)
