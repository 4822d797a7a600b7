"""A fake Twilio Messages API (2010-04-01) plus the webhook signer.

* ``POST /2010-04-01/Accounts/{sid}/Messages.json`` (form-encoded, HTTP Basic sid:token) answers
  201 with a Message resource. A number in ``opted_out`` gets 400 code 21610 (the recipient
  replied STOP); a ``To`` that is not E.164 gets 400 code 21211.
* ``GET …/Messages.json`` lists messages newest first, filtered by ``To`` / ``From``.
* ``accept_then_fail_next()``: the next message is accepted (stored, would be delivered) but the
  answer is a 500 — our side never learns the sid.

``messages`` holds what would have been sent (one entry per real SMS). ``sign(url, params)``
computes ``X-Twilio-Signature`` with the SDK's own ``RequestValidator``.
"""

from __future__ import annotations

import base64
import hmac
import itertools
import threading
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

from twilio.request_validator import RequestValidator

from .base import FakeServer

ACCOUNT_SID = "AC" + "0" * 31 + "1"
AUTH_TOKEN = "fake-twilio-auth-token"
FROM_NUMBER = "+15005550006"

_counter = itertools.count(1)


def sign(url: str, params: dict, token: str = AUTH_TOKEN) -> str:
    return RequestValidator(token).compute_signature(url, params)


def status_params(message: dict, status: str, error_code: str | None = None) -> dict:
    """The form a status callback carries for ``message``."""
    params = {
        "AccountSid": message["account_sid"],
        "ApiVersion": "2010-04-01",
        "From": message["from"] or FROM_NUMBER,
        "MessageSid": message["sid"],
        "MessageStatus": status,
        "SmsSid": message["sid"],
        "SmsStatus": status,
        "To": message["to"],
    }
    if error_code:
        params["ErrorCode"] = str(error_code)
    return params


def inbound_params(from_number: str, body: str, to: str = FROM_NUMBER) -> dict:
    sid = "SM" + uuid.uuid4().hex
    return {
        "AccountSid": ACCOUNT_SID,
        "ApiVersion": "2010-04-01",
        "Body": body,
        "From": from_number,
        "MessageSid": sid,
        "NumMedia": "0",
        "NumSegments": "1",
        "SmsMessageSid": sid,
        "SmsSid": sid,
        "SmsStatus": "received",
        "To": to,
    }


class FakeTwilio(FakeServer):
    def __init__(self, account_sid: str = ACCOUNT_SID, auth_token: str = AUTH_TOKEN):
        super().__init__()
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.messages: list[dict] = []
        self.opted_out: set[str] = set()
        self._accept_then_fail = 0
        self._state_lock = threading.Lock()
        base = rf"/2010-04-01/Accounts/({account_sid})/Messages\.json"
        self.route("POST", base, self._create)
        self.route("GET", base, self._list)

    def accept_then_fail_next(self, n: int = 1):
        self._accept_then_fail += n

    def sent_to(self, number: str) -> list[dict]:
        return [m for m in self.messages if m["to"] == number]

    def _authorised(self, req) -> bool:
        expected = "Basic " + base64.b64encode(f"{self.account_sid}:{self.auth_token}".encode()).decode()
        return hmac.compare_digest(req.headers.get("authorization", ""), expected)

    @staticmethod
    def _error(status: int, code: int, message: str):
        return status, {
            "code": code,
            "message": message,
            "more_info": f"https://www.twilio.com/docs/errors/{code}",
            "status": status,
        }

    def _resource(self, sid: str, form: dict) -> dict:
        now = format_datetime(datetime.now(UTC))
        body = form.get("Body", "")
        return {
            "account_sid": self.account_sid,
            "api_version": "2010-04-01",
            "body": body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": form.get("From"),
            "messaging_service_sid": form.get("MessagingServiceSid"),
            "num_media": "0",
            "num_segments": str(max(1, -(-len(body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {},
            "to": form.get("To"),
            "uri": f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}.json",
            "status_callback": form.get("StatusCallback"),  # not in Twilio's resource; kept for tests
        }

    def _create(self, req, account_sid):
        if not self._authorised(req):
            return self._error(401, 20003, "Authenticate")
        form = req.form
        to = form.get("To", "")
        if not form.get("Body"):
            return self._error(400, 21602, "Message body is required.")
        if not (form.get("From") or form.get("MessagingServiceSid")):
            return self._error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required")
        if not to.startswith("+") or not to[1:].isdigit():
            return self._error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if to in self.opted_out:
            return self._error(400, 21610, "Attempt to send to unsubscribed recipient")
        with self._state_lock:
            sid = f"SM{next(_counter):032x}"
            resource = self._resource(sid, form)
            self.messages.append(resource)
            if self._accept_then_fail:
                self._accept_then_fail -= 1
                return 500, {"code": 20500, "message": "Internal Server Error", "status": 500}
        return 201, {k: v for k, v in resource.items() if k != "status_callback"}

    def _list(self, req, account_sid):
        if not self._authorised(req):
            return self._error(401, 20003, "Authenticate")
        q = req.query
        items = list(reversed(self.messages))  # newest first, as Twilio lists them
        if q.get("To"):
            items = [m for m in items if m["to"] == q["To"]]
        if q.get("From"):
            items = [m for m in items if m["from"] == q["From"]]
        size = min(int(q.get("PageSize") or 50), 1000)
        page = [{k: v for k, v in m.items() if k != "status_callback"} for m in items[:size]]
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        return 200, {
            "messages": page,
            "end": max(len(page) - 1, 0),
            "first_page_uri": f"{uri}?PageSize={size}&Page=0",
            "next_page_uri": None,
            "page": 0,
            "page_size": size,
            "previous_page_uri": None,
            "start": 0,
            "uri": f"{uri}?PageSize={size}&Page=0",
        }
