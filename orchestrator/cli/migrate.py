"""``orchestrator migrate``: bring the schema to the newest version of every branch."""

from __future__ import annotations

from orchestrator.cli.runner import load_settings


def migrate() -> None:
    """Bring the schema to the newest version (creating the data folder first)."""
    from orchestrator.core.migrate import upgrade_sync

    settings = load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    upgrade_sync(settings.database_url)
    print("database is at the newest schema")
