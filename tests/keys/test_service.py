from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from joserfc import jws
from joserfc.jwk import KeySet
from sqlalchemy import update

from netid.container import Container
from netid.crypto import jose_keys
from netid.crypto.errors import SealedValueInvalid, UnknownKey
from netid.crypto.jose_keys import private_bytes_raw
from netid.crypto.sealing import generate_seal_key, open_sealed, seal
from netid.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
from netid.keys.errors import KeyringAlreadyInitialised, KeyStillInUse, MasterKeyMismatch
from netid.keys.export import public_jose_key, public_key_document
from netid.keys.models import KeyRecord
from netid.keys.schemas import SIGNING_PURPOSES, KeyPurpose, KeyState
from netid.keys.service import jose_private_key
from tests.conftest import Backend

pytestmark = pytest.mark.db


def test_init_creates_one_active_key_per_purpose(container: Container) -> None:
    with container.transaction() as session:
        keys = container.keyring_service(session).list_keys()
    assert sorted(k.purpose for k in keys) == sorted(KeyPurpose)
    assert all(k.state == KeyState.ACTIVE for k in keys)
    assert len({k.key_id for k in keys}) == len(keys)


def test_init_twice_is_refused(container: Container) -> None:
    with pytest.raises(KeyringAlreadyInitialised), container.transaction() as session:
        container.keyring_service(session).initialise()


def test_secrets_are_sealed_under_the_master_key(container: Container) -> None:
    keyring = container.keyring()
    data = keyring.active(KeyPurpose.DATA)
    with container.transaction() as session:
        record = session.get(KeyRecord, data.key_id)
        assert record is not None and record.wrapped is not None
        assert data.secret not in record.wrapped


def test_wrong_master_key_cannot_load(container: Container) -> None:
    with (
        pytest.raises(MasterKeyMismatch),
        container.transaction() as session,
    ):
        container.keyring_service(session, generate_seal_key()).load()


def test_relabelled_purpose_fails_to_open(container: Container, db: Backend) -> None:
    """AAD binds id, purpose and algorithm: a data key cannot be passed off as a face key."""
    data = container.keyring().active(KeyPurpose.DATA)
    with db.engine.begin() as conn:
        conn.execute(
            update(KeyRecord).where(KeyRecord.key_id == data.key_id).values(purpose="face")
        )
    with pytest.raises(SealedValueInvalid), container.transaction() as session:
        container.keyring_service(session).load()


def test_rotation_keeps_old_key_for_reading(container: Container) -> None:
    old = container.keyring().active_seal_key(KeyPurpose.DATA)
    sealed = seal(old, b"x", table="t", column="c", row_id="r")
    with container.transaction() as session:
        info = container.keyring_service(session).rotate(KeyPurpose.DATA)
    keyring = container.keyring(reload=True)
    assert keyring.active(KeyPurpose.DATA).key_id == info.key_id != old.key_id
    assert keyring.get(old.key_id).state == KeyState.RETIRING
    opened = open_sealed(keyring.seal_key, sealed, table="t", column="c", row_id="r")
    assert opened == b"x"


def test_retire_refuses_active_and_referenced_keys(container: Container) -> None:
    active = container.keyring().active(KeyPurpose.DATA)
    with pytest.raises(KeyStillInUse), container.transaction() as session:
        container.keyring_service(session).retire(active.key_id, references=0)
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.DATA)
    with pytest.raises(KeyStillInUse), container.transaction() as session:
        container.keyring_service(session).retire(active.key_id, references=3)
    with container.transaction() as session:
        info = container.keyring_service(session).retire(active.key_id, references=0)
    assert info.state == KeyState.RETIRED
    with pytest.raises(UnknownKey):
        container.keyring(reload=True).get(active.key_id)


def test_pairwise_key_never_rotates(container: Container) -> None:
    with pytest.raises(KeyStillInUse), container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.PAIRWISE)


def test_master_rotation_rewraps_everything(container: Container) -> None:
    before = {k.key_id: k.secret for k in container.keyring().all_of(KeyPurpose.DATA)}
    new_master = generate_seal_key()
    with container.transaction() as session:
        count = container.keyring_service(session).rewrap_under(new_master)
    assert count == len(KeyPurpose)
    with container.transaction() as session:
        keyring = container.keyring_service(session, new_master).load()
    assert {k.key_id: k.secret for k in keyring.all_of(KeyPurpose.DATA)} == before
    with pytest.raises(MasterKeyMismatch), container.transaction() as session:
        container.keyring_service(session).load()  # the old master no longer opens it


