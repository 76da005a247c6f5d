"""``orchestrator demo``: load a realistic sample caseload (once)."""

from __future__ import annotations

from orchestrator.cli.runner import load_settings, run_with_database


def load_sample() -> None:
    """Load the sample caseload into the database (a second run changes nothing)."""
    from orchestrator.cases.demo import load_demo

    settings = load_settings()
    summary = run_with_database(lambda db: load_demo(db, settings=settings), settings=settings)
    print(summary)
