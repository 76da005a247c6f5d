"""The languages people read us in: English, Polish and Urdu, from gettext catalogues.

The words are English in the templates and code (``_("…")`` in Jinja, ``N_("…")`` in
Python for words translated where they are shown); ``orchestrator/locale/<code>/LC_MESSAGES/
messages.po`` holds each language's translations (``make translations`` extracts and updates
them). The ``.po`` files are compiled in memory the first time a language is asked for, so a
fresh clone needs no build step. An unknown language reads English.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

import jinja2
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

CATALOGUES = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"
ENGLISH = "en"


@dataclass(frozen=True)
class Language:
    """One language we write in: its code, its own name, its direction and Babel locale."""

    code: str
    name: str  # in the language itself, as the language switch shows it
    direction: str  # "ltr" or "rtl"
    locale: str  # for Babel's dates and times
    tag: str  # for <html lang>


LANGUAGES = {
    "en": Language("en", "English", "ltr", "en_GB", "en-GB"),
    "pl": Language("pl", "Polski", "ltr", "pl_PL", "pl"),
    "ur": Language("ur", "اردو", "rtl", "ur_PK", "ur"),
}


def N_(message: str) -> str:
    """Mark words for the catalogues; they are translated where they are shown."""
    return message


def supported(tag: str | None) -> str | None:
    """'pl' from 'pl', 'pl-PL' or 'PL_pl'; None for a language we do not have."""
    if not tag:
        return None
    code = tag.strip().lower().replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else None


def language(tag: str | None) -> Language:
    """The language for a tag, English when we do not have it."""
    return LANGUAGES[supported(tag) or ENGLISH]


@lru_cache(maxsize=len(LANGUAGES))
def translations(code: str) -> gettext.NullTranslations:
    """The catalogue for a language code, compiled from its ``.po``; English has none."""
    path = CATALOGUES / code / "LC_MESSAGES" / f"{DOMAIN}.po"
    if code == ENGLISH or not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=code)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def gettext_for(tag: str | None, message: str) -> str:
    """One message in the language of a tag (English for an unknown one)."""
    return translations(language(tag).code).gettext(message)


@jinja2.pass_context
def _template_gettext(context: jinja2.runtime.Context, message: str) -> str:
    return gettext_for(context.get("language"), message)


@jinja2.pass_context
def _template_ngettext(
    context: jinja2.runtime.Context, singular: str, plural: str, count: int
) -> str:
    return translations(language(context.get("language")).code).ngettext(singular, plural, count)


def install(env: jinja2.Environment) -> None:
    """Give a template environment ``_()``, translated into the ``language`` it is rendered with.

    The language is a context value, so one environment serves every language.
    """
    env.install_gettext_callables(  # type: ignore[attr-defined]
        _template_gettext, _template_ngettext, newstyle=True
    )
    env.globals["N_"] = N_


def context_for(tag: str | None) -> dict[str, Any]:
    """What a template needs to speak one language: its code, tag and direction."""
    chosen = language(tag)
    return {"language": chosen.code, "lang_tag": chosen.tag, "lang_dir": chosen.direction}
