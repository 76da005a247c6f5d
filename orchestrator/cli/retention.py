"""``orchestrator retention run [--dry-run]``: anonymise closed cases past the retention period."""

from __future__ import annotations

from orchestrator.cli.runner import load_settings, run_with_database


def run(*, dry_run: bool) -> None:
    """Anonymise closed cases past the retention period (``dry_run``: only list them)."""
    from orchestrator.cases import retention
    from orchestrator.core.models import utcnow

    settings = load_settings()
    report = run_with_database(
        lambda db: retention.run(db, settings=settings, now=utcnow(), dry_run=dry_run),
        settings=settings,
    )
    print(report.describe())
