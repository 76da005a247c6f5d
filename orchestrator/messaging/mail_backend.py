"""Choose the mail backend from settings: ``file`` (default) or ``smtp``, or a dotted path."""

from __future__ import annotations

from integrations.base import MailBackend
from integrations.loader import load_plugin
from orchestrator.core.settings import Settings

BUILTIN_MAIL_BACKENDS = {
    "file": "integrations.mail_file:FileMailBackend",
    "smtp": "integrations.mail_smtp:SmtpMailBackend",
}


def build_mail_backend(settings: Settings) -> MailBackend:
    """The configured backend, built from its own config."""
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
    return cls()  # a third-party backend configures itself
