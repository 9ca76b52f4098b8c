"""The demo calendar: the dev server's clock and the .env that scripts/dev.sh writes."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from dotenv import dotenv_values

from app.core import clock
from app.core.config import Settings
from app.demo import DEMO_CLOCK_START, write_dev_env
from app.domain.common import utcnow


@pytest.fixture
def restore_clock() -> Iterator[None]:
    """Put the real clock back after the test."""
    yield
    clock.configure(Settings(env="test", _env_file=None))  # type: ignore[call-arg]


def test_demo_clock_runs_on_from_its_start_in_dev(restore_clock: None) -> None:
    """With YJ_ENV=dev the domain's now is the demo start plus the real time since it was set."""
    set_at = datetime.now(UTC) - timedelta(minutes=10)
    clock.configure(Settings(env="dev", demo_clock_start=DEMO_CLOCK_START,
                             demo_clock_set_at=set_at, _env_file=None))  # type: ignore[call-arg]
    shifted = utcnow() - DEMO_CLOCK_START
    assert timedelta(minutes=10) <= shifted < timedelta(minutes=11)
    assert abs(clock.real_now() - datetime.now(UTC)) < timedelta(seconds=5)


@pytest.mark.parametrize("env", ["test", "staging"])
def test_demo_clock_is_ignored_outside_dev(restore_clock: None, env: str) -> None:
    """Outside dev the demo settings change nothing: the clock is the real one."""
    clock.configure(Settings(env=env, jwt_secret="s" * 40, demo_clock_start=DEMO_CLOCK_START,
                             demo_clock_set_at=datetime.now(UTC),
                             _env_file=None))  # type: ignore[call-arg]
    assert abs(utcnow() - datetime.now(UTC)) < timedelta(seconds=5)


def test_dev_env_keeps_the_secret_and_other_lines(tmp_path: Path) -> None:
    """A second start keeps the secret (earlier tokens stay valid) and the user's own lines,
    and moves the demo clock's anchor to the new start."""
    env_file = tmp_path / ".env"
    first = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    write_dev_env(env_file, real_now=first)
    env_file.write_text(env_file.read_text() + "YJ_LOG_LEVEL=DEBUG\n")
    before = dotenv_values(env_file)
    write_dev_env(env_file, real_now=first + timedelta(days=30))
    after = dotenv_values(env_file)
    assert after["YJ_JWT_SECRET"] == before["YJ_JWT_SECRET"]
    assert len(after["YJ_JWT_SECRET"] or "") >= 32
    assert after["YJ_LOG_LEVEL"] == "DEBUG"
    assert after["YJ_ENV"] == "dev"
    assert after["YJ_DATABASE_URL"] == "sqlite+aiosqlite:///./.dev/yjrisk.db"
    assert after["YJ_DEMO_CLOCK_START"] == "2026-08-28T14:35:00Z"
    assert after["YJ_DEMO_CLOCK_SET_AT"] == "2027-02-03T09:00:00Z"
    settings = Settings(_env_file=env_file)  # type: ignore[call-arg]
    assert settings.demo_clock_start == DEMO_CLOCK_START
