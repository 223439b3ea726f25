"""The population a run measures against, built once and cached (from bench/verification_http.py).

A registry of N generated people (:mod:`netid.registry.synthetic`), a transparency log of as
many entries, one approved bank with quotas that never bind, one internet platform with an
OpenID Connect client, a sample of request bodies and of adults who can enrol. Cached under
``<cache>/population-<backend>-<N>-s<seed>-g<generator>-h<layout>``, keyed by the generator
version, the seed, the backend and N; on PostgreSQL the database lives in a schema named the
same way. A cache whose database no longer matches its facts is rebuilt.

The monitoring rules are relaxed (every rule off): one bench bank asking about thousands of
people a minute is exactly what the distinct-people rule is there to freeze.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
import shutil
import time
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, TextIO

from sqlalchemy import text

from netid.bench.common import postgresql_url
from netid.bench.importer import import_people
from netid.bench.logbuild import bulk_append
from netid.client.rp import ClientFile, RelyingParty, private_jwk
from netid.config import Settings
from netid.container import Container
from netid.core.clock import SystemClock, today_in_china
from netid.crypto import jose_keys
from netid.documents import synth
from netid.institutions.schemas import ApplicationIn
from netid.oidc.schemas import ClientRegistrationIn
from netid.registry.synthetic import write_population

GENERATOR_VERSION = 1  # bump when the synthetic generator's output changes
LAYOUT_VERSION = 1  # bump when what a cached population holds changes
SAMPLE = 2000  # id2 request bodies wrk cycles through
CANDIDATES = 64  # adults with a phone, kept for enrolment
MAX_QUOTA = 1_000_000_000
OIDC_HOST = "bench-rp.example"
OIDC_REDIRECT_URI = f"https://{OIDC_HOST}/callback"
LOG_ORIGIN = "bench.netid.example/netid-log"  # fixed: the port changes between runs


def relaxed_monitoring_rules(path: Path) -> Path:
    rules = json.loads(
        resources.files("netid.monitoring").joinpath("data/rules.v1.json").read_text("utf-8")
    )
    for scope in [rules["defaults"], *rules["industries"].values()]:
        for rule in scope.get("rules", {}).values():
            rule["enabled"] = False
    path.write_text(json.dumps(rules, ensure_ascii=False), encoding="utf-8")
    return path


@dataclass
class Population:
    backend: str
    people: int
    seed: int
    root: Path
    facts: dict[str, Any]

    @property
    def schema(self) -> str | None:
        return None if self.backend == "sqlite" else self.root.name.replace("-", "_")

    def env(self, port: int) -> dict[str, str]:
        """The server's environment: production profile, this population's database."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("NETID_")}
        env.update(
            {
                "NETID_PROFILE": "production",
                "NETID_DATA_DIR": str(self.root / "data"),
                "NETID_MASTER_KEY_FILE": str(self.root / "master.key"),
                "NETID_MONITORING_RULES": str(self.root / "monitoring-rules.json"),
                "NETID_HOST": "127.0.0.1",
                "NETID_PORT": str(port),
                "NETID_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "NETID_LOG_ORIGIN": LOG_ORIGIN,
            }
        )
        if self.schema:
            env["NETID_DATABASE_URL"] = postgresql_url()
            env["NETID_DATABASE_SCHEMA"] = self.schema
        return env

    def settings(self, port: int | None = None) -> Settings:
        return Settings(
            profile="production",
            data_dir=self.root / "data",
            master_key_file=self.root / "master.key",
            monitoring_rules=self.root / "monitoring-rules.json",
            database_url=postgresql_url() if self.schema else None,
            database_schema=self.schema,
            public_url=f"http://127.0.0.1:{port or 8000}",
            log_origin=LOG_ORIGIN,
        )

    def container(self, port: int | None = None) -> Container:
        return Container(self.settings(port))

    def bodies(self) -> Path:
        return self.root / "id2-bodies.jsonl"

    def candidates(self) -> list[dict[str, Any]]:
        lines = (self.root / "candidates.jsonl").read_text(encoding="utf-8").splitlines()
        return [json.loads(line) for line in lines if line]

    def bank_token(self, base: str) -> str:
        """A fresh access token of the bench bank, from the running server."""
        client = self.facts["bank"]
        return RelyingParty(
            ClientFile(
                institution_code=client["institution_code"],
                client_id=client["client_id"],
                token_endpoint=f"{base}/oauth2/token",
                api_base=base,
                private_jwk=client["private_jwk"],
            )
        ).token()

    def synchronous(self) -> str:
        """The durability setting the server's connections run with."""
        container = self.container()
        try:
            with container.engine.connect() as conn:
                if self.backend == "sqlite":
                    level = int(conn.execute(text("PRAGMA synchronous")).scalar_one())
                    mode = str(conn.execute(text("PRAGMA journal_mode")).scalar_one())
                    name = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(level, str(level))
                    return f"journal_mode={mode} synchronous={name}"
                commit = conn.execute(text("SHOW synchronous_commit")).scalar_one()
                fsync = conn.execute(text("SHOW fsync")).scalar_one()
                return f"synchronous_commit={commit} fsync={fsync}"
        finally:
            container.engine.dispose()


