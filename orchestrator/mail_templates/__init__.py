"""The words of every email: Jinja templates, plain text and HTML, easy-read, in one's language.

Each message kind has ``<kind>.txt`` and ``<kind>.html``; ``<kind>.easy.txt`` /
``<kind>.easy.html`` are the easy-read wording for young people. The words are English
``_("…")`` calls translated by the gettext catalogues (``orchestrator.core.languages``) into
the person's language; the text template sets ``subject``. When a person's language is one
we do not have, the English wording is used and the mail says so, with the help line.
HTML is autoescaped; plain text is not (it is never interpreted as markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from orchestrator.core import languages

TEMPLATES = Path(__file__).parent


@dataclass(frozen=True)
class RenderedMail:
    """A message's subject and its two bodies."""

    subject: str
    text: str
    html: str
    translated: bool


@lru_cache(maxsize=2)
def _environment(html: bool) -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(TEMPLATES)),
        extensions=["jinja2.ext.i18n"],
        autoescape=html,  # noqa: S701 - plain-text mail is never read as markup
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    languages.install(env)
    return env


def _pick(kind: str, *, easy_read: bool) -> str:
    for stem in ([f"{kind}.easy"] if easy_read else []) + [kind]:
        if (TEMPLATES / f"{stem}.txt").is_file() and (TEMPLATES / f"{stem}.html").is_file():
            return stem
    raise LookupError(f"no mail template for {kind!r}")


def render_mail(
    kind: str,
    context: dict[str, Any],
    *,
    easy_read: bool = False,
    language: str | None = None,
) -> RenderedMail:
    """Render the subject and bodies of one message for one person."""
    code = languages.supported(language)
    stem = _pick(kind, easy_read=easy_read)
    values = {**context, **languages.context_for(code)}
    values["translation_missing"] = bool(language) and code is None
    translated = code not in (None, languages.ENGLISH)
    text_template = _environment(False).get_template(f"{stem}.txt")
    module = text_template.make_module(values)
    subject = " ".join(str(getattr(module, "subject", "")).split())
    text = str(module).strip() + "\n"
    html = _environment(True).get_template(f"{stem}.html").render(values)
    return RenderedMail(subject=subject, text=text, html=html, translated=translated)
