"""Service settings, read from the environment (prefix ``YJ_``) and a ``.env`` file.

The ``.env`` file is read from the current folder (``YJ_ENV_FILE`` names another; empty for none):
``scripts/dev.sh`` writes one there, so every ``yjrisk`` command run in the project folder uses
the dev server's database, secret and demo clock. Real environment variables win over the file.
"""

from __future__ import annotations

import json
import os
import re
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

MIN_HS256_SECRET_BYTES = 32
RELAXED_ENVS = frozenset({"dev", "test"})


DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./yjrisk.db"
# The SQLAlchemy drivers the service runs on (async): YJ_DATABASE_URL names one of them.
DATABASE_DRIVERS = ("sqlite+aiosqlite", "postgresql+asyncpg")


class ConfigError(RuntimeError):
    """Raised when the configuration is unsafe or incomplete for the environment."""


class Settings(BaseSettings):
    """Every knob of the service; nothing secret has a usable default outside dev/test."""

    model_config = SettingsConfigDict(
        env_prefix="YJ_", env_file=os.environ.get("YJ_ENV_FILE", ".env") or None,
        env_file_encoding="utf-8", extra="ignore",
    )

    env: Literal["dev", "test", "staging", "production"] = "dev"
    database_url: str = DEFAULT_DATABASE_URL
    database_echo: bool = False
    jwt_secret: str | None = None
    jwt_issuer: str = "yjrisk"
    jwt_audience: str = "yjrisk-api"
    jwks_url: str | None = None
    jwks_cache_seconds: int = Field(default=600, ge=10)
    jwks_timeout_seconds: float = Field(default=5.0, gt=0)
    jwks_min_refresh_seconds: float = Field(default=30.0, ge=1)
    jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # A token whose ``exp`` lies further ahead than this is refused (401): a leaked token must not
    # be a credential for years. One week: the longest token the dev tools mint.
    jwt_max_lifetime_seconds: int = Field(default=7 * 24 * 3600, ge=60)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024)
    # A request's header fields (names and values) over this many bytes are 431 problem+json
    # (app.core.edge); ``yjrisk serve`` bounds a head still arriving at four times as much
    # (app.core.serve, app.core.http), so a head arriving whole meets this limit first (attack
    # 23, A23a-3).
    max_header_bytes: int = Field(default=16 * 1024, ge=4096, le=1024 * 1024)
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Outside dev/test, webhook URLs may use only these ports (https on 443 by default).
    webhook_allowed_ports: list[int] = Field(default_factory=lambda: [443])
    http_header_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    http_keep_alive_seconds: int = Field(default=5, ge=1, le=300)
    # With ``yjrisk serve --workers N``: how long uvicorn's supervisor waits for a worker to
    # answer its health check (and to start) before it kills and replaces it. uvicorn's own
    # default (5 s) is shorter than the app's start-up on a loaded 2-core machine (15 s seen),
    # which made the supervisor replace its workers forever without ever serving.
    worker_healthcheck_seconds: int = Field(default=60, ge=5, le=600)
    db_connect_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    db_pool_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    db_statement_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    # A pooled connection idle at least this long is pinged before use (0: before every use).
    # A busy process reuses its connections within milliseconds and skips the ping (three round
    # trips with asyncpg); a connection that sat through a database restart is caught by it.
    db_ping_after_idle_seconds: float = Field(default=1.0, ge=0, le=3600)
    extra_closure_days: list[date] = Field(default_factory=list)
    idempotency_key_ttl_hours: int = Field(default=72, ge=1)
    # A folder of extra policy packs (*.toml) besides the bundled ones, each checked at start-up.
    packs_dir: Path | None = None
    # Services (slugs) whose calendar feeds may show the child's name; others show only the
    # case's external reference (data minimisation: a phone's calendar is not a case system).
    calendar_child_names_services: list[str] = Field(default_factory=list)
    # A calendar feed's URL lapses this many days after it was made (its owner makes a new one;
    # A26a-8: a leaver's feed must not serve for ever). Shortening it lapses older feeds at once.
    calendar_feed_days: int = Field(default=90, ge=1, le=366)
    # At most this many live feeds per person and service (one per device is the use).
    calendar_feeds_per_person: int = Field(default=5, ge=1, le=100)
    # The service's public address (``https://yjrisk.example.org``, or with a path prefix): the
    # base of the URLs it hands out (a calendar feed's, a credential, and the step links in it).
    # Unset, they are built from the request (its Host and scheme), which a client or a proxy
    # chooses (A26a-16); outside dev/test it must be https.
    public_base_url: str | None = None
    access_log_flush_seconds: float = Field(default=1.0, gt=0, le=3600)
    access_log_batch: int = Field(default=500, ge=1, le=1_000_000)
    log_level: str = "INFO"
    log_json: bool = True
    # Demo calendar (YJ_ENV=dev only, written by scripts/dev.sh): the service's clock reads
    # demo_clock_start at the real instant demo_clock_set_at and runs on from there.
    demo_clock_start: datetime | None = None
    demo_clock_set_at: datetime | None = None

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """``YJ_CORS_ORIGINS`` as a JSON list or comma-separated origins."""
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("database_url")
    @classmethod
    def _a_database_url(cls, value: str) -> str:
        """``YJ_DATABASE_URL`` is a SQLAlchemy URL of a driver the service runs on (SQLite via
        aiosqlite, PostgreSQL via asyncpg). An empty or malformed one was a traceback from
        SQLAlchemy (attack 24a, A24a-3); now one line, never quoting the value (it may hold a
        password)."""
        from sqlalchemy.engine import make_url
        from sqlalchemy.exc import ArgumentError

        if not value.strip():
            raise ValueError("it is empty; unset it to use the default SQLite database "
                             f"({DEFAULT_DATABASE_URL}), or give a database URL")
        try:
            driver = make_url(value).drivername
        except ArgumentError:
            driver = None
        if driver not in DATABASE_DRIVERS:
            raise ValueError("not a database URL this service runs on: it starts "
                             + " or ".join(f"{d}://" for d in DATABASE_DRIVERS)
                             + " (e.g. postgresql+asyncpg://user@host/db)")
        return value

    @field_validator("jwt_secret", "jwks_url", "packs_dir", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        """An empty ``YJ_JWT_SECRET=``, ``YJ_JWKS_URL=`` or ``YJ_PACKS_DIR=`` (a variable set to
        nothing, the usual way to switch one off over a ``.env``) means unset: not a zero-byte
        secret, nor the current folder read as a folder of packs (ATK29-5)."""
        if isinstance(value, str) and not value.strip():
            return None
        return value

    @field_validator("public_base_url", mode="before")
    @classmethod
    def _public_base(cls, value: object) -> object:
        """An absolute http(s) URL with no query, fragment or credentials; the trailing slash
        dropped; empty means unset."""
        if not isinstance(value, str):
            return value
        value = value.strip()
        if not value:
            return None
        parts = urlsplit(value)
        if (parts.scheme not in {"http", "https"} or not parts.hostname or parts.query
                or parts.fragment or parts.username or parts.password):
            raise ValueError("not a public base URL: give https://host[:port][/prefix], with no "
                             "query, fragment or credentials")
        return value.rstrip("/")

    @model_validator(mode="after")
    def _secure_outside_dev(self) -> Settings:
        """Refuse an unsafe token configuration outside dev and test."""
        if self.env in RELAXED_ENVS:
            return self
        if self.public_base_url is not None and not self.public_base_url.startswith("https://"):
            raise ConfigError(f"YJ_ENV={self.env}: YJ_PUBLIC_BASE_URL must be https (the URLs it "
                              "begins are credentials); refusing to start")
        secret_ok = (
            self.jwt_secret is not None
            and len(self.jwt_secret.encode()) >= MIN_HS256_SECRET_BYTES
        )
        if self.jwks_url is None and not secret_ok:
            raise ConfigError(
                f"YJ_ENV={self.env}: set YJ_JWKS_URL (RS256/ES256) or a YJ_JWT_SECRET of at "
                f"least {MIN_HS256_SECRET_BYTES} bytes; refusing to start"
            )
        if self.jwt_secret is not None and not secret_ok:
            raise ConfigError(f"YJ_ENV={self.env}: YJ_JWT_SECRET is too short; refusing to start")
        return self

    @property
    def hs256_enabled(self) -> bool:
        """HS256 is accepted only with a secret and, outside dev/test, a long one."""
        if not self.jwt_secret:
            return False
        if self.env in RELAXED_ENVS:
            return True
        return len(self.jwt_secret.encode()) >= MIN_HS256_SECRET_BYTES

    @property
    def is_sqlite(self) -> bool:
        """Whether the configured database is the embedded SQLite."""
        return self.database_url.startswith("sqlite")


# pydantic-settings names the field in its message: 'error parsing value for field "x" from
# source "EnvSettingsSource"'.
_SETTINGS_ERROR_FIELD = re.compile(r'field "(\w+)"')


def _setting_name(field: str) -> str:
    """The variable that sets a field (``extra_closure_days`` -> ``YJ_EXTRA_CLOSURE_DAYS``)."""
    return "YJ_" + field.upper()


def settings_problem(exc: Exception) -> str | None:
    """One line saying what is wrong with the settings, for an error raised reading them (None:
    not a settings mistake). Never the value itself: a setting may hold a secret."""
    if isinstance(exc, ConfigError):
        return str(exc)
    if isinstance(exc, UnicodeDecodeError):
        return "the settings file (.env, or YJ_ENV_FILE) is not UTF-8 text"
    if isinstance(exc, SettingsError):
        # A JSON-typed setting (a list) whose value is not JSON at all, from the environment
        # or the .env file: pydantic-settings fails before validation (attack pass 16, A16-2).
        found = _SETTINGS_ERROR_FIELD.search(str(exc))
        name = _setting_name(found.group(1)) if found else "a YJ_ setting"
        return (f"setting {name} is invalid: not a JSON list (write the values in square "
                'brackets, each string in double quotes, e.g. ["first", "second"]; [] for none)')
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        name = _setting_name("_".join(str(p) for p in first.get("loc", ())))
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        return f"setting {name} is invalid: {msg}"
    return None


def load_settings() -> Settings:
    """The settings from the environment and the .env file; every mistake in them, whatever
    its source, is one :class:`ConfigError` line (the CLI prints it and exits 2)."""
    try:
        return Settings()
    except Exception as exc:
        problem = settings_problem(exc)
        if problem is None:
            raise
        raise ConfigError(problem) from None


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once (a mistake in them is a :class:`ConfigError`)."""
    return load_settings()
