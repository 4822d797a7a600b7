"""Delivery-status and opt-out webhooks from Resend and Twilio: verify, record, apply.

Each verified delivery is stored in the integrations inbox (``WebhookEvent``, provider resend or
twilio) and applied in the request: a status is one small UPDATE; a stop (spam complaint, 21610)
is a few indexed queries more (the person's attendees through their merges, at most
``optout.MAX_MERGE_STEPS`` rounds, usually one) and takes effect before the answer, so no
reminder can slip out between the two. No provider is called. A redelivery of a processed event
is counted and not applied again (it would change nothing anyway: statuses only move forward).

Finding the message: by the provider's id; failing that by our uuid, which Resend echoes in the
``message`` tag and Twilio in the ``?m=`` of the status-callback URL — so a status still lands
when we crashed between the provider accepting a message and us recording its id. An unknown
message is logged and answered 200 (retrying cannot make it known).

Statuses never move backwards (``NotificationLog.RANK``): a late "sent" after "delivered" is
ignored; a bounce or complaint after delivery is recorded. A spam complaint unsubscribes the
attendee from reminder emails; Twilio error 21610 in a callback, or an inbound STOP, stops SMS.
"""

from __future__ import annotations

import hashlib
import logging
import uuid as uuid_mod
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from integrations.models import WebhookEvent

from .models import NotificationLog
from .optout import opt_out_message_recipient, sms_opt_out_phone

log = logging.getLogger(__name__)

Status = NotificationLog.Status

RESEND_STATUS = {
    "email.sent": Status.SENT,
    "email.delivered": Status.DELIVERED,
    "email.bounced": Status.BOUNCED,
    "email.complained": Status.COMPLAINED,
    "email.failed": Status.FAILED,
    "email.suppressed": Status.SUPPRESSED,
}
TWILIO_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "read": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "canceled": Status.FAILED,
}
TWILIO_STOP = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
TWILIO_START = {"START", "UNSTOP", "YES"}


@dataclass
class Outcome:
    result: str
    ignored: bool = False


# --- The inbox ---------------------------------------------------------------------------------
def record_and_apply(provider: str, event_id: str, event_type: str, object_id: str, body: str, headers: dict, apply):
    """Store the delivery (deduplicated on provider + event id) and run ``apply()`` once, in one
    transaction: if applying fails nothing is stored, the view answers 500 and the provider's
    retry gets a clean second chance."""
    now = timezone.now()
    event_id = event_id[:255]
    with transaction.atomic():
        row = WebhookEvent.objects.select_for_update().filter(provider=provider, event_id=event_id).first()
        if row is not None:
            WebhookEvent.objects.filter(pk=row.pk).update(deliveries=F("deliveries") + 1, last_delivery_at=now)
            if row.status in (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED):
                return Outcome("duplicate delivery", ignored=True)
        else:
            try:
                with transaction.atomic():
                    row = WebhookEvent.objects.create(
                        provider=provider,
                        event_id=event_id,
                        event_type=event_type[:100],
                        object_id=object_id[:255],
                        body=body,
                        headers=headers,
                        received_at=now,
                        last_delivery_at=now,
                    )
            except IntegrityError:  # a concurrent copy of this delivery is being applied
                return Outcome("duplicate delivery (concurrent)", ignored=True)
        outcome = apply()
        WebhookEvent.objects.filter(pk=row.pk).update(
            status=WebhookEvent.Status.IGNORED if outcome.ignored else WebhookEvent.Status.PROCESSED,
            result=outcome.result[:300],
            processed_at=timezone.now(),
            attempts=F("attempts") + 1,
            last_error="",
        )
    return outcome


# --- Status updates ----------------------------------------------------------------------------
def apply_status(message: NotificationLog, new_status: str, *, provider_status: str, error: str = "") -> bool:
    """Move ``message`` to ``new_status`` unless that would be a step back. True when it moved."""
    rank = NotificationLog.RANK[new_status]
    lower = [s for s, r in NotificationLog.RANK.items() if r < rank]
    now = timezone.now()
    updates = {"status": new_status, "provider_status": provider_status[:40], "status_at": now}
    if new_status == Status.DELIVERED:
        updates["delivered_at"] = now
    if new_status in (Status.SENT, Status.DELIVERED) and not message.sent_at:
        updates["sent_at"] = now
    if error:
        updates["error"] = error[:2000]
    if new_status != Status.QUEUED:
        updates["next_attempt_at"] = None  # the provider has it: never retried by us
    moved = NotificationLog.objects.filter(pk=message.pk, status__in=lower).update(**updates)
    return bool(moved)


