"""Choose the mail backend from settings: ``file`` (default), ``smtp``, ``notify`` or a path."""

from __future__ import annotations

import aiohttp

from integrations.base import MailBackend
from integrations.loader import load_plugin
from integrations.notify import NotifyClient, NotifyConfig, NotifyMailBackend
from orchestrator.core.settings import Settings

BUILTIN_MAIL_BACKENDS = {
    "file": "integrations.mail_file:FileMailBackend",
    "smtp": "integrations.mail_smtp:SmtpMailBackend",
    "notify": "integrations.notify:NotifyMailBackend",
}


def build_notify_client(settings: Settings, http: aiohttp.ClientSession) -> NotifyClient | None:
    """The GOV.UK Notify client on the shared session, or None when no API key is set."""
    if settings.notify_api_key is None:
        return None
    return NotifyClient(
        NotifyConfig(
            api_key=settings.notify_api_key.get_secret_value(),
            base_url=settings.notify_base_url,
            timeout_s=settings.notify_timeout_s,
        ),
        http,
    )


def build_mail_backend(
    settings: Settings, http: aiohttp.ClientSession | None = None
) -> MailBackend:
    """The configured backend, built from its own config (``notify`` needs ``http``)."""
    cls = load_plugin(
        "mail",
        settings.mail_backend,
        BUILTIN_MAIL_BACKENDS,
        MailBackend,  # type: ignore[type-abstract]
    )
    if settings.mail_backend == "file":
        return cls(settings.mail_dir)  # type: ignore[call-arg]
    if settings.mail_backend == "smtp":
        from integrations.mail_smtp import SmtpConfig

        password = settings.smtp_password.get_secret_value() if settings.smtp_password else None
        return cls(  # type: ignore[call-arg]
            SmtpConfig(
                host=settings.smtp_host,
                port=settings.smtp_port,
                username=settings.smtp_username,
                password=password,
                starttls=settings.smtp_starttls,
                use_tls=settings.smtp_tls,
                timeout_s=settings.smtp_timeout_s,
            )
        )
    if settings.mail_backend == "notify":
        client = build_notify_client(settings, http) if http is not None else None
        if client is None or not settings.notify_email_template_id:
            raise ValueError(
                "ORCH_MAIL_BACKEND=notify needs ORCH_NOTIFY_API_KEY and "
                "ORCH_NOTIFY_EMAIL_TEMPLATE_ID"
            )
        return NotifyMailBackend(client, template_id=settings.notify_email_template_id)
    return cls()  # a third-party backend configures itself
