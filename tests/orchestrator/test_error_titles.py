"""A page with a refused form says "Error: " once at the start of its title, never twice."""

from __future__ import annotations

from pathlib import Path

TEMPLATES = Path(__file__).resolve().parents[2] / "orchestrator" / "web" / "templates"


def test_only_the_base_layout_prefixes_error_for_a_context_named_errors() -> None:
    # base.html adds "Error: " whenever a context value named ...error(s) is set
    # (pages.render); a template adding its own for the same value doubles it.
    doubled = [
        str(path.relative_to(TEMPLATES))
        for path in TEMPLATES.rglob("*.html")
        if path.name != "base.html" and "{% if errors %}Error: " in path.read_text()
    ]
    assert doubled == []
