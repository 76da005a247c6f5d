"""GOV.UK Frontend components drawn by govuk-frontend-jinja's macros, for our templates.

The package's macros read optional parameters that are not there (``params.classes``), which
our page environment refuses on purpose (``StrictUndefined`` catches typos in our own
templates). So the macros run in a small environment of their own with Jinja's ordinary
undefined, and templates call them through one global: ``govuk("error-summary", {...})``.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import jinja2
from markupsafe import Markup

# Component folder -> the macro it defines (GOV.UK's Nunjucks names).
MACROS = {
    "error-summary": "govukErrorSummary",
    "date-input": "govukDateInput",
    "input": "govukInput",
    "radios": "govukRadios",
    "checkboxes": "govukCheckboxes",
    "textarea": "govukTextarea",
}


@cache
def _environment() -> jinja2.Environment:
    loader = jinja2.PrefixLoader(
        {"govuk_frontend_jinja": jinja2.PackageLoader("govuk_frontend_jinja")}
    )
    return jinja2.Environment(loader=loader, autoescape=True)


def component(name: str, params: dict[str, Any]) -> Markup:
    """The HTML of one GOV.UK component, e.g. ``component("date-input", {...})``."""
    template = _environment().get_template(f"govuk_frontend_jinja/components/{name}/macro.html")
    macro = getattr(template.module, MACROS[name])
    html = macro(params)
    if not isinstance(html, Markup):  # autoescape is on, so the macro escapes what it is given
        raise TypeError(f"GOV.UK macro {name} returned unescaped text")
    return html
