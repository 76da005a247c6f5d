"""One rule for times in every party page and email: ``calendars.wording`` ("9:30am").

Times were written "09:30" in one place and "9:30am" in another. Party pages and emails
(their templates, and the handlers and content modules that fill them) never format a
time themselves: no ``strftime``/``isoformat`` in a template, no clock pattern ("%H:%M",
"%I") or Babel outside ``wording``; and what they render reads "9:30am", never "09:30".
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from calendars import wording
from orchestrator.mail_templates import render_mail

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = [
    *sorted((ROOT / "orchestrator/web/templates/party").glob("*.html")),
    *sorted((ROOT / "orchestrator/web/templates/prepare").glob("*.html")),
    *sorted((ROOT / "orchestrator/mail_templates").rglob("*.html")),
    *sorted((ROOT / "orchestrator/mail_templates").rglob("*.txt")),
]
HANDLERS = [
    *sorted((ROOT / "orchestrator/web/party").glob("*.py")),
    *sorted((ROOT / "orchestrator/messaging").glob("*.py")),
]
ZERO_PADDED = re.compile(r"\b0\d:\d\d\b")
CLOCK_PATTERN = re.compile(r"%H:%M|%I|%p|\bformat_(time|datetime)\b|\bbabel\b")


def test_no_party_template_formats_a_time_itself() -> None:
    assert TEMPLATES and HANDLERS
    found = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in TEMPLATES
        for match in re.finditer(r"strftime|isoformat|\.hour\b|\.minute\b", path.read_text())
    ]
    assert found == [], found


def test_no_party_handler_words_a_clock_outside_wording() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in HANDLERS
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if CLOCK_PATTERN.search(line)
    ]
    assert found == [], found


def test_the_one_rule_never_writes_a_zero_padded_clock() -> None:
    morning = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    said = [
        wording.clock(morning, zone="Europe/London"),
        wording.when(morning, morning.replace(hour=11), zone="Europe/London"),
        wording.clock_before(morning, meeting_start=morning, zone="Europe/London"),
        wording.clock_from_today(morning, now=morning, zone="Europe/London"),
    ]
    assert said[0] == "9:30am"
    assert not any(ZERO_PADDED.search(text) for text in said), said


def test_a_rendered_invite_reads_9_30am() -> None:
    morning = datetime(2026, 3, 10, 9, 30, tzinfo=UTC)
    when = wording.when(morning, morning.replace(hour=11), zone="Europe/London")
    context = {
        "service_name": "Mediation",
        "help_line": "0333 000 0000",
        "recipient_name": "Pat",
        "meeting_label": "SEND mediation meeting",
        "when": when,
        "video_url": "https://service.example/j/abc",
        "dial_in_number": None,
        "dial_in_pin": None,
        "venue": None,
        "venue_notes": None,
        "ways_in": ["video"],
        "join_opens_at": wording.clock_before(
            morning.replace(hour=9, minute=0), meeting_start=morning, zone="Europe/London"
        ),
        "people": ["Mediator (chairs the meeting)"],
        "what_to_expect": "Talk.",
        "rsvp": None,
        "update": False,
        "removed": False,
    }
    for kind in ("invite", "reminder"):
        mail = render_mail(kind, context)
        for part in (mail.subject, mail.text, mail.html):
            assert "9:30am" in part and not ZERO_PADDED.search(part), part
        assert "it opens at 9am on the day" in mail.text
