"""Typed settings: ``ORCH_`` environment variables and an optional TOML file.

Built once by a command (``orchestrator/cli/``) or by a test and handed to ``create_app``;
never read at import.
"""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, Field, SecretStr, field_validator, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

PLACEHOLDER_SECRET = "dev-only-insecure-secret-change-me"


def normalise_database_url(url: str) -> str:
    """Turn the DSNs people paste into the async drivers we run on."""
    if url.startswith(("postgres://", "postgresql://")):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("postgresql+psycopg") or url.startswith("postgresql+psycopg2"):
        return "postgresql+asyncpg://" + url.split("://", 1)[1]
    if url.startswith("sqlite://") and not url.startswith("sqlite+aiosqlite://"):
        return "sqlite+aiosqlite://" + url.split("://", 1)[1]
    return url


class ServiceVenue(BaseModel):
    """A place the service holds in-person meetings (``ORCH_VENUES``, a JSON list)."""

    name: str = Field(min_length=1, max_length=200)
    address: str = Field(min_length=1, max_length=500)
    access_notes: str | None = Field(default=None, max_length=1000)


class Settings(BaseSettings):
    """Every knob of the service, validated once."""

    model_config = SettingsConfigDict(env_prefix="ORCH_", extra="ignore")

    env: Literal["dev", "test", "production"] = "dev"
    data_dir: Path = Path("data")
    database_url: str = ""
    # A new PostgreSQL connection that gets no answer in this time: the database is down (503).
    database_connect_timeout_s: float = Field(10.0, gt=0, le=120)
    # A statement (on a pooled connection) with no answer in this time, or a request that
    # waits this long for a free pooled connection: the database is unavailable (503).
    database_statement_timeout_s: float = Field(5.0, gt=0, le=600)
    database_pool_timeout_s: float = Field(5.0, gt=0, le=120)
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    # The reverse proxies in front of the service (addresses or networks, e.g. the compose
    # network): from them, the caller is read from X-Forwarded-For. From anyone else that
    # header is ignored, so it cannot be forged to dodge the failed-attempts limiter.
    trusted_proxies: list[str] = Field(default_factory=list)
    base_url: str = ""
    secret_key: SecretStr = SecretStr(PLACEHOLDER_SECRET)
    log_level: str = "INFO"
    # The event loop the service runs on: uvloop (libuv; a cheaper loop for the same code)
    # where it is installed, which is everywhere but Windows; "asyncio" for the standard one.
    event_loop: Literal["uvloop", "asyncio"] = "uvloop"

    # The provider's own service: its name and help line appear on every page and email.
    service_name: str = "KIDS SEND Mediation Service"
    help_line: str = "0333 006 2835"
    timezone: str = "Europe/London"
    target_days: int = Field(33, ge=1, le=365)
    bank_holiday_region: str = "ENG"

    mail_backend: str = "file"
    mail_from: str = "mediation@localhost"
    mail_from_name: str = ""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = False
    smtp_tls: bool = False
    smtp_timeout_s: float = 15.0
    # GOV.UK Notify (integrations/notify.py): text messages (and email when mail_backend is
    # "notify") through one generic template per channel whose content is ((body)) (email:
    # ((subject)) and ((body))). Without an API key and an SMS template, nobody is texted.
    # Receipts are posted to /hooks/notify/status with ``Authorization: Bearer`` this token.
    notify_api_key: SecretStr | None = None
    notify_base_url: str = "https://api.notifications.service.gov.uk"
    notify_sms_template_id: str | None = None
    notify_email_template_id: str | None = None
    notify_callback_token: SecretStr | None = None
    notify_timeout_s: float = Field(15.0, gt=0, le=120)
    # Letters (precompiled PDFs we render) to people with no email and no mobile, when on.
    notify_letters: bool = False
    notify_letter_postage: Literal["first", "second"] = "second"

    video_provider: str = "jitsi"
    fallback_video_provider: str | None = None
    jitsi_base_url: str = "https://meet.jit.si"
    jitsi_app_id: str | None = None
    jitsi_app_secret: SecretStr | None = None
    jitsi_audience: str = "jitsi"
    jitsi_event_sync_token: SecretStr | None = None
    # --- meetings and rooms (booking.py, providers.py): one block per provider.
    # After this long without a room from the chosen provider, use the fallback one.
    provider_fallback_after_minutes: float = Field(30, ge=0, le=7 * 24 * 60)
    jitsi_muc_domain: str | None = None  # default "conference.<host of jitsi_base_url>"
    jitsi_dial_in_number: str | None = None  # the Jigasi number people key their own PIN on
    # What the dial-in gateway presents (``Authorization: Bearer``) to look a PIN up on
    # /hooks/jitsi/mapper?id=; without it, no PIN is ever looked up.
    jitsi_mapper_token: SecretStr | None = None
    bbb_base_url: str = "https://bbb.example.org/bigbluebutton/api"
    bbb_shared_secret: SecretStr | None = None
    bbb_checksum_algorithm: str = "sha256"
    bbb_webhook_bearer: bool = False
    bbb_sip_domain: str | None = None  # FreeSWITCH's SIP domain: the phone bridge's way in
    zoom_account_id: str | None = None
    zoom_client_id: str | None = None
    zoom_client_secret: SecretStr | None = None
    zoom_webhook_secret_token: SecretStr | None = None
    zoom_user_id: str = "me"
    zoom_oauth_url: str = "https://zoom.us/oauth/token"
    zoom_api_base: str = "https://api.zoom.us/v2"
    # Zoom registrants are ``{opaque id}@{this}``; default "zoom-registrants.<our host>".
    zoom_registrant_email_domain: str | None = None
    teams_tenant_id: str | None = None
    teams_client_id: str | None = None
    teams_client_secret: SecretStr | None = None
    teams_organizer_user_id: str | None = None
    teams_login_base: str = "https://login.microsoftonline.com"
    teams_graph_base: str = "https://graph.microsoft.com/v1.0"
    # The telephone bridge: "twilio", a module:Class, or unset (phone meetings are then
    # "we will call you" appointments). Its number is ``phone_dial_in_number``.
    phone_bridge: str | None = None
    twilio_account_sid: str | None = None
    twilio_auth_token: SecretStr | None = None
    twilio_api_base: str = "https://api.twilio.com"

    # The telephone bridge's public number, shown with each person's PIN in invites.
    phone_dial_in_number: str | None = None

    join_opens_minutes: int = Field(30, ge=0, le=24 * 60)
    join_grace_minutes: int = Field(60, ge=0, le=24 * 60)
    link_ttl_days: int = Field(60, ge=1, le=400)

    outbox_poll_seconds: float = Field(1.0, gt=0)
    outbox_max_attempts: int = Field(12, ge=1)
    outbox_backoff_base_s: float = Field(5.0, gt=0)
    outbox_backoff_max_s: float = Field(3600.0, gt=0)
    run_background_jobs: bool = True
    # --- scale-out and health (health.py). A replica killed mid-delivery holds its claimed
    # outbox rows this long before another takes them; it must outlast a batch's delivery.
    outbox_lease_seconds: float = Field(300.0, ge=5)
    # Staff pages show a "degraded" banner when mail has waited longer than this, or a
    # dependency is down; the check runs every ``health_check_seconds``.
    degraded_outbox_age_minutes: float = Field(10.0, gt=0)
    health_check_seconds: float = Field(10.0, gt=0)

    # Invitations, replies and reminders. Offsets are minutes before the start (7 days,
    # 2 days, 2 hours); a party may carry its own. Chasers go to people who have not
    # answered a poll or an invite, at most ``*_chase_max`` times, ``*_chase_after_hours``
    # apart. Inbound iTIP replies are posted to /hooks/mail/inbound with this token.
    reminder_offsets_minutes: list[int] = Field(default_factory=lambda: [10080, 2880, 120])
    # The service's own venues for in-person and hybrid meetings, offered on the booking
    # page beside the child's school: [{"name": ..., "address": ..., "access_notes": ...}].
    venues: list[ServiceVenue] = Field(default_factory=list, max_length=200)
    reminder_sweep_seconds: float = Field(30.0, gt=0)
    reminder_batch_size: int = Field(25, ge=1, le=5000)
    poll_chase_after_hours: float = Field(48.0, gt=0)
    poll_chase_max: int = Field(2, ge=0, le=10)
    invite_chase_after_hours: float = Field(72.0, gt=0)
    invite_chase_max: int = Field(1, ge=0, le=10)
    invite_mediator: bool = True
    inbound_mail_token: SecretStr | None = None
    inbound_mail_max_bytes: int = Field(5_000_000, ge=10_000)

    # Availability: how long calendar busy time is reused before a feed is asked again, how
    # long one calendar may take to answer, and how many times a poll offers at most.
    calendar_cache_seconds: float = Field(300.0, ge=0)
    calendar_timeout_seconds: float = Field(10.0, gt=0)
    poll_max_candidates: int = Field(20, ge=1, le=60)

    # Outcomes, certificates and retention. Certificates are numbered PREFIX-YEAR-NNNNN.
    certificate_prefix: str = Field("CERT", pattern=r"^[A-Z0-9]{1,12}$")
    # Closed cases are anonymised this many days after they close: two years outlasts the
    # Tribunal appeal that may follow a certificate and the next annual review of the plan.
    retention_days: int = Field(730, ge=30, le=3650)

    @field_validator("database_url")
    @classmethod
    def _normalise_dsn(cls, value: str) -> str:
        return normalise_database_url(value) if value else value

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        try:
            return [str(ipaddress.ip_network(entry.strip(), strict=False)) for entry in value]
        except ValueError as exc:
            raise ValueError(f"not an address or network: {exc}") from exc

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @model_validator(mode="after")
    def _fill_defaults_and_refuse_placeholders(self) -> Settings:
        if not self.database_url:
            self.database_url = f"sqlite+aiosqlite:///{(self.data_dir / 'orchestrator.db')}"
        if not self.base_url:
            self.base_url = f"http://{self.host}:{self.port}"
        self.base_url = self.base_url.rstrip("/")
        if self.env == "production":
            secret = self.secret_key.get_secret_value()
            if secret == PLACEHOLDER_SECRET or len(secret) < 32:
                raise ValueError(
                    "ORCH_SECRET_KEY must be set to a random value of at least 32 characters "
                    "in production"
                )
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @property
    def sends_sms(self) -> bool:
        """True when Notify is configured to send text messages."""
        return self.notify_api_key is not None and bool(self.notify_sms_template_id)

    @property
    def sends_letters(self) -> bool:
        """True when Notify is configured to post letters."""
        return self.notify_api_key is not None and self.notify_letters

    @property
    def mail_dir(self) -> Path:
        return self.data_dir / "mail"

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Read, strongest first: arguments, environment, then ``ORCH_CONFIG_FILE`` (TOML)."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("ORCH_CONFIG_FILE")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)