def _find(provider: str, provider_id: str, our_uuid: str) -> NotificationLog | None:
    message = None
    if provider_id:
        message = NotificationLog.objects.filter(provider_id=provider_id).order_by("pk").first()
    if message is None and our_uuid:
        try:
            key = uuid_mod.UUID(str(our_uuid))
        except ValueError:
            return None
        message = NotificationLog.objects.filter(uuid=key).first()
        if message is not None and provider_id and not message.provider_id:
            NotificationLog.objects.filter(pk=message.pk, provider_id="").update(
                provider=provider, provider_id=provider_id[:100]
            )
            message.provider_id = provider_id
    return message


def _resend_uuid(data: dict) -> str:
    tags = data.get("tags")
    if isinstance(tags, dict):
        return str(tags.get("message") or "")
    if isinstance(tags, list):
        for tag in tags:
            if isinstance(tag, dict) and tag.get("name") == "message":
                return str(tag.get("value") or "")
    return ""


def resend_event(payload: dict) -> Outcome:
    event_type = str(payload.get("type") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    new_status = RESEND_STATUS.get(event_type)
    if new_status is None:
        return Outcome(f"{event_type or 'untyped'} event: nothing to record", ignored=True)
    email_id = str(data.get("email_id") or "")
    message = _find("resend", email_id, _resend_uuid(data))
    if message is None:
        log.info("resend %s for unknown email id %s: ignored", event_type, email_id or "(none)")
        return Outcome(f"unknown email id {email_id or '(none)'}", ignored=True)
    error = ""
    if new_status == Status.BOUNCED:
        bounce = data.get("bounce") if isinstance(data.get("bounce"), dict) else {}
        error = " ".join(str(bounce.get(k) or "") for k in ("type", "subType", "message")).strip()
    elif new_status == Status.FAILED:
        failed = data.get("failed") if isinstance(data.get("failed"), dict) else {}
        error = str(failed.get("reason") or "Resend reported the email as failed")
    moved = apply_status(message, new_status, provider_status=event_type, error=error)
    if new_status == Status.COMPLAINED:
        opt_out_message_recipient(message, "email", via="resend-complaint")
    return Outcome(f"{message.uuid}: {'now ' + new_status if moved else 'unchanged (' + message.status + ')'}")


def twilio_status(params, our_uuid: str) -> Outcome:
    sid = str(params.get("MessageSid") or params.get("SmsSid") or "")
    provider_status = str(params.get("MessageStatus") or params.get("SmsStatus") or "")
    error_code = str(params.get("ErrorCode") or "")
    new_status = TWILIO_STATUS.get(provider_status)
    message = _find("twilio", sid, our_uuid)
    if message is None:
        log.info("twilio status %s for unknown message %s: ignored", provider_status, sid or "(none)")
        return Outcome(f"unknown message {sid or '(none)'}", ignored=True)
    if error_code == "21610":
        opt_out_message_recipient(message, "sms", via="twilio-21610")
    if new_status is None:
        return Outcome(f"{message.uuid}: {provider_status or 'no status'} (interim, not recorded)", ignored=True)
    error = f"Twilio error {error_code}" if error_code else ""
    moved = apply_status(message, new_status, provider_status=provider_status, error=error)
    return Outcome(f"{message.uuid}: {'now ' + new_status if moved else 'unchanged (' + message.status + ')'}")


def twilio_inbound(params) -> Outcome:
    sender = str(params.get("From") or "")
    keyword = str(params.get("OptOutType") or params.get("Body") or "").strip().upper()
    if keyword in TWILIO_STOP:
        changed = sms_opt_out_phone(sender, via="twilio-stop")
        return Outcome(f"STOP: {changed} attendee(s) opted out of SMS")
    if keyword in TWILIO_START:
        changed = sms_opt_out_phone(sender, via="twilio-start", opted_out=False)
        return Outcome(f"START: {changed} attendee(s) opted back in to SMS")
    return Outcome("inbound message without a keyword: nothing to do", ignored=True)


def body_digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]
