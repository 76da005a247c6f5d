"""The small abstract interfaces every adapter implements.

Each interface method says what it raises. Implementations never import ``orchestrator``:
they take a config dataclass of their own and, where they talk HTTP, an
``aiohttp.ClientSession`` that the caller opened and will close.
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal

from multidict import CIMultiDict, CIMultiDictProxy

from calendars.intervals import Interval
from integrations.errors import ProviderRejected, SignatureInvalid

# --------------------------------------------------------------------------- video


@dataclass(frozen=True)
class RoomSpec:
    """What a provider needs to open a room. Carries no personal data.

    ``room_key`` is an opaque, unguessable identifier chosen by the orchestrator; it is
    used as (or inside) the provider's room name. ``title`` is generic ("Mediation meeting").
    """

    room_key: str
    title: str
    start: datetime
    end: datetime
    pin: str | None = None
    lobby: bool = True
    parent: ProviderRoom | None = None  # set for a caucus/breakout room
    # The mediator's own account on the provider, where it has accounts (Teams: their
    # UPN in the organiser's tenant), so they run the meeting as its co-organiser.
    host_account: str | None = None


@dataclass(frozen=True)
class ProviderRoom:
    """A room as the provider knows it; ``data`` is stored verbatim and handed back later."""

    provider: str
    room_id: str
    data: Mapping[str, Any] = field(default_factory=dict)
    dial_in_number: str | None = None
    dial_in_pin: str | None = None


@dataclass(frozen=True)
class JoinIdentity:
    """Who is joining, as the provider may see it: an opaque id and a display name only.

    ``valid_until`` is when the meeting's join window closes: a provider that signs its own
    room tokens (Jitsi) lets them expire then, not a fixed time after the click.
    ``past_lobby``: the mediator has let this person in (our own lobby released them), so
    their URL skips the provider's waiting room where the provider allows it.
    """

    participant_ref: str
    display_name: str
    moderator: bool = False
    valid_until: datetime | None = None
    past_lobby: bool = False


@dataclass(frozen=True)
class PhoneEntry:
    """How a telephone line reaches a video room: a ``sip:`` address, or a phone number
    and the keys to press once it answers (``w`` waits half a second, as Twilio's
    ``SendDigits``). Carries no personal data: the room's own numbers only."""

    address: str
    digits: str = ""

    @property
    def is_sip(self) -> bool:
        return self.address.startswith("sip:")


AttendanceKind = Literal["joined", "left", "waiting", "admitted", "room_started", "room_ended"]


@dataclass(frozen=True)
class AttendanceSignal:
    """One join/leave fact reported by a provider call-back.

    ``dedup_key`` is stable for the same fact delivered twice, so duplicates are dropped.
    ``participant_ref`` is the opaque id we gave the provider (may be None when unknown).
    """

    room_id: str
    kind: AttendanceKind
    at: datetime
    dedup_key: str
    participant_ref: str | None = None
    channel: Literal["video", "phone"] = "video"