def _ready_container(settings: Settings) -> Container:
    container = Container(settings)
    container.ensure_ready()
    return container


def bench_bank(container: Container) -> dict[str, Any]:
    """An approved bank (private_key_jwt, ES256) whose quotas never bind."""
    key = jose_keys.generate_private_key("ES256")
    body = {
        "name": "基准测试银行",
        "uscc": synth.uscc(random.Random("bench")),
        "industry": "banking_finance",
        "purposes": ["account_opening"],
        "location": "domestic",
        "agreement": {"version": "2026-01", "accepted": True},
        "website": "https://bench.example",
        "legal_representative": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "contact": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "public_jwks": [jose_keys.public_jwk(key, "bench")],
    }
    with container.transaction() as session:
        service = container.institutions(session)
        pending = service.apply(ApplicationIn.model_validate(body), actor="operator:bench")
        view = service.approve(
            pending.id,
            actor="operator:bench",
            reason="bench",
            quotas={"id2": MAX_QUOTA, "netid_qr": MAX_QUOTA},
        )
    return {
        "institution_code": view.code,
        "client_id": view.client_id,
        "private_jwk": private_jwk(key, "bench"),
    }


def bench_platform(container: Container) -> dict[str, str]:
    """An approved internet platform with an OIDC client (client_secret_basic), from
    bench/oidc_http.py."""
    body = {
        "name": "基准测试网络平台",
        "uscc": "91350100M000100Y43",
        "industry": "internet_platform",
        "purposes": ["real_name_registration"],
        "location": "domestic",
        "agreement": {"version": "2026-01", "accepted": True},
        "website": f"https://{OIDC_HOST}",
        "legal_representative": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "contact": {"name": "基准", "phone": "+86 10 0000 0000", "email": "a@b.cn"},
        "public_jwks": [jose_keys.public_jwk(jose_keys.generate_private_key("ES256"), "b")],
    }
    with container.transaction() as session:
        service = container.institutions(session)
        pending = service.apply(ApplicationIn.model_validate(body), actor="operator:bench")
        view = service.approve(
            pending.id, actor="operator:bench", reason="bench", quotas={"oidc": MAX_QUOTA}
        )
        client = container.oidc(session).register_client(
            view.id,
            ClientRegistrationIn(
                redirect_uris=[OIDC_REDIRECT_URI], token_endpoint_auth_method="client_secret_basic"
            ),
            actor="operator:bench",
        )
    assert client.client_secret is not None
    return {
        "institution_id": view.id,
        "client_id": client.client_id,
        "secret": client.client_secret,
    }


