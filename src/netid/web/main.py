"""ASGI entry point for ``uvicorn netid.web.main:app`` (settings from the environment).

Every worker process refuses to start with a failing crypto self-test (SEC-37) or an unsafe
production configuration.
"""

from __future__ import annotations

from netid.config import Settings
from netid.container import Container
from netid.crypto.selftest import run_self_tests
from netid.web.app import create_app

run_self_tests()
_container = Container(Settings())
_container.check_profile()
app = create_app(_container)
