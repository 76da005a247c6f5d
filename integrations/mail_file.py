"""The ``file`` mail backend: each message becomes an ``.eml`` file under a folder.

The default for a new install: nothing to configure, and every message can be opened in a
mail client or read on the dev-mode mail page. Writing the same idempotency key again
replaces the same file, so a retried delivery never makes a second copy.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
from collections.abc import Sequence
from email.message import EmailMessage
from pathlib import Path

from integrations.base import MailBackend
from integrations.errors import ProviderUnavailable

_SAFE = re.compile(r"^[A-Za-z0-9._-]{1,120}$")


def eml_name(idempotency_key: str) -> str:
    """A file name for the key: the key itself when it is safe, else its hash."""
    if _SAFE.match(idempotency_key):
        return f"{idempotency_key}.eml"
    return hashlib.sha256(idempotency_key.encode()).hexdigest() + ".eml"


class FileMailBackend(MailBackend):
    """Writes messages to ``folder`` atomically (write to a temporary name, then rename)."""

    name = "file"

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def _write(self, data: bytes, name: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        final = self.folder / name
        temporary = final.with_suffix(".tmp")
        with open(temporary, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(temporary, final)

    async def send(self, message: EmailMessage, *, idempotency_key: str) -> None:
        await self._store(message.as_bytes(), idempotency_key)

    async def send_raw(
        self, raw: bytes, *, sender: str, recipients: Sequence[str], idempotency_key: str
    ) -> None:
        """Write the rendered bytes as they are (the envelope is in the message's headers)."""
        await self._store(raw, idempotency_key)

    async def _store(self, data: bytes, idempotency_key: str) -> None:
        try:
            await asyncio.to_thread(self._write, data, eml_name(idempotency_key))
        except OSError as exc:
            raise ProviderUnavailable(
                f"cannot write mail file: {exc.strerror}", provider="file"
            ) from exc
