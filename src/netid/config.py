"""Settings, read from the environment once, by the composition root only (DESIGN.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="NETID_", extra="ignore")

    data_dir: Path = Path("./var")
    database_url: str | None = None
    # PostgreSQL only: run in this schema (tests give every run its own so runs don't collide).
    database_schema: str | None = None
    redis_url: str | None = None
    public_url: str | None = None
    master_key_file: Path | None = None
    master_key: str | None = Field(default=None, repr=False)
    profile: Literal["dev", "production"] = "dev"
    host: str = "127.0.0.1"
    port: int = 8000
    # The industry-policy catalogue (netid.policy); unset = the one shipped in the package.
    policy_catalogue: Path | None = None
    # The monitoring rules (netid.monitoring); unset = the ones shipped in the package.
    monitoring_rules: Path | None = None
    # Prefix of every Redis key (deployments and test runs sharing one Redis stay apart).
    redis_prefix: str = "netid:"
    # The transparency log (netid.audit): the tree hash, fixed when the first entry is written
    # ("sm3" or "sha256"); the checkpoint origin (default "<host of public_url>/netid-log");
    # a checkpoint is cut every log_checkpoint_entries entries or log_checkpoint_seconds
    # (0 = no periodic cut in `netid serve`; `netid audit checkpoint` still works).
    log_hash: Literal["sm3", "sha256"] = "sm3"
    log_origin: str | None = None
    log_checkpoint_seconds: float = Field(default=10.0, ge=0)
    log_checkpoint_entries: int = Field(default=1000, ge=1)

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'netid.sqlite3').resolve()}"

    @property
    def resolved_master_key_file(self) -> Path:
        return self.master_key_file or (self.data_dir / "keys" / "master.key")
