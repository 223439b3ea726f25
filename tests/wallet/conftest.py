"""No wallet test ever touches the real ``~/.netid-wallet``."""

from __future__ import annotations

from pathlib import Path

import pytest

from netid.wallet.state import WALLET_ENV


@pytest.fixture(autouse=True)
def _private_default_wallet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(WALLET_ENV, str(tmp_path / "default-wallet"))
