"""The ``orchestrator`` command as an operator uses it."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic import command
from pydantic import ValidationError

from orchestrator.__main__ import main
from orchestrator.core.migrate import alembic_config
from orchestrator.core.settings import PLACEHOLDER_SECRET, Settings

SAMPLES = Path(__file__).parent.parent / "calendars" / "samples"
NOT_CURRENT = "the database schema is not current: run `orchestrator migrate`"


def run_cli(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ORCH_DATA_DIR": str(data_dir)}
    env.pop("ORCH_DATABASE_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "orchestrator", *args],
        stdin=subprocess.DEVNULL,  # `mail ingest` reads a message from it
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_users_add_prints_the_token_alone_on_the_last_line(tmp_path: Path) -> None:
    result = run_cli(
        "users", "add", "--email", "Me@Example.org", "--role", "scheduler", data_dir=tmp_path
    )
    assert result.returncode == 0, result.stderr
    last = result.stdout.rstrip("\n").splitlines()[-1]
    assert last.startswith("mo_") and " " not in last and len(last) > 40
    assert (tmp_path / "orchestrator.db").exists()
    again = run_cli(
        "users", "add", "--email", "me@example.org", "--role", "admin", data_dir=tmp_path
    )
    assert again.returncode != 0
    assert "already exists" in again.stderr
    named = run_cli(
        "users", "add", "--email", "you@example.org", "--role", "admin",
        "--name", "Ann =?utf-8?q?=0D=0ABcc:_x@evil.example?=", data_dir=tmp_path,
    )  # fmt: skip
    assert named.returncode != 0 and "Traceback" not in named.stderr
    assert "one line of text" in named.stderr


def test_migrate_and_demo_are_repeatable(tmp_path: Path) -> None:
    assert run_cli("migrate", data_dir=tmp_path).returncode == 0
    first = run_cli("demo", data_dir=tmp_path)
    assert first.returncode == 0, first.stderr
    assert "loaded 12 demo cases" in first.stdout
    second = run_cli("demo", data_dir=tmp_path)
    assert "already loaded" in second.stdout


def test_commands_refuse_a_database_whose_schema_is_behind(tmp_path: Path) -> None:
    # A database left at the first revision, as after upgrading the code but not migrating.
    command.upgrade(alembic_config(Settings(data_dir=tmp_path).database_url), "0001")
    for args in (
        ["users", "add", "--email", "me@example.org", "--role", "admin"],
        ["users", "token", "--email", "me@example.org"],
        ["demo"],
        ["retention", "run", "--dry-run"],
        ["mail", "ingest"],
    ):
        result = run_cli(*args, data_dir=tmp_path)
        assert result.returncode != 0, args
        assert result.stderr.strip() == NOT_CURRENT, args
    # Nothing was migrated behind the operator's back; migrating lets the commands run.
    assert (
        run_cli(
            "users", "add", "--email", "me@example.org", "--role", "admin", data_dir=tmp_path
        ).returncode
        != 0
    )
    assert run_cli("migrate", data_dir=tmp_path).returncode == 0
    added = run_cli(
        "users", "add", "--email", "me@example.org", "--role", "admin", data_dir=tmp_path
    )
    assert added.returncode == 0, added.stderr


def test_mail_ingest_on_a_current_database_runs_no_migration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli("migrate", data_dir=tmp_path).returncode == 0
    monkeypatch.delenv("ORCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("ORCH_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("ORCH_ENV", "dev")

    def no_migrations(*args: object, **kwargs: object) -> None:
        raise AssertionError("mail ingest ran an Alembic upgrade")

    monkeypatch.setattr(command, "upgrade", no_migrations)
    raw = (SAMPLES / "gmail_reply.eml").read_bytes()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(raw)))
    main(["mail", "ingest"])
    assert capsys.readouterr().out.strip() == "unknown_uid"


def test_every_command_has_help(tmp_path: Path) -> None:
    for args in (
        ["--help"],
        ["serve", "--help"],
        ["migrate", "--help"],
        ["users", "add", "--help"],
        ["demo", "--help"],
        ["retention", "run", "--help"],
        ["mail", "ingest", "--help"],
    ):
        result = run_cli(*args, data_dir=tmp_path)
        assert result.returncode == 0
        assert "usage:" in result.stdout


def test_production_refuses_the_placeholder_secret() -> None:
    with pytest.raises(ValidationError, match="ORCH_SECRET_KEY"):
        Settings(env="production", secret_key=PLACEHOLDER_SECRET)
    with pytest.raises(ValidationError, match="ORCH_SECRET_KEY"):
        Settings(env="production", secret_key="short")
    ok = Settings(env="production", secret_key="x" * 40, database_url="postgres://u:p@db/orch")
    assert ok.database_url == "postgresql+asyncpg://u:p@db/orch"


def test_settings_read_a_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "orchestrator.toml"
    config.write_text('service_name = "Example Mediation"\ntarget_days = 28\n')
    monkeypatch.setenv("ORCH_CONFIG_FILE", str(config))
    monkeypatch.setenv("ORCH_TARGET_DAYS", "30")
    settings = Settings()
    assert settings.service_name == "Example Mediation"
    assert settings.target_days == 30  # the environment wins over the file