def _samples(population: Path, root: Path, people: int, seed: int, today: dt.date) -> None:
    """id2 request bodies of random people, and adults with a phone who can enrol."""
    rng = random.Random(seed)
    bodies: list[str] = []
    adults: list[dict[str, Any]] = []
    with population.open(encoding="utf-8") as handle:
        for line in handle:
            pick = rng.random()
            if pick >= max(SAMPLE, CANDIDATES * 4) * 3 / people:
                continue
            record = json.loads(line)
            doc = record["documents"][0]
            if len(bodies) < SAMPLE:
                bodies.append(
                    json.dumps(
                        {
                            "type": "id2",
                            "purpose": "account_opening",
                            "subject": {"document_number": doc["number"], "name": record["name"]},
                        },
                        ensure_ascii=False,
                    )
                )
            born = dt.date.fromisoformat(record["birth_date"])
            if (
                len(adults) < CANDIDATES
                and (today - born).days > 20 * 366
                and record["phones"]
                and record["status"] == "active"
                and doc["status"] == "valid"
            ):
                adults.append(record)
    (root / "id2-bodies.jsonl").write_text("\n".join(bodies) + "\n", encoding="utf-8")
    (root / "candidates.jsonl").write_text(
        "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in adults), encoding="utf-8"
    )


def _matches(population: Population) -> bool:
    """The cached database still holds what the facts say (a dropped schema, a reset)."""
    container = population.container()
    try:
        with container.transaction(write=False) as session:
            present = container.registry(session).count()
        return bool(present == population.facts.get("people"))
    except Exception:
        return False
    finally:
        container.engine.dispose()


def _drop(population: Population) -> None:
    if population.schema:
        container = population.container()
        with container.engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{population.schema}" CASCADE'))
        container.engine.dispose()
    shutil.rmtree(population.root, ignore_errors=True)


def prepare(
    cache: Path,
    *,
    backend: str,
    people: int,
    seed: int,
    log_entries: int | None = None,
    import_workers: int | None = None,
    say: TextIO | None = None,
) -> Population:
    """The cached population, built first if needed."""
    name = f"population-{backend}-{people}-s{seed}-g{GENERATOR_VERSION}-h{LAYOUT_VERSION}"
    root = cache / name
    facts_file = root / "facts.json"
    facts = json.loads(facts_file.read_text()) if facts_file.exists() else {}
    found = Population(backend, people, seed, root, facts)
    if facts and _matches(found):
        return found
    _drop(found)
    root.mkdir(parents=True, mode=0o700)
    (root / "data").mkdir(mode=0o700)
    relaxed_monitoring_rules(root / "monitoring-rules.json")
    built = Population(backend, people, seed, root, {})

    def note(message: str) -> None:
        if say is not None:
            say.write(f"[bench] {backend}: {message}\n")
            say.flush()

    container = _ready_container(built.settings())
    today = today_in_china(SystemClock())
    file = root / "people.jsonl"
    note(f"generating {people:,} people (cached in {root})")
    t0 = time.perf_counter()
    write_population(file, people=people, seed=seed, today=today)
    built.facts["generate_seconds"] = round(time.perf_counter() - t0, 1)
    note("importing them")
    t0 = time.perf_counter()
    summary = import_people(
        container,
        file,
        today=today,
        workers=import_workers if import_workers is not None else (os.cpu_count() or 1),
    )
    built.facts["import_seconds"] = round(time.perf_counter() - t0, 1)
    built.facts["people"] = summary.imported
    _samples(file, root, people, seed, today)
    file.unlink()
    entries = people if log_entries is None else log_entries
    note(f"loading a log of {entries:,} entries")
    t0 = time.perf_counter()
    built.facts["log_size"] = bulk_append(container, entries)
    built.facts["log_build_seconds"] = round(time.perf_counter() - t0, 1)
    built.facts["bank"] = bench_bank(container)
    built.facts["platform"] = bench_platform(container)
    container.engine.dispose()
    facts_file.write_text(json.dumps(built.facts, indent=2))
    facts_file.chmod(0o600)
    return built
