"""The wallet directory: private permissions, atomic writes, damaged files as clear errors."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from netid.crypto import jose_keys
from netid.wallet import state
from netid.wallet.errors import (
    WalletExists,
    WalletFileCorrupt,
    WalletInsecure,
    WalletNotInitialised,
)
from netid.wallet.state import Enrolment, QrRefs, Session, WalletConfig, WalletDir


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def wallet(tmp_path: Path) -> WalletDir:
    directory = WalletDir(tmp_path / "deep" / "wallet")
    directory.create()
    directory.save_config(WalletConfig(server="http://127.0.0.1:9"))
    return directory


def test_created_private_with_a_private_device_key(wallet: WalletDir) -> None:
    assert mode(wallet.path) == 0o700
    key = wallet.create_device_key()
    assert mode(wallet.path / state.KEY_FILE) == 0o600
    assert mode(wallet.path / state.WALLET_FILE) == 0o600
    loaded = wallet.device_key()
    assert jose_keys.jwk_thumbprint(loaded) == jose_keys.jwk_thumbprint(key)
    # Stored as a private JWK whose kid is the thumbprint (RFC 7638).
    jwk = json.loads((wallet.path / state.KEY_FILE).read_text())
    assert jwk["kty"] == "EC" and jwk["crv"] == "P-256" and jwk["kid"] == jwk_thumb(key)
    assert sorted(os.listdir(wallet.path)) == [state.KEY_FILE, state.WALLET_FILE]  # no leftovers


def jwk_thumb(key: jose_keys.JosePrivateKey) -> str:
    return jose_keys.jwk_thumbprint(key)


def test_a_device_key_is_never_overwritten(wallet: WalletDir) -> None:
    first = wallet.create_device_key()
    with pytest.raises(WalletExists):
        wallet.create_device_key()
    assert jwk_thumb(wallet.device_key()) == jwk_thumb(first)
    assert sorted(os.listdir(wallet.path)) == [state.KEY_FILE, state.WALLET_FILE]


def test_a_loose_directory_is_refused_not_tightened(wallet: WalletDir) -> None:
    wallet.path.chmod(0o755)
    with pytest.raises(WalletInsecure) as caught:
        wallet.config()
    assert caught.value.code == "wallet_insecure"
    assert str(wallet.path) not in caught.value.message  # no path in the message
    with pytest.raises(WalletInsecure):
        WalletDir(wallet.path).create()
    assert mode(wallet.path) == 0o755


def test_a_file_readable_by_others_is_refused(wallet: WalletDir) -> None:
    wallet.create_device_key()
    (wallet.path / state.KEY_FILE).chmod(0o644)
    with pytest.raises(WalletInsecure) as caught:
        wallet.device_key()
    assert caught.value.details == {"file": state.KEY_FILE}


def test_a_symlinked_state_file_is_refused(wallet: WalletDir, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere.json"
    elsewhere.write_text("{}")
    elsewhere.chmod(0o600)
    (wallet.path / state.SESSION_FILE).symlink_to(elsewhere)
    with pytest.raises(WalletInsecure):
        wallet.session()


def test_no_wallet_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(WalletNotInitialised):
        WalletDir(tmp_path / "none").config()
    empty = WalletDir(tmp_path / "empty")
    empty.create()
    with pytest.raises(WalletNotInitialised):
        empty.config()
    with pytest.raises(WalletNotInitialised):
        empty.device_key()


@pytest.mark.parametrize(
    ("name", "content"),
    [
        (state.WALLET_FILE, b"{not json"),
        (state.WALLET_FILE, b'{"format": "netid-wallet/1"}'),
        (state.WALLET_FILE, b'{"format": "other/9", "server": "http://x"}'),
        (state.SESSION_FILE, b'{"token": 5}'),
        (state.SESSION_FILE, b"[]"),
        (state.QR_REFS_FILE, b'{"refs": "abc", "expires_at": "x"}'),
        (state.KEY_FILE, b'{"kty": "EC", "crv": "P-256", "d": "short"}'),
        (state.KEY_FILE, b'{"kty": "OKP"}'),
        (state.KEY_FILE, b"\xff\xfe"),
        (state.CREDENTIAL_FILE, b"not a credential"),
        (state.CREDENTIAL_FILE, b"\xff.\xff.\xff~"),
    ],
)
def test_a_damaged_file_is_named_in_a_clear_error(
    wallet: WalletDir, name: str, content: bytes
) -> None:
    path = wallet.path / name
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    os.write(fd, content)
    os.close(fd)
    readers = {
        state.WALLET_FILE: wallet.config,
        state.SESSION_FILE: wallet.session,
        state.QR_REFS_FILE: wallet.qr_refs,
        state.KEY_FILE: wallet.device_key,
        state.CREDENTIAL_FILE: wallet.credential,
    }
    with pytest.raises(WalletFileCorrupt) as caught:
        readers[name]()
    assert caught.value.code == "wallet_file_corrupt"
    assert caught.value.details == {"file": name}


def test_a_key_file_whose_public_half_was_swapped_is_damaged(wallet: WalletDir) -> None:
    wallet.create_device_key()
    path = wallet.path / state.KEY_FILE
    jwk = json.loads(path.read_text())
    other = jose_keys.public_jwk(jose_keys.generate_private_key("ES256"), "x")
    jwk["x"] = other["x"]
    path.write_text(json.dumps(jwk))
    with pytest.raises(WalletFileCorrupt):
        wallet.device_key()


def test_round_trips(wallet: WalletDir) -> None:
    enrolment = Enrolment(
        "e" * 22, "2026-12-02T10:00:00+00:00", "none", ("face", "otp"), "138****0000"
    )
    config = wallet.update_config(enrolment=enrolment)
    assert wallet.config() == config and "e" * 22 not in repr(config)
    session = Session("secret-token", "2026-12-02T10:15:00+00:00", "L2")
    wallet.save_session(session)
    assert wallet.session() == session and "secret-token" not in repr(session)
    wallet.save_qr_refs(QrRefs(("r1", "r2"), "2026-12-02T10:15:00+00:00"))
    assert wallet.qr_refs() == QrRefs(("r1", "r2"), "2026-12-02T10:15:00+00:00")
    wallet.clear_session()
    assert wallet.session() is None and wallet.qr_refs() is None
    for name in os.listdir(wallet.path):
        assert mode(wallet.path / name) == 0o600


def test_a_failed_write_leaves_the_old_file_and_no_temporary(
    wallet: WalletDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    wallet.save_session(Session("old", "2026-12-02T10:15:00+00:00", "L1"))

    def crash(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        wallet.save_session(Session("new", "2026-12-02T10:30:00+00:00", "L1"))
    monkeypatch.undo()
    session = wallet.session()
    assert session is not None and session.token == "old"
    assert not [n for n in os.listdir(wallet.path) if n.endswith(".pending")]


def test_write_private_creates_0600_even_with_a_permissive_umask(tmp_path: Path) -> None:
    old = os.umask(0)
    try:
        state.write_private(tmp_path / "out.png", b"png")
    finally:
        os.umask(old)
    assert mode(tmp_path / "out.png") == 0o600
    with pytest.raises(WalletExists):
        state.write_private(tmp_path / "out.png", b"again", exclusive=True)
    assert (tmp_path / "out.png").read_bytes() == b"png"


def test_forgetting_the_credential_keeps_only_the_server(wallet: WalletDir) -> None:
    wallet.create_device_key()
    wallet.save_credential("eyJ.eyJ.sig~WyJ~")
    wallet.save_session(Session("t", "2026-12-02T10:15:00+00:00", "L1"))
    wallet.update_config(credential_id="c1", network_id="0000000000000000")
    wallet.forget_credential()
    assert sorted(os.listdir(wallet.path)) == [state.WALLET_FILE]
    assert wallet.config() == WalletConfig(server="http://127.0.0.1:9")


def test_default_directory_follows_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(state.WALLET_ENV, str(tmp_path / "w"))
    assert state.default_wallet_dir() == tmp_path / "w"
    monkeypatch.delenv(state.WALLET_ENV)
    assert state.default_wallet_dir() == Path("~/.netid-wallet").expanduser()


def test_concurrent_qr_codes_never_share_a_reference(wallet: WalletDir) -> None:
    """Two `netid wallet qr` at once must not show one reference twice (two scans would be
    linkable): taking a reference is a locked read-modify-write."""
    import threading

    from netid.credentials import qr
    from netid.wallet.service import Wallet

    wallet.save_config(WalletConfig(server="http://127.0.0.1:9", credential_id="c" * 32))
    wallet.create_device_key()
    stock = tuple(f"ref{i:03d}" for i in range(40))
    wallet.save_qr_refs(QrRefs(stock, "2099-01-01T00:00:00+00:00"))
    taken: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(40)

    def show_one() -> None:
        start.wait()
        token = Wallet(WalletDir(wallet.path)).next_qr_token()  # its own handle, like a process
        with lock:
            taken.append(qr.read(token).ref)

    threads = [threading.Thread(target=show_one) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(taken) == list(stock)
    assert wallet.qr_refs() == QrRefs((), "2099-01-01T00:00:00+00:00")
