"""ASGI entry point for ``uvicorn netid.web.main:app`` (settings from the environment)."""

from __future__ import annotations

from netid.config import Settings
from netid.container import Container
from netid.web.app import create_app

app = create_app(Container(Settings()))