@dataclass(frozen=True)
class CallbackRequest:
    """A call-back as received: enough to verify any provider's signature scheme."""

    method: str
    url: str  # full URL as the provider called it, including the query string
    headers: Mapping[str, str]  # read case-insensitively, whatever was passed in
    body: bytes
    form: Mapping[str, Sequence[str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Header names are case-insensitive (RFC 9110): one rule here, not one per adapter.
        object.__setattr__(self, "headers", CIMultiDictProxy(CIMultiDict(self.headers)))


@dataclass(frozen=True)
class CallbackResult:
    """What a verified call-back means: signals to record and, optionally, a body to answer."""

    signals: Sequence[AttendanceSignal] = ()
    response_json: Any = None
    response_text: str | None = None
    content_type: str = "application/json"


class VideoProvider(abc.ABC):
    """A video platform: rooms are created ahead of time; join URLs are built locally."""

    name: str

    @abc.abstractmethod
    async def create_room(self, spec: RoomSpec) -> ProviderRoom:
        """Create (idempotently) the room for ``spec``.

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """

    @abc.abstractmethod
    def join_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """Build this participant's own URL into the room, without any remote call."""

    async def personal_url(self, room: ProviderRoom, who: JoinIdentity, *, now: datetime) -> str:
        """This person's own URL into the room, making the one call it may need first (a
        fresh host link, a registration); by default ``join_url``. Raises like
        ``create_room``."""
        return self.join_url(room, who, now=now)

    def phone_entry(self, room: ProviderRoom) -> PhoneEntry | None:
        """How the phone bridge's line reaches this room (its SIP address, else its own
        dial-in), from stored data; None when it cannot be reached by phone."""
        return None

    async def end_room(self, room: ProviderRoom) -> None:  # noqa: B027 - optional hook
        """End the room for everyone, where the provider can. Raises like ``create_room``."""

    async def create_caucus(self, room: ProviderRoom, spec: RoomSpec) -> ProviderRoom:
        """Create a private breakout room beside ``room``; by default a separate room."""
        return await self.create_room(spec)

    def verify_callback(self, request: CallbackRequest, *, now: datetime) -> CallbackResult:
        """Verify a provider call-back and translate it. Raises SignatureInvalid."""
        raise SignatureInvalid("this provider sends no call-backs", provider=self.name)

    async def attendance(
        self, room: ProviderRoom, *, refs_by_email: Mapping[str, str] | None = None
    ) -> list[AttendanceSignal] | None:
        """The provider's own report of who was in ``room``, read after the meeting, as
        signals (people matched by the address each was invited at); ``[]`` while it is not
        written yet. ``None``: this provider keeps no reports; its call-backs tell us.

        Raises like ``create_room``.
        """
        return None


# --------------------------------------------------------------------------- phone


class PhoneBridge(abc.ABC):
    """A telephone bridge: callers dial a number, key a PIN, and land in a conference."""

    name: str

    @abc.abstractmethod
    def verify_request(self, request: CallbackRequest) -> None:
        """Check the bridge's signature on an incoming webhook. Raises SignatureInvalid."""

    @abc.abstractmethod
    async def move_call(self, call_id: str, conference_name: str) -> None:
        """Move a live call into another conference (joint room <-> caucus).

        Raises ProviderAuthError, ProviderUnavailable or ProviderRejected.
        """

    async def end_conference(self, conference_id: str) -> None:  # noqa: B027 - optional hook
        """End a live conference for everyone in it, where the bridge can; one already over
        counts as ended. Raises like ``move_call``."""

    async def bridge_to_room(
        self, conference_name: str, entry: PhoneEntry, *, status_callback_url: str
    ) -> str:
        """Join ``conference_name`` to a video room by one line to ``entry``, so phone and
        video people hear each other; return the line's call id. Raises like
        ``move_call`` (ProviderRejected where the bridge cannot place calls)."""
        raise ProviderRejected("this phone bridge places no calls", provider=self.name)


# --------------------------------------------------------------------------- mail


class MailBackend(abc.ABC):
    """Sends one fully built message. Implementations must be safe to call again with the
    same ``idempotency_key`` after a crash (the key is also the Message-ID's left part)."""

    name: str

    @abc.abstractmethod
    async def send(self, message: EmailMessage, *, idempotency_key: str) -> None:
        """Deliver ``message``. Raises ProviderUnavailable (retry) or ProviderRejected."""

    async def send_raw(
        self, raw: bytes, *, sender: str, recipients: Sequence[str], idempotency_key: str
    ) -> None:
        """Deliver an already rendered message as these exact bytes (raises like ``send``).

        The outbox stores rendered bytes, so a retry sends exactly what was first written;
        backends that can pass bytes through (SMTP, files) override this to skip re-parsing.
        """
        parsed = message_from_bytes(raw, policy=policy.SMTP)
        assert isinstance(parsed, EmailMessage)
        await self.send(parsed, idempotency_key=idempotency_key)

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release what the backend opened."""


# --------------------------------------------------------------------------- calendars


class CalendarSource(abc.ABC):
    """Someone's calendar, read for busy time only."""

    @abc.abstractmethod
    async def busy(self, start: datetime, end: datetime) -> list[Interval]:
        """Busy intervals overlapping [start, end). Raises CalendarSourceError."""


# --------------------------------------------------------------------------- write-back


@dataclass(frozen=True)
class WebhookDelivery:
    url: str
    secret: str
    event_id: str
    body: bytes


class CaseworkSink(abc.ABC):
    """An external case system that receives signed events."""

    @abc.abstractmethod
    async def deliver(self, delivery: WebhookDelivery, *, now: datetime) -> int:
        """POST the event; return the HTTP status. Raises ProviderUnavailable on 5xx/timeout,
        ProviderRejected on other 4xx."""
