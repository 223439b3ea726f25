"""The composition root: the only place that reads settings and wires collaborators.

Commands and requests ask the container for a unit of work; services receive their session,
keyring, clock and recorder as arguments and never commit themselves.
"""

from __future__ import annotations

import getpass
import time
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path
from urllib.parse import urlsplit

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from redis import Redis
from redis.exceptions import RedisError
from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from netid.accounts.repository import AccountRepository
from netid.accounts.service import AccountService
from netid.admins.repository import AdminRepository
from netid.admins.service import AdminService
from netid.audit.repository import LogRepository
from netid.audit.service import AccessRecorder, AuditService
from netid.billing.repository import BillingRepository
from netid.billing.service import BillingService, ReceiptService
from netid.citizens.repository import CitizenRepository
from netid.citizens.service import CitizenService
from netid.config import Settings
from netid.consent.repository import ConsentRepository
from netid.consent.service import ConsentService
from netid.core.clock import Clock, SystemClock
from netid.core.errors import ConfigurationError, Forbidden
from netid.crypto.notes import Ed25519NoteSigner, NoteSigner, NoteVerifier, Sm2NoteSigner
from netid.crypto.sealing import SealKey
from netid.crypto.sm2 import Sm2PrivateKey, Sm2PublicKey
from netid.db import migrate
from netid.db.engine import is_sqlite, make_engine
from netid.db.group import GroupCommitter
from netid.db.writer import WriterLock, writer_lock_for
from netid.documents.chip import parse_trust_file
from netid.enrolment.repository import EnrolmentRepository
from netid.enrolment.service import EnrolmentService
from netid.faces import FaceMatcher, load_face_matcher
from netid.institutions.repository import InstitutionRepository
from netid.institutions.schemas import InstitutionStatus
from netid.institutions.service import InstitutionService
from netid.keys.errors import MasterKeyMissing
from netid.keys.export import note_verifiers
from netid.keys.master import create_master_key_file, load_master_key
from netid.keys.repository import KeyRepository
from netid.keys.schemas import KeyPurpose
from netid.keys.service import Keyring, KeyringService
from netid.monitoring.counters import CounterStore, DatabaseCounterStore, RedisCounterStore
from netid.monitoring.repository import MonitoringRepository
from netid.monitoring.rules import load_rules
from netid.monitoring.schemas import RuleSet
from netid.monitoring.service import MonitoringService
from netid.oauth.repository import OAuthRepository
from netid.oauth.schemas import ADMIN_TOKEN_TTL_SECONDS, ClientDirectory, RegisteredClient
from netid.oauth.service import TokenService
from netid.oauth.tokens import mac_keys, mint_admin_token
from netid.oidc.repository import OidcRepository
from netid.oidc.service import OidcService
from netid.policy.schemas import AGE_MARKERS, PLAINTEXT_CLAIMS, Catalogue
from netid.policy.service import load_catalogue
from netid.registry.repository import RegistryRepository
from netid.registry.service import RegistryService
from netid.sms.repository import SmsRepository
from netid.sms.schemas import SmsSender
from netid.sms.service import OutboxSender, OutboxService
from netid.verification.nonces import DatabaseNonceStore, NonceStore, RedisNonceStore
from netid.verification.repository import VerificationRepository
from netid.verification.service import VerificationService


class _InstitutionClients:
    """The OAuth client directory over the institutions service (siblings meet here)."""

    def __init__(self, institutions: InstitutionService) -> None:
        self._institutions = institutions

    def lookup(self, client_id: str) -> RegisteredClient | None:
        found = self._institutions.client_keys(client_id)
        if found is None:
            return None
        view, jwks = found
        return RegisteredClient(
            client_id=client_id,
            institution_id=view.id,
            institution_code=view.code or "",
            # Only active institutions get tokens; a pending one has no code yet.
            active=view.status is InstitutionStatus.ACTIVE and bool(view.code),
            jwks=jwks,
        )

    def is_active(self, institution_id: str) -> bool:
        try:
            self._institutions.require_active(institution_id)  # a fresh read, not a cache
        except Forbidden:
            return False
        return True


