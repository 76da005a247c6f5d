"""Video and phone providers chosen by configuration, built once per app and reused.

A short name (``jitsi``, ``bbb``, ``zoom``, ``teams``; ``twilio`` for the phone bridge)
picks a built-in adapter configured from its block of settings. Anything else must be a
dotted ``package.module:Class`` whose constructor takes ``(settings, http)``. The
adapters never see the orchestrator: each gets its own config dataclass here.

Stored room data is kept as a plain dict (``room_to_dict``) so join URLs are rebuilt at
click time from the database alone, with no remote call. Calling the adapters for the
rooms' queued work is ``provider_calls``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from integrations.base import PhoneBridge, ProviderRoom, VideoProvider
from integrations.errors import PluginLoadError
from integrations.loader import load_plugin
from orchestrator.core.errors import ValidationFailed
from orchestrator.core.settings import Settings

VIDEO_BUILTINS = {
    "jitsi": "integrations.jitsi:JitsiProvider",
    "bbb": "integrations.bbb:BigBlueButtonProvider",
    "zoom": "integrations.zoom:ZoomProvider",
    "teams": "integrations.teams:TeamsProvider",
}
PHONE_BUILTINS = {"twilio": "integrations.twilio_bridge:TwilioBridge"}
ROOM_TITLE = "Mediation meeting"  # generic: nothing about the case reaches a provider

# Hook paths the providers call us on (relative to settings.base_url).
BBB_CALLBACK_PATH = "/hooks/bbb/events"
TWILIO_VOICE_PATH = "/hooks/twilio/voice"
TWILIO_PIN_PATH = "/hooks/twilio/pin"
TWILIO_STATUS_PATH = "/hooks/twilio/status"


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def _require(settings: Settings, name: str, *fields: str) -> None:
    missing = [f"ORCH_{f.upper()}" for f in fields if not getattr(settings, f)]
    if missing:
        raise PluginLoadError(f"the {name} provider needs " + ", ".join(missing))


def _jitsi(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.jitsi import JitsiConfig, JitsiProvider

    token = _secret(settings.jitsi_event_sync_token)
    return JitsiProvider(
        JitsiConfig(
            base_url=settings.jitsi_base_url,
            app_id=settings.jitsi_app_id,
            app_secret=_secret(settings.jitsi_app_secret) or None,
            audience=settings.jitsi_audience,
            event_sync_header_value=f"Bearer {token}" if token else None,
            muc_domain=settings.jitsi_muc_domain,
            dial_in_number=settings.jitsi_dial_in_number,
        ),
        http,
    )


def _bbb(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.bbb import BbbConfig, BigBlueButtonProvider

    _require(settings, "bbb", "bbb_shared_secret")
    return BigBlueButtonProvider(
        BbbConfig(
            base_url=settings.bbb_base_url,
            shared_secret=_secret(settings.bbb_shared_secret),
            checksum_algorithm=settings.bbb_checksum_algorithm,
            callback_url=settings.base_url + BBB_CALLBACK_PATH,
            webhook_bearer=settings.bbb_webhook_bearer,
            sip_domain=settings.bbb_sip_domain,
        ),
        http,
    )


def _zoom(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.zoom import ZoomConfig, ZoomProvider

    _require(
        settings,
        "zoom",
        "zoom_account_id",
        "zoom_client_id",
        "zoom_client_secret",
        "zoom_webhook_secret_token",
    )
    return ZoomProvider(
        ZoomConfig(
            account_id=settings.zoom_account_id or "",
            client_id=settings.zoom_client_id or "",
            client_secret=_secret(settings.zoom_client_secret),
            webhook_secret_token=_secret(settings.zoom_webhook_secret_token),
            user_id=settings.zoom_user_id,
            oauth_url=settings.zoom_oauth_url,
            api_base=settings.zoom_api_base,
            timezone=settings.timezone,
            registrant_email_domain=settings.zoom_registrant_email_domain
            or "zoom-registrants." + (urlsplit(settings.base_url).hostname or "localhost"),
        ),
        http,
    )


def _teams(settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    from integrations.teams import TeamsConfig, TeamsProvider

    _require(
        settings,
        "teams",
        "teams_tenant_id",
        "teams_client_id",
        "teams_client_secret",
        "teams_organizer_user_id",
    )
    return TeamsProvider(
        TeamsConfig(
            tenant_id=settings.teams_tenant_id or "",
            client_id=settings.teams_client_id or "",
            client_secret=_secret(settings.teams_client_secret),
            organizer_user_id=settings.teams_organizer_user_id or "",
            login_base=settings.teams_login_base,
            graph_base=settings.teams_graph_base,
        ),
        http,
    )


def _twilio(settings: Settings, http: aiohttp.ClientSession) -> PhoneBridge:
    from integrations.twilio_bridge import TwilioBridge, TwilioConfig

    _require(settings, "twilio", "twilio_account_sid", "twilio_auth_token", "phone_dial_in_number")
    return TwilioBridge(
        TwilioConfig(
            account_sid=settings.twilio_account_sid or "",
            auth_token=_secret(settings.twilio_auth_token),
            phone_number=settings.phone_dial_in_number or "",
            api_base=settings.twilio_api_base,
        ),
        http,
    )


_VIDEO_FACTORIES: Mapping[str, Callable[[Settings, aiohttp.ClientSession], VideoProvider]] = {
    "jitsi": _jitsi,
    "bbb": _bbb,
    "zoom": _zoom,
    "teams": _teams,
}


def build_video(name: str, settings: Settings, http: aiohttp.ClientSession) -> VideoProvider:
    """Build the video provider ``name``. Raises PluginLoadError when it cannot be built."""
    factory = _VIDEO_FACTORIES.get(name)
    if factory is not None:
        try:
            return factory(settings, http)
        except ValueError as exc:
            raise PluginLoadError(f"the {name} provider is misconfigured: {exc}") from exc
    cls: Any = load_plugin("video", name, VIDEO_BUILTINS, VideoProvider)
    return cls(settings, http)  # type: ignore[no-any-return]


def build_phone(name: str, settings: Settings, http: aiohttp.ClientSession) -> PhoneBridge:
    """Build the phone bridge ``name``. Raises PluginLoadError when it cannot be built."""
    if name == "twilio":
        return _twilio(settings, http)
    cls: Any = load_plugin("phone", name, PHONE_BUILTINS, PhoneBridge)
    return cls(settings, http)  # type: ignore[no-any-return]


class Providers:
    """The providers of one app, built on first use and kept for its lifetime."""

    def __init__(self, settings: Settings, http: Callable[[], aiohttp.ClientSession]) -> None:
        self.settings = settings
        self._http = http
        self._video: dict[str, VideoProvider] = {}
        self._phone: PhoneBridge | None = None

    def video_names(self) -> list[str]:
        """The providers this service may use: the chosen one, then the fallback."""
        names = [self.settings.video_provider]
        fallback = self.settings.fallback_video_provider
        if fallback and fallback not in names:
            names.append(fallback)
        return names

    def video(self, name: str | None = None) -> VideoProvider:
        """The video provider ``name`` (default: the configured one)."""
        name = name or self.settings.video_provider
        provider = self._video.get(name)
        if provider is None:
            provider = build_video(name, self.settings, self._http())
            self._video[name] = provider
        return provider

    def phone(self) -> PhoneBridge:
        """The configured phone bridge. Raises PluginLoadError when none is configured."""
        if not self.settings.phone_bridge:
            raise PluginLoadError("no phone bridge is configured (ORCH_PHONE_BRIDGE)")
        if self._phone is None:
            self._phone = build_phone(self.settings.phone_bridge, self.settings, self._http())
        return self._phone

    def check_video(self, name: str) -> None:
        """Refuse (ValidationFailed) a provider that is not configured or cannot be built."""
        if name not in self.video_names() and name not in VIDEO_BUILTINS:
            raise ValidationFailed(f"unknown video provider {name!r}", details={"provider": name})
        try:
            self.video(name)
        except PluginLoadError as exc:
            raise ValidationFailed(str(exc), details={"provider": name}) from None


def room_to_dict(room: ProviderRoom) -> dict[str, Any]:
    """The stored form of a provider room."""
    return {
        "provider": room.provider,
        "room_id": room.room_id,
        "data": dict(room.data),
        "dial_in_number": room.dial_in_number,
        "dial_in_pin": room.dial_in_pin,
    }


def room_from_dict(stored: Mapping[str, Any]) -> ProviderRoom:
    """A provider room back from its stored form."""
    return ProviderRoom(
        provider=str(stored["provider"]),
        room_id=str(stored["room_id"]),
        data=dict(stored.get("data") or {}),
        dial_in_number=stored.get("dial_in_number"),
        dial_in_pin=stored.get("dial_in_pin"),
    )
