"""JSON API (admin): webhook endpoints, their delivery logs, and redelivery by hand."""

from __future__ import annotations

from orchestrator.core.errors import NotFound
from orchestrator.core.models import StaffRole
from orchestrator.messaging import webhook_deliveries, webhook_endpoints
from orchestrator.messaging.webhook_deliveries import WebhookDeliveryList, WebhookDeliveryPublic
from orchestrator.messaging.webhook_endpoints import (
    WebhookEndpointCreate,
    WebhookEndpointCreated,
    WebhookEndpointList,
    WebhookEndpointPublic,
    WebhookEndpointUpdate,
)
from orchestrator.web.api.routes import ApiContext, ApiRouter

router = ApiRouter("webhooks")
ADMINS = {StaffRole.admin}


@router.post(
    "/webhooks",
    body=WebhookEndpointCreate,
    response=WebhookEndpointCreated,
    status=201,
    roles=ADMINS,
)
async def register_endpoint(ctx: ApiContext, body: WebhookEndpointCreate) -> WebhookEndpointCreated:
    """Register a case system's endpoint; the answer shows its signing secret once."""
    endpoint = await webhook_endpoints.register_endpoint(
        ctx.session, data=body, now=ctx.now, settings=ctx.settings
    )
    ctx.audit_details = {"endpoint": str(endpoint.id), "events": endpoint.events}
    return WebhookEndpointCreated(
        **webhook_endpoints.endpoint_public(endpoint).model_dump(), secret=endpoint.secret
    )


@router.get("/webhooks", response=WebhookEndpointList, roles=ADMINS)
async def list_endpoints(ctx: ApiContext) -> WebhookEndpointList:
    """List the registered endpoints (secrets are never shown again)."""
    found = await webhook_endpoints.list_endpoints(ctx.session)
    return WebhookEndpointList(endpoints=[webhook_endpoints.endpoint_public(e) for e in found])


@router.patch(
    "/webhooks/{endpoint_id}",
    body=WebhookEndpointUpdate,
    response=WebhookEndpointPublic,
    roles=ADMINS,
)
async def update_endpoint(ctx: ApiContext, body: WebhookEndpointUpdate) -> WebhookEndpointPublic:
    """Change an endpoint's URL, events or description, or switch it off and on."""
    endpoint = await webhook_endpoints.get_endpoint(ctx.session, ctx.path_id("endpoint_id"))
    endpoint = await webhook_endpoints.update_endpoint(
        ctx.session, endpoint=endpoint, data=body, settings=ctx.settings
    )
    return webhook_endpoints.endpoint_public(endpoint)


@router.get("/webhooks/{endpoint_id}/deliveries", response=WebhookDeliveryList, roles=ADMINS)
async def list_deliveries(ctx: ApiContext) -> WebhookDeliveryList:
    """The endpoint's delivery log: each event, its status and every attempt."""
    endpoint = await webhook_endpoints.get_endpoint(ctx.session, ctx.path_id("endpoint_id"))
    shown = await webhook_deliveries.deliveries(ctx.session, endpoint_id=endpoint.id)
    cases = dict.fromkeys(str(d.case_id) for d in shown if d.case_id is not None)
    ctx.audit_details = {"case_ids": list(cases)}
    return WebhookDeliveryList(deliveries=shown)


@router.post(
    "/webhooks/deliveries/{message_id}/redeliver", response=WebhookDeliveryPublic, roles=ADMINS
)
async def redeliver(ctx: ApiContext) -> WebhookDeliveryPublic:
    """Send a delivery again: same event id and body, a new timestamp and signature."""
    message = await webhook_deliveries.redeliver(
        ctx.session, message_id=ctx.path_id("message_id"), now=ctx.now
    )
    assert message.endpoint_id is not None
    found = [
        d
        for d in await webhook_deliveries.deliveries(ctx.session, endpoint_id=message.endpoint_id)
        if d.message_id == message.id
    ]
    if not found:
        raise NotFound("webhook delivery", message.id)
    return found[0]
