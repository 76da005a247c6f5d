"""The words of every email: Jinja templates, plain text and HTML, easy-read and translations.

Each message kind has ``<kind>.txt`` and ``<kind>.html``; ``<kind>.easy.txt`` /
``<kind>.easy.html`` are the easy-read wording for young people, and ``<lang>/<kind>.txt``
a translation. The text template sets ``subject``. When a person's language has no
translation the English wording is used and the mail says so, with the help line.
HTML is autoescaped; plain text is not (it is never interpreted as markup).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

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
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    return env


def _language_code(language: str | None) -> str | None:
    """'cy', 'pl' ... from a tag like 'cy-GB' (English and unknown tags give None)."""
    if not language:
        return None
    code = language.strip().lower().replace("_", "-").split("-")[0]
    if not code.isalpha() or code == "en":
        return None
    return code


def _candidates(kind: str, *, easy_read: bool, language: str | None) -> list[tuple[str, bool]]:
    names: list[tuple[str, bool]] = []
    if easy_read:
        if language:
            names.append((f"{language}/{kind}.easy", True))
        names.append((f"{kind}.easy", False))
    if language:
        names.append((f"{language}/{kind}", True))
    names.append((kind, False))
    return names


def _pick(kind: str, *, easy_read: bool, language: str | None) -> tuple[str, bool]:
    for stem, translated in _candidates(kind, easy_read=easy_read, language=language):
        if (TEMPLATES / f"{stem}.txt").is_file() and (TEMPLATES / f"{stem}.html").is_file():
            return stem, translated
    raise LookupError(f"no mail template for {kind!r}")


def render_mail(
    kind: str,
    context: dict[str, Any],
    *,
    easy_read: bool = False,
    language: str | None = None,
) -> RenderedMail:
    """Render the subject and bodies of one message for one person."""
    code = _language_code(language)
    stem, translated = _pick(kind, easy_read=easy_read, language=code)
    values = dict(context)
    values["translation_missing"] = code is not None and not translated
    text_template = _environment(False).get_template(f"{stem}.txt")
    module = text_template.make_module(values)
    subject = " ".join(str(getattr(module, "subject", "")).split())
    text = str(module).strip() + "\n"
    html = _environment(True).get_template(f"{stem}.html").render(values)
    return RenderedMail(subject=subject, text=text, html=html, translated=translated)
