"""A party link's short alias: its id and a tag only the service can make.

Mail shows links by their alias (35 characters, not the JWT's 300); the row still decides
whether the link works, so a revoked or moved link's alias dies with it (the resend and
invitation tests follow an emailed alias to its page and back to a 404).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from orchestrator.cases import links, short_links
from orchestrator.core.errors import LinkInvalid
from orchestrator.core.models import Link, LinkScope

SECRET = "a-secret-long-enough-for-the-tests-0123456789"
NOW = datetime(2026, 3, 2, 9, tzinfo=UTC)


def a_link() -> Link:
    return Link(
        id="Rr4_g7MoHhyueaN78lQL97iZ",
        case_id="00000000-0000-0000-0000-000000000001",  # type: ignore[arg-type]
        scope=LinkScope.join_room,
        created_at=NOW,
        expires_at=NOW + timedelta(days=60),
    )


def test_an_alias_names_its_link_and_is_short() -> None:
    link = a_link()
    alias = short_links.alias(link, secret=SECRET)
    assert alias.startswith(link.id) and len(alias) == 35
    assert short_links.is_short(alias) and not short_links.is_short(
        links.encode(link, secret=SECRET)
    )
    assert short_links.link_id(alias, secret=SECRET) == link.id
    url = links.short_url_for(link, base_url="https://service.example", secret=SECRET)
    assert url == f"https://service.example/j/{alias}" and len(url) < 100


@pytest.mark.parametrize(
    "forged",
    [
        "Rr4_g7MoHhyueaN78lQL97iZ" + "A" * 11,  # the id with a made-up tag
        "Rr4_g7MoHhyueaN78lQL97iZ",  # the id alone (as a database reader knows it)
        "yet-another-guess",
        "x" * 200,
    ],
)
def test_an_alias_without_the_services_tag_is_refused(forged: str) -> None:
    with pytest.raises(LinkInvalid) as refused:
        short_links.link_id(forged, secret=SECRET)
    assert refused.value.details == {"reason": "invalid"}


def test_another_services_secret_makes_another_alias() -> None:
    alias = short_links.alias(a_link(), secret=SECRET)
    with pytest.raises(LinkInvalid):
        short_links.link_id(alias, secret=SECRET + "-other")
