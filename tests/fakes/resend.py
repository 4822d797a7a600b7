"""A fake Resend API (``POST /emails``) plus the Svix webhook signer.

Behaves like Resend where our code depends on it:

* ``Idempotency-Key``: a repeat with the same key and payload returns the first answer and sends
  nothing; the same key with a different payload is 409 ``invalid_idempotent_request``; a key
  whose first request is still being processed (``in_progress(key)``) is 409
  ``concurrent_idempotent_requests`` (resend.com/docs/dashboard/emails/idempotency-keys).
* Errors come as ``{"statusCode", "name", "message"}`` JSON, which the SDK maps to its exceptions.
* ``accept_then_fail_next()``: the next email is accepted (stored, would be delivered) but the
  answer is a 500 — our side never learns the id, like a crash or a timeout after acceptance.
* ``reject_next(status, name, message)``: the next send fails with that error.

``emails`` holds what would have been delivered (one entry per real email).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import uuid

from .base import FakeServer

WEBHOOK_SECRET = "whsec_" + base64.b64encode(b"fake-resend-webhook-secret-32byt").decode()


def sign(payload: str | bytes, secret: str = WEBHOOK_SECRET, msg_id: str | None = None, timestamp: int | None = None):
    """Svix headers for ``payload`` (what Resend sends with every webhook)."""
    if isinstance(payload, bytes):
        payload = payload.decode()
    msg_id = msg_id or f"msg_{uuid.uuid4().hex[:24]}"
    ts = str(int(time.time()) if timestamp is None else timestamp)
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{ts}.{payload}".encode(), hashlib.sha256).digest()
    return {
        "svix-id": msg_id,
        "svix-timestamp": ts,
        "svix-signature": "v1," + base64.b64encode(digest).decode(),
    }


def event(type_: str, email_id: str, *, to: str = "river.stone@example.org", tags: dict | None = None, **data) -> dict:
    return {
        "type": type_,
        "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "data": {
            "email_id": email_id,
            "from": "JLF <reminders@example.org>",
            "to": [to],
            "subject": "A reminder",
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
            **({"tags": tags} if tags is not None else {}),
            **data,
        },
    }


class FakeResend(FakeServer):
    def __init__(self, api_key: str = "re_test_fake"):
        super().__init__()
        self.api_key = api_key
        self.emails: list[dict] = []
        self.idempotency: dict[str, tuple[str, dict]] = {}
        self._accept_then_fail = 0
        self._rejections: list[tuple[int, str, str]] = []
        self._in_progress: set[str] = set()
        self._state_lock = threading.Lock()
        self.route("POST", r"/emails", self._create_email)

    # --- control -------------------------------------------------------------------------------
    def accept_then_fail_next(self, n: int = 1):
        self._accept_then_fail += n

    def reject_next(self, status: int = 422, name: str = "validation_error", message: str = "Invalid `to` field."):
        self._rejections.append((status, name, message))

    def in_progress(self, key: str, done: bool = False):
        """Another request with ``key`` is being processed (until called again with ``done=True``)."""
        with self._state_lock:
            (self._in_progress.discard if done else self._in_progress.add)(key)

    def sent_to(self, address: str) -> list[dict]:
        return [e for e in self.emails if address in e["to"]]

    # --- API -----------------------------------------------------------------------------------
    @staticmethod
    def _error(status: int, name: str, message: str):
        return status, {"statusCode": status, "name": name, "message": message}

    def _create_email(self, req):
        if req.headers.get("authorization") != f"Bearer {self.api_key}":
            return self._error(403, "invalid_api_key", "API key is invalid")
        if not req.headers.get("user-agent"):
            return self._error(403, "missing_user_agent", "error code: 1010")
        try:
            params = json.loads(req.body or b"{}")
        except ValueError:
            return self._error(422, "validation_error", "Invalid JSON")
        for key in ("from", "to", "subject"):
            if not params.get(key):
                return self._error(422, "missing_required_field", f"Missing `{key}` field.")
        to = params["to"] if isinstance(params["to"], list) else [params["to"]]
        key = req.headers.get("idempotency-key")
        fingerprint = hashlib.sha256(json.dumps(params, sort_keys=True).encode()).hexdigest()
        with self._state_lock:
            if self._rejections:
                return self._error(*self._rejections.pop(0))
            if key and key in self._in_progress:
                return self._error(
                    409,
                    "concurrent_idempotent_requests",
                    "Same idempotency key used while original request is still in progress.",
                )
            if key and key in self.idempotency:
                first_fp, first_answer = self.idempotency[key]
                if first_fp != fingerprint:
                    return self._error(
                        409, "invalid_idempotent_request", "Same idempotency key used with a different request payload."
                    )
                return 200, first_answer
            email_id = str(uuid.uuid4())
            self.emails.append(
                {**params, "to": to, "id": email_id, "idempotency_key": key, "headers": params.get("headers") or {}}
            )
            answer = {"id": email_id}
            if key:
                self.idempotency[key] = (fingerprint, answer)
            if self._accept_then_fail:
                self._accept_then_fail -= 1
                return self._error(500, "application_error", "Internal server error (after accepting)")
        return 200, answer
