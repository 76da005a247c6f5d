"""GOV.UK Notify's delivery receipts, posted to ``/hooks/notify/status``.

Notify calls back with ``Authorization: Bearer <the token set for the service's call-back>``
(``ORCH_NOTIFY_CALLBACK_TOKEN``); a request without it is refused (401) before its body is
read, and changes nothing. A verified receipt moves the person's delivery row on
(``deliveries.record_receipt``); one for a message we do not know is answered 200 too, so
Notify does not keep retrying it.
"""

from __future__ import annotations

import json

from aiohttp import web

from integrations.errors import SignatureInvalid
from integrations.notify import verify_callback
from orchestrator.messaging import deliveries
from orchestrator.web.bodies import read_body
from orchestrator.web.errors import ApiError
from orchestrator.web.keys import CLOCK, DB, SETTINGS

routes = web.RouteTableDef()

MAX_RECEIPT_BYTES = 16 * 1024


@routes.post("/hooks/notify/status")
async def notify_status(request: web.Request) -> web.Response:
    """Record one delivery receipt from Notify, once its bearer token has verified."""
    token = request.app[SETTINGS].notify_callback_token
    try:
        verify_callback(
            request.headers.get("Authorization"), token.get_secret_value() if token else ""
        )
    except SignatureInvalid as exc:
        raise ApiError(401, "unauthorized", "a valid Notify call-back token is required") from exc
    body = await read_body(request, limit=MAX_RECEIPT_BYTES, what="receipt")
    try:
        receipt = json.loads(body)
        reference, status = str(receipt["reference"]), str(receipt["status"])
        provider_id, to = str(receipt.get("id") or ""), str(receipt.get("to") or "")
    except (ValueError, KeyError, TypeError) as exc:
        raise ApiError(400, "bad_callback", "the receipt could not be understood") from exc
    async with request.app[DB].write() as session:
        await deliveries.record_receipt(
            session,
            reference=reference,
            provider_id=provider_id,
            status=status,
            now=request.app[CLOCK](),
            to=to,
        )
    return web.json_response({"recorded": True})
