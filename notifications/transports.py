"""One transport per channel behind one interface: ``Transport.send(message) -> provider id``.

``message`` is a ``NotificationLog`` row that already exists (and is locked for this attempt by
``notifications.delivery``). A transport either returns the provider's id for the accepted
message or raises ``TransportError``; ``permanent=True`` means retrying can never help (bad
address, the recipient replied STOP), and ``opt_out=True`` means the provider told us the
recipient opted out. ``already_sent=True`` means the provider says it already sent this message
but gave no id (the status webhook fills it in later, matched by our uuid).

Never sending twice, even when we crash after the provider accepted a message:

* Resend: every attempt sends ``Idempotency-Key: msg/<uuid>``; Resend answers a repeat within 24 h
  with the original email instead of sending another. Its two 409s
  (resend.com/docs/dashboard/emails/idempotency-keys) are not failures of the message:
  ``concurrent_idempotent_requests`` (the first request under the key is still in progress) is
  retried later and then gets the original answer; ``invalid_idempotent_request`` (the key was
  already used with a different payload, e.g. the sender address changed between a crashed
  attempt and its retry) means Resend already sent this message, so ``already_sent=True``.
* Twilio has no idempotency key for Messages. From the second attempt on, the transport first
  lists recent messages to this number and reuses one whose body matches and that was created
  after our first attempt; only when none exists does it send.

Development (no ``RESEND_API_KEY`` / no Twilio credentials): email goes through Django's
``EMAIL_BACKEND`` (the console by default) and SMS is only logged. Every provider base URL is a
setting, so tests run the real SDKs against the local fakes in ``tests/fakes``.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
import resend
import resend.exceptions
from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from .models import NotificationLog

log = logging.getLogger(__name__)

# Seconds an email send may wait for Resend's answer.
SEND_TIMEOUT = 20

# twilio-python logs every request (URL, query, headers) at INFO: phone numbers in our logs.
_twilio_http_log = logging.getLogger("notifications.twilio_http")
_twilio_http_log.setLevel(logging.WARNING)

TWILIO_OPTED_OUT = 21610  # "Attempt to send to unsubscribed recipient": they replied STOP
# Errors about the recipient or the message itself; sending the same again cannot succeed.
TWILIO_PERMANENT = {
    TWILIO_OPTED_OUT,
    21211,  # invalid 'To' number
    21214,  # 'To' number cannot be reached
    21408,  # permission to send to this region is not enabled
    21612,  # cannot route to this number
    21614,  # 'To' is not a mobile number
    21617,  # body too long
    21635,  # 'To' is a landline
    30006,  # landline or unreachable carrier
}


class TransportError(Exception):
    def __init__(
        self, message: str, *, permanent: bool = False, opt_out: bool = False, already_sent: bool = False, code=None
    ):
        super().__init__(message)
        self.message = message
        self.permanent = permanent or opt_out or already_sent
        self.opt_out = opt_out
        self.already_sent = already_sent
        self.code = code


class Transport:
    name = ""
    channel = ""

    def send(self, message: NotificationLog) -> str:
        raise NotImplementedError


def from_email() -> str:
    return getattr(settings, "NOTIFICATIONS_FROM_EMAIL", "") or settings.DEFAULT_FROM_EMAIL


def reply_to() -> str:
    return getattr(settings, "NOTIFICATIONS_REPLY_TO", "")


# --- Email --------------------------------------------------------------------------------------
class ResendTransport(Transport):
    name = "resend"
    channel = NotificationLog.Channel.EMAIL

    def send(self, message: NotificationLog) -> str:
        # Module-level settings of the SDK, read on every request; the same values for every
        # thread, so setting them here is safe.
        resend.api_key = settings.RESEND_API_KEY
        resend.api_url = settings.RESEND_API_URL.rstrip("/")
        # 20 s, not the SDK's 30: a send that starts just before a retry batch's deadline (half
        # the task timeout, see tasks.deliver_messages) still ends before the worker's timeout.
        if getattr(resend.default_http_client, "_timeout", None) != SEND_TIMEOUT:
            resend.default_http_client = resend.RequestsClient(timeout=SEND_TIMEOUT)
        params = {
            "from": from_email(),
            "to": [message.recipient],  # one To per message: Resend reports per message
            "subject": message.subject,
            "text": message.body,
            # Our uuid as a tag: Resend echoes tags in its webhooks, which ties an event to our
            # row even if we crashed before recording Resend's id.
            "tags": [{"name": "kind", "value": _tag(message.kind)}, {"name": "message", "value": str(message.uuid)}],
        }
        if message.html:
            params["html"] = message.html
        if message.headers:
            params["headers"] = dict(message.headers)
        if reply_to():
            params["reply_to"] = reply_to()
        try:
            response = resend.Emails.send(params, {"idempotency_key": message.idempotency_key})
        except resend.exceptions.RateLimitError as exc:
            raise TransportError(f"Resend rate limit: {exc.message}", code=429) from exc
        except (resend.exceptions.ValidationError, resend.exceptions.MissingRequiredFieldsError) as exc:
            raise TransportError(f"Resend rejected the message: {exc.message}", permanent=True, code=exc.code) from exc
        except (resend.exceptions.InvalidApiKeyError, resend.exceptions.MissingApiKeyError) as exc:
            # Every message fails until an operator fixes the key; keep retrying on our schedule.
            raise TransportError("Resend refused our API key: check RESEND_API_KEY", code=exc.code) from exc
        except resend.exceptions.ResendError as exc:
            code = str(exc.code)
            if code == "409" and exc.error_type == "invalid_idempotent_request":
                # Same key, different payload: our key is this row's own, so the email Resend
                # already sent under it is this message (an earlier attempt we never recorded).
                raise TransportError(
                    "Resend had already sent this message under its idempotency key (an earlier attempt, "
                    f"before its content or sender changed); not sent again. Resend: {exc.message}",
                    already_sent=True,
                    code=409,
                ) from exc
            if code == "409" and exc.error_type == "concurrent_idempotent_requests":
                # Another attempt under this key is still in flight at Resend: ask again later,
                # when Resend answers with that attempt's email instead of sending a second one.
                raise TransportError(f"Resend is still processing an earlier attempt: {exc.message}", code=409) from exc
            # 401/403 are about our account (the sending domain not verified, or not the From
            # address's domain), never the recipient: like a wrong key, retried on our schedule.
            permanent = code.isdigit() and 400 <= int(code) < 500 and code not in ("401", "403", "408", "409", "429")
            raise TransportError(f"Resend error {code}: {exc.message}", permanent=permanent, code=code) from exc
        email_id = (response or {}).get("id") if hasattr(response, "get") else None
        if not email_id:
            raise TransportError("Resend accepted the request but returned no email id")
        return str(email_id)


def _tag(value: str) -> str:
    # Resend tag values: ASCII letters, numbers, underscores and dashes only.
    return "".join(c if c.isascii() and (c.isalnum() or c in "_-") else "_" for c in value)[:256] or "other"


class DjangoMailTransport(Transport):
    """Development: whatever ``EMAIL_BACKEND`` says (console by default, locmem in tests)."""

    name = "console"
    channel = NotificationLog.Channel.EMAIL

    def send(self, message: NotificationLog) -> str:
        mail = EmailMultiAlternatives(
            subject=message.subject,
            body=message.body,
            from_email=from_email(),
            to=[message.recipient],
            headers=dict(message.headers or {}),
            reply_to=[reply_to()] if reply_to() else None,
        )
        if message.html:
            mail.attach_alternative(message.html, "text/html")
        try:
            mail.send(fail_silently=False)
        except Exception as exc:  # SMTP and friends: worth another try later
            raise TransportError(f"{type(exc).__name__}: {exc}") from exc
        return f"local-{message.uuid}"


# --- SMS ----------------------------------------------------------------------------------------
def twilio_client() -> Client:
    http = TwilioHttpClient(timeout=20, logger=_twilio_http_log)
    client = Client(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=http)
    client.api.base_url = settings.TWILIO_API_BASE.rstrip("/")
    return client


def status_callback_url(message: NotificationLog | None = None) -> str:
    # Our uuid rides along, so a callback can tie Twilio's sid to our row even if we crashed
    # before recording the sid.
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/status/"
    return f"{url}?m={message.uuid}" if message is not None else url


class TwilioTransport(Transport):
    name = "twilio"
    channel = NotificationLog.Channel.SMS
    # A message Twilio accepted shows up in its list at once; look back a little further than
    # our first attempt to allow for clock skew between us and Twilio.
    LOOKUP_SLACK = timedelta(minutes=5)

    def __init__(self, client: Client | None = None):
        self.client = client or twilio_client()

    def send(self, message: NotificationLog) -> str:
        if message.attempts > 1:
            existing = self.find_existing(message)
            if existing:
                log.info("twilio already has message %s for log %s: not sending again", existing, message.uuid)
                return existing
        kwargs = {"to": message.recipient, "body": message.body, "status_callback": status_callback_url(message)}
        if settings.TWILIO_MESSAGING_SERVICE_SID:
            kwargs["messaging_service_sid"] = settings.TWILIO_MESSAGING_SERVICE_SID
        elif settings.TWILIO_FROM_NUMBER:
            kwargs["from_"] = settings.TWILIO_FROM_NUMBER
        else:
            raise TransportError("no TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID configured")
        try:
            created = self.client.messages.create(**kwargs)
        except TwilioRestException as exc:
            raise _twilio_error(exc) from exc
        except (TwilioException, requests.RequestException) as exc:
            raise TransportError(f"Twilio unreachable: {type(exc).__name__}") from exc
        return created.sid

    def find_existing(self, message: NotificationLog) -> str:
        """The sid of a message Twilio already accepted for this row, or "".

        Raises TransportError (not permanent) when Twilio cannot be asked: sending blind could
        be the duplicate we are trying to avoid.
        """
        since = (message.first_attempt_at or message.created_at) - self.LOOKUP_SLACK
        try:
            recent = self.client.messages.list(to=message.recipient, limit=20)
        except TwilioRestException as exc:
            raise TransportError(f"Twilio lookup failed: HTTP {exc.status} code {exc.code}") from exc
        except (TwilioException, requests.RequestException) as exc:
            raise TransportError(f"Twilio lookup failed: {type(exc).__name__}") from exc
        for candidate in recent:
            created = candidate.date_created
            if created is not None and created < since:
                continue
            if (candidate.direction or "").startswith("outbound") and message.body in (candidate.body or ""):
                return candidate.sid
        return ""


def _twilio_error(exc: TwilioRestException) -> TransportError:
    code = exc.code
    text = f"Twilio error {code or exc.status}: {exc.msg}"
    if code == TWILIO_OPTED_OUT:
        return TransportError("the recipient replied STOP (Twilio 21610)", opt_out=True, code=code)
    if code in TWILIO_PERMANENT:
        return TransportError(text, permanent=True, code=code)
    if exc.status == 429 or code == 20429 or (exc.status or 0) >= 500 or exc.status in (401, 403):
        return TransportError(text, code=code)
    return TransportError(text, permanent=400 <= (exc.status or 0) < 500, code=code)


class LogSmsTransport(Transport):
    """Development: SMS is logged, never sent."""

    name = "log"
    channel = NotificationLog.Channel.SMS

    def send(self, message: NotificationLog) -> str:
        log.info("SMS not sent (Twilio not configured) to …%s: %s", message.recipient[-4:], message.body)
        return f"log-{message.uuid}"


class NullTransport(Transport):
    """Accepts everything, sends nothing (benchmarks, dry runs)."""

    name = "null"

    def __init__(self, channel: str = ""):
        self.channel = channel

    def send(self, message: NotificationLog) -> str:
        return f"null-{message.uuid}"


def transport_for(channel: str) -> Transport:
    if getattr(settings, "NOTIFICATIONS_NULL_TRANSPORT", False):
        return NullTransport(channel)
    if channel == NotificationLog.Channel.EMAIL:
        return ResendTransport() if settings.RESEND_API_KEY else DjangoMailTransport()
    if channel == NotificationLog.Channel.SMS:
        if settings.TWILIO_ACCOUNT_SID and settings.TWILIO_AUTH_TOKEN:
            return TwilioTransport()
        return LogSmsTransport()
    raise ValueError(f"unknown channel {channel!r}")