class _InstitutionFreezer:
    """Monitoring's freezer over the institutions service (siblings meet here)."""

    def __init__(self, institutions: InstitutionService) -> None:
        self._institutions = institutions

    def freeze_if_active(self, institution_id: str, *, actor: str, reason: str) -> bool:
        try:
            self._institutions.require_active(institution_id)  # a fresh read, not a cache
        except Forbidden:
            return False  # frozen already (or suspended, revoked): nothing to do
        self._institutions.freeze(institution_id, actor=actor, reason=reason)
        return True


# How stale a process's view of the keyring may get after another process rotates a key.
KEYRING_REFRESH_SECONDS = 5.0


class Container:
    def __init__(
        self,
        settings: Settings,
        *,
        clock: Clock | None = None,
        engine: Engine | None = None,
        keyring_refresh_seconds: float = KEYRING_REFRESH_SECONDS,
    ) -> None:
        self.settings = settings
        self.clock: Clock = clock or SystemClock()
        self._keyring: Keyring | None = None
        self._keyring_state: tuple[tuple[str, str], ...] = ()
        self._keyring_checked_at = 0.0
        self._keyring_refresh_seconds = keyring_refresh_seconds
        if engine is not None:
            self.__dict__["engine"] = engine  # share one engine (tests, benchmarks)

    # -- configuration checks ---------------------------------------------------------------
    def check_profile(self) -> None:
        """``production`` refuses unsafe defaults (DESIGN.md "Settings")."""
        if self.settings.profile != "production":
            return
        if not self.settings.public_url:
            raise ConfigurationError("Production needs NETID_PUBLIC_URL.")
        if not self.settings.master_key:
            key_file = self.settings.resolved_master_key_file.resolve()
            data_dir = self.settings.data_dir.resolve()
            if key_file.is_relative_to(data_dir):
                raise ConfigurationError(
                    "Production keeps the master key outside the data directory."
                )

    # -- database -----------------------------------------------------------------------------
    @cached_property
    def engine(self) -> Engine:
        return make_engine(
            self.settings.resolved_database_url, schema=self.settings.database_schema
        )

    @cached_property
    def _sessions(self) -> sessionmaker[Session]:
        return sessionmaker(bind=self.engine, expire_on_commit=False)

    @cached_property
    def _sqlite_writer(self) -> WriterLock | None:
        """SQLite has one writer at a time; waiting for it in SQLite's busy handler means
        sleeping in steps of up to 100 ms, so writers queue on a lock that wakes the next one
        at once, between threads and between worker processes (netid.db.writer)."""
        if not is_sqlite(self.engine):
            return None
        database = self.engine.url.database
        in_memory = not database or database == ":memory:"
        return writer_lock_for(None if in_memory else Path(str(database)))

    @contextmanager
    def transaction(self, *, write: bool = True) -> Iterator[Session]:
        """One unit of work: commits if the block succeeds, rolls back otherwise."""
        lock = self._sqlite_writer if write else None
        if lock is not None:
            lock.acquire()
        try:
            session = self._sessions()
            if write:
                session.connection(execution_options={"sqlite_immediate": True})
            try:
                yield session
                session.commit()
            except BaseException:
                session.rollback()
                raise
            finally:
                session.close()
        finally:
            if lock is not None:
                lock.release()

    @cached_property
    def committer(self) -> GroupCommitter:
        """The hot path's unit of work: many requests' writes in one grouped commit, each
        answer released after it (netid.db.group). On PostgreSQL every batch locks the log
        head first, so batches of different workers take their row locks in one order and
        cannot deadlock; on SQLite the writer slot serialises batches already."""

        if is_sqlite(self.engine):
            return GroupCommitter(self.transaction, read_transaction=self.read_only_transaction)
        return GroupCommitter(
            self.transaction,
            first=lambda session: self.recorder(session).lock_head(),
            read_transaction=self.read_only_transaction,
        )

    @contextmanager
    def read_only_transaction(self) -> Iterator[Session]:
        """A transaction that reads only: PostgreSQL refuses any write in it (``READ
        ONLY``), and it ends in a rollback on both databases, so nothing written in it by
        mistake survives (the staged units' read stages, netid.db.group)."""
        session = self._sessions()
        try:
            if not is_sqlite(self.engine):
                session.execute(text("SET TRANSACTION READ ONLY"))
            yield session
        finally:
            try:
                session.rollback()
            finally:
                session.close()

    def migrate(self) -> None:
        migrate.upgrade(self.engine)

    def ensure_ready(self) -> None:
        """Migrated, with its master key and a key of every purpose, as `netid keys init`
        leaves it (idempotent, unrecorded): for harnesses that start a server on a fresh or
        cached database (netid.bench, the e2e tests)."""
        self.migrate()
        master, _ = self.ensure_master_key()
        with self.transaction() as session:
            keys = self.keyring_service(session, master)
            if not keys.is_initialised():
                keys.initialise()
            keys.ensure_all_purposes()

    # -- keys -------------------------------------------------------------------------------
    def master_key(self) -> SealKey:
        return load_master_key(
            env_value=self.settings.master_key,
            file_path=self.settings.resolved_master_key_file,
        )

    def ensure_master_key(self) -> tuple[SealKey, bool]:
        """The master key, creating the key file if there is none (``keys init``).

        A new master key is made only while the keyring is empty: a missing file for an
        existing keyring is a misconfiguration (a typo in the path), not a reason for a key
        that would open nothing.
        """
        if self.settings.master_key:
            return self.master_key(), False
        path = self.settings.resolved_master_key_file
        if path.exists():
            return self.master_key(), False
        with self.transaction(write=False) as session:
            if KeyRepository(session).all():
                raise MasterKeyMissing()
        self.check_master_key_location(path)
        return create_master_key_file(path), True

    def check_master_key_location(self, path: Path) -> None:
        if self.settings.profile == "production" and path.resolve().is_relative_to(
            self.settings.data_dir.resolve()
        ):
            raise ConfigurationError("Production keeps the master key outside the data directory.")

    def keyring_service_if_any(self, session: Session) -> KeyringService | None:
        """The keyring service if the keyring holds keys (without needing the master key)."""
        if not KeyRepository(session).all():
            return None
        return self.keyring_service(session)

    def data_path(self, name: str) -> Path:
        self.settings.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        return self.settings.data_dir / name

    def bind_address(self) -> tuple[str, int]:
        return self.settings.host, self.settings.port

    def keyring_service(self, session: Session, master: SealKey | None = None) -> KeyringService:
        return KeyringService(
            repository=KeyRepository(session), master=master or self.master_key(), clock=self.clock
        )

    def keyring(self, *, reload: bool = False) -> Keyring:
        """This process's unwrapped keys. Another process (or node) may rotate or retire a key,
        so at most every ``keyring_refresh_seconds`` the key ids and states are read again
        (one small query) and the keys reloaded if they changed."""
        now = time.monotonic()
        if self._keyring is not None and not reload:
            if now - self._keyring_checked_at < self._keyring_refresh_seconds:
                return self._keyring
            with self.transaction(write=False) as session:
                state = KeyRepository(session).states()
            self._keyring_checked_at = now
            if state == self._keyring_state:
                return self._keyring
        with self.transaction(write=False) as session:
            self._keyring_state = KeyRepository(session).states()
            self._keyring = self.keyring_service(session).load()
        self._keyring_checked_at = now
        return self._keyring

    # -- policy -----------------------------------------------------------------------------
    @cached_property
    def _catalogue(self) -> Catalogue:
        return load_catalogue(self.settings.policy_catalogue)

    def catalogue(self) -> Catalogue:
        """The industry-policy catalogue (``NETID_POLICY_CATALOGUE`` or the shipped file),
        loaded once per container; a broken file raises CatalogueInvalid."""
        return self._catalogue

    # -- services ---------------------------------------------------------------------------
    def recorder(self, session: Session) -> AccessRecorder:
        return AccessRecorder(session=session, clock=self.clock, hash_alg=self.settings.log_hash)

    # -- the transparency log (netid.audit) -------------------------------------------------
    def log_origin(self) -> str:
        """The checkpoint origin (c2sp.org/tlog-checkpoint): NETID_LOG_ORIGIN, or
        ``<host of the public URL>/netid-log``."""
        if self.settings.log_origin:
            return self.settings.log_origin
        host = urlsplit(self.api_base_url()).netloc or "localhost"
        return f"{host}/netid-log"

    def log_signers(self) -> list[NoteSigner]:
        """The checkpoint signers: the active SM2 and Ed25519 keys, both named by the origin."""
        keyring, origin = self.keyring(), self.log_origin()
        sm2 = keyring.active(KeyPurpose.SM2_SIGNING)
        ed = keyring.active(KeyPurpose.ED25519_SIGNING)
        return [
            Sm2NoteSigner(origin, Sm2PrivateKey.from_private_value(sm2.secret)),
            Ed25519NoteSigner(origin, Ed25519PrivateKey.from_private_bytes(ed.secret)),
        ]

    def log_verifiers(self, session: Session) -> list[NoteVerifier]:
        """Verifiers for every SM2 and Ed25519 signing key ever used (retired ones too)."""
        return note_verifiers(self.keyring_service(session).public_keys(), self.log_origin())

    def audit(self, session: Session) -> AuditService:
        return AuditService(
            repository=LogRepository(session),
            clock=self.clock,
            origin=self.log_origin(),
            hash_alg=self.settings.log_hash,
            signers=self.log_signers,
            verifiers=lambda: self.log_verifiers(session),
        )

    def log_checkpoint_policy(self) -> tuple[float, int]:
        """(every T seconds, or every N entries): when ``netid serve`` cuts checkpoints
        (T = 0: no periodic cut)."""
        return self.settings.log_checkpoint_seconds, self.settings.log_checkpoint_entries

    def billing(self, session: Session) -> BillingService:
        return BillingService(repository=BillingRepository(session))

    def receipts(self, session: Session) -> ReceiptService:
        return ReceiptService(
            repository=BillingRepository(session), keyring=self.keyring(), audit=self.audit(session)
        )

    def registry(self, session: Session) -> RegistryService:
        return RegistryService(
            repository=RegistryRepository(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
        )

    def institutions(self, session: Session) -> InstitutionService:
        return InstitutionService(
            repository=InstitutionRepository(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            catalogue=self.catalogue(),
        )

    def consents(self, session: Session) -> ConsentService:
        return ConsentService(
            repository=ConsentRepository(session), recorder=self.recorder(session), clock=self.clock
        )

    # -- SMS (netid.sms) --------------------------------------------------------------------
    def sms_sender(self, session: Session) -> SmsSender:
        """The embedded sender: the sealed outbox, written in ``session`` (no gateway yet)."""
        return OutboxSender(
            repository=SmsRepository(session), keyring=self.keyring(), clock=self.clock
        )

    def outbox(self, session: Session) -> OutboxService:
        return OutboxService(
            repository=SmsRepository(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
        )

    # -- the document issuer (simulated chip, docs/decisions/0005 "Chip") ----------------
    def document_issuer_dir(self) -> Path:
        """The issuing authority's key directory (``netid registry chip`` acts as it). Its
        private key belongs to the authority, not the platform (DESIGN.md "Keys")."""
        return self.settings.data_dir / "document-issuer"

    def document_issuer_trust_file(self) -> Path:
        return self.settings.data_dir / "document-issuer-keys.json"

    def document_issuer_keys(self) -> dict[str, Sm2PublicKey]:
        """The issuer public keys the platform trusts, by kid: read on every call (a key
        added or removed counts at once); no file = none trusted; a broken file is a
        ConfigurationError (never "trust nothing" silently, never "trust anything")."""
        path = self.document_issuer_trust_file()
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except (OSError, UnicodeDecodeError):
            raise ConfigurationError("The document issuer trust file cannot be read.") from None
        try:
            keys = parse_trust_file(text)
        except ValueError as exc:
            raise ConfigurationError(
                f"The document issuer trust file is malformed: {exc}"
            ) from None
        return {k.kid: k.public_key for k in keys}

    # -- enrolment, credentials, wallet sessions (netid.enrolment) -------------------------
    def enrolment(self, session: Session) -> EnrolmentService:
        return EnrolmentService(
            repository=EnrolmentRepository(session),
            registry=self.registry(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            sms=self.sms_sender(session),
            face_matcher=self.face_matcher,
            chip_issuers=self.document_issuer_keys,
            issuer=self.api_base_url(),
        )

    # -- password accounts (netid.accounts; docs/decisions/0006 "Without a wallet") -------
    def accounts(self, session: Session) -> AccountService:
        return AccountService(
            repository=AccountRepository(session),
            registry=self.registry(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            sms=self.sms_sender(session),
        )

    # -- citizen controls (netid.citizens) --------------------------------------------------
    def citizens(self, session: Session) -> CitizenService:
        catalogue = self.catalogue()
        return CitizenService(
            repository=CitizenRepository(session),
            registry=self.registry(session),
            accounts=self.enrolment(session),
            consents=self.consents(session),
            institutions=self.institutions(session),
            audit=self.audit(session),
            recorder=self.recorder(session),
            clock=self.clock,
            allowed_claims=frozenset(PLAINTEXT_CLAIMS) | frozenset(AGE_MARKERS),
            purpose_labels={code: info.zh for code, info in catalogue.purposes.items()},
            policy_url=f"{self.api_base_url()}/docs",
        )

    @cached_property
    def _face_matcher(self) -> FaceMatcher:
        return load_face_matcher()

    def face_matcher(self) -> FaceMatcher:
        """The face matcher (dlib; models load on first use, once per process), or
        FaceMatcherUnavailable without the ``face`` extra (not cached: install and retry)."""
        return self._face_matcher

    def api_base_url(self) -> str:
        """The public base URL (issuer, token audience, links in answers)."""
        return (
            self.settings.public_url or f"http://{self.settings.host}:{self.settings.port}"
        ).rstrip("/")

    # -- monitoring (netid.monitoring) -----------------------------------------------------
    @cached_property
    def _monitoring_rules(self) -> RuleSet:
        return load_rules(self.settings.monitoring_rules, industries=self.catalogue().industries)

    def monitoring_rules(self) -> RuleSet:
        """The monitoring rules (``NETID_MONITORING_RULES`` or the shipped file), loaded once
        per container; a broken file raises RulesInvalid."""
        return self._monitoring_rules

    @cached_property
    def _redis(self) -> Redis | None:
        if not self.settings.redis_url:
            return None
        # Short timeouts: a verification waits at most this long before failing closed.
        return Redis.from_url(
            self.settings.redis_url, socket_timeout=1.0, socket_connect_timeout=1.0
        )

    def counters(self, session: Session) -> CounterStore:
        """Redis when ``NETID_REDIS_URL`` is set, else the database (in this session)."""
        if self._redis is not None:
            return RedisCounterStore(self._redis, prefix=self.settings.redis_prefix)
        return DatabaseCounterStore(MonitoringRepository(session))

    def counters_ready(self) -> bool:
        """Whether the counter store answers (Redis ping; the database store is the database)."""
        if self._redis is None:
            return True
        try:
            return bool(self._redis.ping())
        except RedisError:
            return False

    def monitoring(self, session: Session) -> MonitoringService:
        return MonitoringService(
            repository=MonitoringRepository(session),
            counters=self.counters(session),
            rules=self.monitoring_rules(),
            freezer=_InstitutionFreezer(self.institutions(session)),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
        )

    def qr_nonces(self, session: Session) -> NonceStore:
        """Redis when ``NETID_REDIS_URL`` is set (shared by every server process), else the
        database's ``qr_nonce`` table in this session."""
        if self._redis is not None:
            return RedisNonceStore(self._redis, prefix=self.settings.redis_prefix)
        return DatabaseNonceStore(VerificationRepository(session))

    def verification(self, session: Session) -> VerificationService:
        base = self.api_base_url()
        return VerificationService(
            monitor=self.monitoring(session),
            registry=self.registry(session),
            institutions=self.institutions(session),
            consents=self.consents(session),
            billing=self.billing(session),
            recorder=self.recorder(session),
            catalogue=self.catalogue(),
            pairwise_key=self.keyring().active(KeyPurpose.PAIRWISE).secret,
            face_matcher=self.face_matcher,
            clock=self.clock,
            receipt_url=lambda receipt_id: f"{base}/v1/receipts/{receipt_id}",
            credentials=self.enrolment(session),
            citizens=self.citizens(session),
            nonces=self.qr_nonces(session),
        )

    # -- OAuth (netid.oauth; web/auth.py reads these) -------------------------------------
    def token_endpoint_url(self) -> str:
        """The ``aud`` a client assertion must name (RFC 7523 §3 item 3)."""
        return f"{self.api_base_url()}/oauth2/token"

    def api_audience(self) -> str:
        """The audience institution access tokens are bound to."""
        return f"{self.api_base_url()}/v1"

    def admin_audience(self) -> str:
        return f"{self.api_base_url()}/admin"

    def client_directory(self, session: Session) -> ClientDirectory:
        return _InstitutionClients(self.institutions(session))

    def token_service(self, session: Session) -> TokenService:
        return TokenService(
            repository=OAuthRepository(session),
            directory=self.client_directory(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            token_endpoint=self.token_endpoint_url(),
            api_audience=self.api_audience(),
        )

    # -- OpenID Connect (netid.oidc, docs/decisions/0006) -----------------------------------
    def oidc_issuer(self) -> str:
        """The OpenID Provider's issuer: the public URL (OIDC Discovery §3: ``iss`` equals it)."""
        return self.api_base_url()

    def userinfo_audience(self) -> str:
        return f"{self.api_base_url()}/oidc/userinfo"

    def oidc(self, session: Session) -> OidcService:
        return OidcService(
            repository=OidcRepository(session),
            institutions=self.institutions(session),
            verification=lambda: self.verification(session),
            consents=self.consents(session),
            registry=self.registry(session),
            accounts=lambda: self.accounts(session),
            tokens=self.token_service(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            catalogue=self.catalogue(),
            issuer=self.oidc_issuer(),
            userinfo_audience=self.userinfo_audience(),
        )

    # -- administrators (netid.admins; web/auth.py require_action reads these) -------------
    def admins(self, session: Session) -> AdminService:
        return AdminService(
            repository=AdminRepository(session),
            keyring=self.keyring(),
            recorder=self.recorder(session),
            clock=self.clock,
            issue_token=self._issue_admin_token,
        )

    def _issue_admin_token(self, *, actor: str, role: str, jti: str) -> tuple[str, int]:
        """An administrator bearer token after a password + TOTP login (15 minutes)."""
        key = self.keyring().active(KeyPurpose.TOKEN_MAC)
        issued_at = int(self.clock.now().timestamp())
        token = mint_admin_token(
            key_id=key.key_id,
            secret=key.secret,
            actor=actor,
            role=role,
            audience=self.admin_audience(),
            issued_at=issued_at,
            ttl=ADMIN_TOKEN_TTL_SECONDS,
            jti=jti,
        )
        return token, issued_at + ADMIN_TOKEN_TTL_SECONDS

    def token_mac_keys(self) -> dict[str, bytes]:
        """Every live token_mac key (cached with the keyring: no query per request)."""
        return mac_keys(self.keyring())

    @contextmanager
    def registry_unit(self) -> Iterator[RegistryService]:
        with self.transaction() as session:
            yield self.registry(session)

    @staticmethod
    def operator_actor() -> str:
        # Until administrators exist (audit issue), CLI actions are by the local OS user.
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = "unknown"
        return f"operator:{user}"