def test_public_export_verifies_signatures_made_with_the_private_keys(
    container: Container,
) -> None:
    keyring = container.keyring()
    with container.transaction() as session:
        document = public_key_document(container.keyring_service(session).public_keys())
    assert all("d" not in jwk for jwk in document["jwks"]["keys"])
    # SM2: the exported PEM verifies a signature of the private key.
    sm2 = keyring.active(KeyPurpose.SM2_SIGNING)
    signature = Sm2PrivateKey.from_private_value(sm2.secret).sign(b"checkpoint")
    [entry] = document["sm2"]
    Sm2PublicKey.from_pem(entry["pem"].encode()).verify(signature, b"checkpoint")
    # Ed25519, ES256 and RS256: joserfc verifies a JWS against the exported JWKS.
    key_set = KeySet.import_key_set(document["jwks"])
    kty = {"EdDSA": "OKP", "ES256": "EC", "RS256": "RSA"}
    for purpose, alg, jws_alg in (
        (KeyPurpose.ED25519_SIGNING, "EdDSA", "Ed25519"),
        (KeyPurpose.ES256_SIGNING, "ES256", "ES256"),
        (KeyPurpose.RS256_SIGNING, "RS256", "RS256"),
    ):
        loaded = keyring.active(purpose)
        private = jose_keys.load_private_key(alg, loaded.secret)  # type: ignore[arg-type]
        assert private_bytes_raw(jose_private_key(loaded)) == loaded.secret
        header = {"alg": jws_alg, "kid": loaded.key_id}
        from joserfc.jwk import import_key

        jwk = import_key(private, kty[alg])  # type: ignore[arg-type]
        token = jws.serialize_compact(header, b"payload", jwk, algorithms=[jws_alg])
        assert jws.deserialize_compact(token, key_set, algorithms=[jws_alg]).payload == b"payload"
    [rs256] = [k for k in document["jwks"]["keys"] if k["kty"] == "RSA"]
    assert (
        rs256["alg"] == "RS256" and rs256["kid"] == keyring.active(KeyPurpose.RS256_SIGNING).key_id
    )
    assert not {"d", "p", "q", "dp", "dq", "qi"} & set(rs256)


def test_rs256_signing_key_is_rsa_2048_with_an_spki_public_half(container: Container) -> None:
    loaded = container.keyring().active(KeyPurpose.RS256_SIGNING)
    assert loaded.algorithm == "rs256" and KeyPurpose.RS256_SIGNING in SIGNING_PURPOSES
    private = jose_private_key(loaded)
    assert isinstance(private, rsa.RSAPrivateKey) and private.key_size == 2048
    with container.transaction() as session:
        [public] = [
            k for k in container.keyring_service(session).public_keys() if k.key_id == loaded.key_id
        ]
    assert public.public == private.public_key().public_bytes(
        Encoding.DER, PublicFormat.SubjectPublicKeyInfo
    )
    public_key = public_jose_key(public)
    assert public_key is not None
    jose_keys.verify(public_key, jose_keys.sign(private, b"id token"), b"id token")
    # Not a JOSE key: no public JOSE key, and no private one either.
    assert public_jose_key(container.keyring().active(KeyPurpose.DATA)) is None
    with pytest.raises(UnknownKey):
        jose_private_key(container.keyring().active(KeyPurpose.DATA))


def test_ensure_all_purposes_adds_rs256_to_an_older_keyring(
    container: Container, db: Backend
) -> None:
    """A keyring made before issue 6 gets its RS256 key from ``netid keys init``."""
    rs256 = container.keyring().active(KeyPurpose.RS256_SIGNING)
    with db.engine.begin() as conn:
        conn.execute(KeyRecord.__table__.delete().where(KeyRecord.key_id == rs256.key_id))
    with container.transaction() as session:
        created = container.keyring_service(session).ensure_all_purposes()
    assert [(k.purpose, k.algorithm) for k in created] == [(KeyPurpose.RS256_SIGNING, "rs256")]
    with container.transaction() as session:
        keyring = container.keyring_service(session).load()
    assert isinstance(jose_private_key(keyring.active(KeyPurpose.RS256_SIGNING)), rsa.RSAPrivateKey)


def test_another_process_rotation_reaches_this_one(container: Container, db: Backend) -> None:
    watcher = Container(container.settings, engine=db.engine, keyring_refresh_seconds=0)
    before = watcher.keyring().active(KeyPurpose.DATA).key_id
    with container.transaction() as session:  # "another node" rotates
        info = container.keyring_service(session).rotate(KeyPurpose.DATA)
    assert watcher.keyring().active(KeyPurpose.DATA).key_id == info.key_id != before
    cached = Container(container.settings, engine=db.engine, keyring_refresh_seconds=3600)
    seen = cached.keyring().active(KeyPurpose.DATA).key_id
    with container.transaction() as session:
        container.keyring_service(session).rotate(KeyPurpose.DATA)
    assert cached.keyring().active(KeyPurpose.DATA).key_id == seen  # within its refresh window


def test_ensure_all_purposes_adds_only_missing_ones(container: Container, db: Backend) -> None:
    """A keyring made before ``token_mac`` existed gets it, and nothing else is duplicated."""
    token_mac = container.keyring().active(KeyPurpose.TOKEN_MAC)
    with db.engine.begin() as conn:
        conn.execute(KeyRecord.__table__.delete().where(KeyRecord.key_id == token_mac.key_id))
    with container.transaction() as session:
        created = container.keyring_service(session).ensure_all_purposes()
    assert [k.purpose for k in created] == [KeyPurpose.TOKEN_MAC]
    assert created[0].algorithm == "hmac-sm3" and created[0].key_id != token_mac.key_id
    with container.transaction() as session:
        assert container.keyring_service(session).ensure_all_purposes() == []
        keys = container.keyring_service(session).list_keys()
    assert sorted(k.purpose for k in keys) == sorted(KeyPurpose)
