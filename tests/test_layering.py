"""The web layer parses, authorises, calls one use-case function and renders: no SQL in it.

Pages and API routes reach the domain by the same functions, so a query or a session write
in ``orchestrator/web/`` is a second path that will drift from the first.
"""

from __future__ import annotations

import ast
from pathlib import Path

WEB = Path(__file__).resolve().parent.parent / "orchestrator" / "web"

# What web code may take from the ORM: the session's type (to pass it on) and schema bases.
ALLOWED_ORM_IMPORTS = {
    "sqlalchemy.ext.asyncio": {"AsyncSession"},
    "sqlmodel": {"SQLModel"},
}
ORM_PACKAGES = ("sqlalchemy", "sqlmodel")
# Session methods that read or change rows.
SESSION_CALLS = frozenset(
    {
        "add",
        "add_all",
        "delete",
        "execute",
        "exec",
        "flush",
        "get",
        "merge",
        "refresh",
        "scalar",
        "scalars",
        "stream",
        "stream_scalars",
    }
)


def _is_session(node: ast.expr) -> bool:
    """``session``, ``db_session``, ``ctx.session``, ``self.session`` and the like."""
    if isinstance(node, ast.Name):
        return node.id.endswith("session")
    if isinstance(node, ast.Attribute):
        return node.attr.endswith("session")
    return False


def sql_in(source: str, filename: str) -> list[str]:
    """Each place in ``source`` that builds a query or works a database session directly."""
    found = []
    for node in ast.walk(ast.parse(source, filename)):
        where = f"{filename}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in ORM_PACKAGES:
                    found.append(f"{where}: import {alias.name}")
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module.split(".")[0] not in ORM_PACKAGES:
                continue
            allowed = ALLOWED_ORM_IMPORTS.get(node.module, set())
            for alias in node.names:
                if alias.name not in allowed:
                    found.append(f"{where}: from {node.module} import {alias.name}")
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            if node.func.attr in SESSION_CALLS and _is_session(node.func.value):
                found.append(f"{where}: {ast.unparse(node.func)}(...)")
    return found


def test_no_web_module_builds_a_query_or_works_the_session() -> None:
    modules = sorted(WEB.rglob("*.py"))
    assert modules, f"no web modules under {WEB}"
    found = [hit for path in modules for hit in sql_in(path.read_text(), path.name)]
    assert found == [], "SQL in the web layer; move it into the domain module:\n" + "\n".join(found)


def test_the_check_sees_a_query_a_session_call_and_an_orm_import() -> None:
    handler = (
        "from sqlmodel import col, select\n"
        "from sqlalchemy.ext.asyncio import AsyncSession\n"
        "async def view(ctx, request):\n"
        "    rows = await ctx.session.execute(select(Case).where(col(Case.id) == 1))\n"
        "    case = await session.get(Case, 1)\n"
        "    return request.query.get('x')\n"
    )
    assert sql_in(handler, "view.py") == [
        "view.py:1: from sqlmodel import col",
        "view.py:1: from sqlmodel import select",
        "view.py:4: ctx.session.execute(...)",
        "view.py:5: session.get(...)",
    ]
