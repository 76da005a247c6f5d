"""Word an invitation: when, how to join and where, alike in the mail body and the ICS.

The mail and the calendar entry must never disagree, so both take their lines from here.
"""

from __future__ import annotations

import html

from calendars import wording
from calendars.invite_spec import EventSpec, JoinDetails, tel_digits


def clean_text(text: str) -> str:
    """Normalise every line break to LF, which icalendar escapes as ``\\n``."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


def when_text(spec: EventSpec, *, locale: str = wording.LOCALE) -> str:
    """Say when the meeting is in its own zone: 'Sunday 29 March 2026, 10am to midday (UK time)'."""
    return wording.when(spec.start, spec.end, zone=spec.tzid, locale=locale)


def join_lines(join: JoinDetails) -> list[str]:
    """List the ways to join, one plain-text line each, as the body and DESCRIPTION show them."""
    lines: list[str] = []
    if join.url:
        lines.append(f"Join by video: {join.url}")
    if join.dial_in_number:
        phone = f"Join by phone: {join.dial_in_number}"
        lines.append(f"{phone}, PIN {join.dial_in_pin}" if join.dial_in_pin else phone)
    if join.venue:
        lines.append(f"Venue: {join.venue}")
    if join.venue_notes:
        lines.append(f"Venue notes: {join.venue_notes}")
    return lines


def location_text(join: JoinDetails) -> str:
    """Put the venue, video link and dial-in on the one line clients show as the location."""
    parts: list[str] = []
    if join.venue:
        parts.append(join.venue)
    if join.url:
        parts.append(join.url)
    if join.dial_in_number:
        pin = f" PIN {join.dial_in_pin}" if join.dial_in_pin else ""
        parts.append(f"Phone {join.dial_in_number}{pin}")
    return " | ".join(parts)


def description(spec: EventSpec) -> str:
    """The DESCRIPTION: when, the organiser's note, then the ways to join, as paragraphs."""
    paragraphs = [when_text(spec)]
    if spec.description:
        paragraphs.append(spec.description)
    lines = join_lines(spec.join)
    if lines:
        paragraphs.append("\n".join(lines))
    return clean_text("\n\n".join(paragraphs))


def html_description(spec: EventSpec) -> str:
    """The same as ``description`` in HTML, with the video and phone as links."""
    parts = [f"<p>{html.escape(when_text(spec))}</p>"]
    if spec.description:
        body = "<br>".join(html.escape(line) for line in clean_text(spec.description).split("\n"))
        parts.append(f"<p>{body}</p>")
    join = spec.join
    if join.url:
        url = html.escape(join.url, quote=True)
        parts.append(f'<p>Join by video: <a href="{url}">{url}</a></p>')
    if join.dial_in_number:
        number = html.escape(join.dial_in_number)
        tel = html.escape(tel_uri(join.dial_in_number), quote=True)
        pin = f", PIN {html.escape(join.dial_in_pin)}" if join.dial_in_pin else ""
        parts.append(f'<p>Join by phone: <a href="{tel}">{number}</a>{pin}</p>')
    if join.venue:
        parts.append(f"<p>Venue: {html.escape(join.venue)}</p>")
    if join.venue_notes:
        parts.append(f"<p>Venue notes: {html.escape(join.venue_notes)}</p>")
    return clean_text("<html><body>" + "".join(parts) + "</body></html>")


def tel_uri(number: str) -> str:
    """The number as a tel: URI, which phones dial at a tap."""
    return f"tel:{tel_digits(number)}"
