"""A fake Stripe API (the parts we call), in the documented shapes (API 2026-10-28).

Build data with ``add_session(...)``; refunds and disputes made "directly in Stripe" with
``refund(...)`` / ``dispute(...)`` (and ``set_dispute_status(...)`` as a dispute moves on). Webhook
payload builders and the signer live here too, so a test can both serve an object from the API and
deliver the event that announces it (``dispute_object(...)`` builds one without storing it).
"""

from __future__ import annotations

import itertools
import json
import time

import stripe

from .base import FakeServer

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_{next(_ids):014x}"


def _not_found(kind: str, ident: str):
    return 404, {
        "error": {"type": "invalid_request_error", "code": "resource_missing", "message": f"No such {kind}: '{ident}'"}
    }


def permission_error(permission: str = "rak_checkout_session_read") -> dict:
    """The body of Stripe's 403 for a restricted key without a permission (``fail_next(status=403,
    body=...)``)."""
    return {
        "error": {
            "type": "invalid_request_error",
            "message": (
                "The provided key 'rk_test_***********************************abcd' does not have the required "
                f"permissions for this endpoint on account 'acct_1FakeAccount'. Having the '{permission}' "
                "permission would allow this request to continue."
            ),
        }
    }


def idempotency_error(key: str) -> dict:
    """The body of Stripe's 400 for an idempotency key reused with other parameters."""
    return {
        "error": {
            "type": "idempotency_error",
            "message": (
                "Keys for idempotent requests can only be used with the same parameters they were first used with. "
                f"Try using a key other than '{key}' if you meant to execute a different request."
            ),
        }
    }


def sign(payload: bytes | str, secret: str, timestamp: int | None = None) -> str:
    """A valid ``Stripe-Signature`` header for ``payload`` (the SDK's own signer)."""
    if isinstance(payload, bytes):
        payload = payload.decode()
    ts = int(time.time()) if timestamp is None else timestamp
    sig = stripe.WebhookSignature._compute_signature(f"{ts}.{payload}", secret)
    return f"t={ts},v1={sig}"


def event(
    type_: str, obj: dict, *, livemode: bool = False, event_id: str | None = None, created: int | None = None
) -> dict:
    return {
        "id": event_id or _id("evt"),
        "object": "event",
        "api_version": "2026-10-28.endive",
        "created": created or int(time.time()),
        "livemode": livemode,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "type": type_,
        "data": {"object": obj},
    }


def _created_window_page(items: list[dict], q: dict) -> tuple[list[dict], list[dict], bool]:
    """Stripe list semantics shared by every list endpoint: ``created[gte|gt|lte|lt]`` filters,
    ``starting_after`` cursor, ``limit`` (default 10, at most 100). Returns (items after the
    cursor, this page, has_more)."""
    for op, fn in (
        ("gte", lambda a, b: a >= b),
        ("gt", lambda a, b: a > b),
        ("lte", lambda a, b: a <= b),
        ("lt", lambda a, b: a < b),
    ):
        if q.get(f"created[{op}]"):
            bound = int(q[f"created[{op}]"])
            items = [i for i in items if fn(i["created"], bound)]
    if q.get("starting_after"):
        ids = [i["id"] for i in items]
        if q["starting_after"] in ids:
            items = items[ids.index(q["starting_after"]) + 1 :]
    limit = min(int(q.get("limit") or 10), 100)
    return items, items[:limit], len(items) > limit


class FakeStripe(FakeServer):
    def __init__(self):
        super().__init__()
        self.sessions: dict[str, dict] = {}
        self.line_items: dict[str, list[dict]] = {}
        self.payment_intents: dict[str, dict] = {}
        self.charges: dict[str, dict] = {}
        self.refunds: dict[str, dict] = {}
        self.disputes: dict[str, dict] = {}
        # Idempotency-Key → (the request's parameters, status, answer), as Stripe saves them.
        self.idempotency: dict[str, tuple[dict, int, dict]] = {}
        # False: list answers leave ``line_items`` out even when expanded (forces the per-session
        # line-items fallback in reconciliation).
        self.expand_line_items_in_lists = True
        self.route("GET", r"/v1/checkout/sessions", self._list_sessions)
        self.route("GET", r"/v1/checkout/sessions/([^/]+)", self._get_session)
        self.route("GET", r"/v1/checkout/sessions/([^/]+)/line_items", self._get_line_items)
        self.route("GET", r"/v1/payment_intents/([^/]+)", self._get_payment_intent)
        self.route("GET", r"/v1/charges/([^/]+)", self._get_charge)
        self.route("POST", r"/v1/refunds", self._create_refund)
        self.route("GET", r"/v1/refunds", self._list_refunds)
        self.route("GET", r"/v1/disputes", self._list_disputes)

    # --- data builders -------------------------------------------------------------------------
    def add_session(
        self,
        *,
        email: str = "river.stone@example.org",
        name: str = "River Stone",
        phone: str | None = None,
        payment_link: str | None = "plink_1SampleSpring",
        amount: int = 12000,
        quantity: int = 1,
        currency: str = "usd",
        payment_status: str = "paid",
        status: str = "complete",
        price_id: str = "price_1SampleSpring",
        client_reference_id: str | None = None,
        metadata: dict | None = None,
        livemode: bool = False,
        created: int | None = None,
        session_id: str | None = None,
        payment_intent_id: str | None = None,
        charge_id: str | None = None,
    ) -> dict:
        sid = session_id or _id("cs_test")
        pi = payment_intent_id or _id("pi")
        ch = charge_id or _id("ch")
        created = created or int(time.time())
        session = {
            "id": sid,
            "object": "checkout.session",
            "mode": "payment",
            "status": status,
            "payment_status": payment_status,
            "payment_link": payment_link,
            "payment_intent": pi,
            "amount_subtotal": amount,
            "amount_total": amount,
            "currency": currency,
            "customer": None,
            "customer_email": None,
            "client_reference_id": client_reference_id,
            "livemode": livemode,
            "customer_details": {
                "email": email,
                "name": name,
                "phone": phone,
                "address": None,
                "tax_exempt": "none",
                "tax_ids": [],
            },
            "created": created,
            "expires_at": created + 86400,
            "metadata": metadata or {},
            "custom_fields": [],
            "line_items": None,
            "payment_method_types": ["card"],
        }
        self.sessions[sid] = session
        self.line_items[sid] = [
            {
                "id": _id("li"),
                "object": "item",
                "quantity": quantity,
                "amount_total": amount,
                "amount_subtotal": amount,
                "currency": currency,
                "description": "Retreat",
                "price": {
                    "id": price_id,
                    "object": "price",
                    "unit_amount": amount // max(quantity, 1),
                    "product": "prod_sample",
                },
            }
        ]
        self.payment_intents[pi] = {
            "id": pi,
            "object": "payment_intent",
            "amount": amount,
            "currency": currency,
            "status": "succeeded" if payment_status == "paid" else "processing",
            "latest_charge": ch,
            "customer": None,
            "metadata": {},
            "receipt_email": None,
            "livemode": livemode,
            "created": created,
        }
        self.charges[ch] = {
            "id": ch,
            "object": "charge",
            "amount": amount,
            "amount_captured": amount,
            "amount_refunded": 0,
            "refunded": False,
            "payment_intent": pi,
            "currency": currency,
            "paid": True,
            "status": "succeeded",
            "disputed": False,
            "livemode": livemode,
            "metadata": {},
            "created": created,
            "billing_details": {"email": None, "name": None, "phone": None},
        }
        return session

    def charge_for(self, session: dict) -> dict:
        return self.charges[self.payment_intents[session["payment_intent"]]["latest_charge"]]

    def refund(self, session: dict, amount: int | None = None) -> dict:
        """A refund made directly in the Stripe dashboard."""
        charge = self.charge_for(session)
        amount = charge["amount"] - charge["amount_refunded"] if amount is None else amount
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "status": "succeeded",
            "reason": None,
            "metadata": {},
            "currency": charge["currency"],
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return refund

    def dispute_object(
        self, session: dict, reason: str = "fraudulent", status: str = "needs_response", created: int | None = None
    ) -> dict:
        """A Dispute of the session's charge, as a webhook would carry it (not stored: see ``dispute``)."""
        charge = self.charge_for(session)
        charge["disputed"] = True
        return {
            "id": _id("dp"),
            "object": "dispute",
            "amount": charge["amount"],
            "charge": charge["id"],
            "payment_intent": charge["payment_intent"],
            "currency": charge["currency"],
            "reason": reason,
            "status": status,
            "livemode": charge["livemode"],
            "metadata": {},
            "created": created or int(time.time()),
        }

    def dispute(self, session: dict, reason: str = "fraudulent", status: str = "needs_response", **kw) -> dict:
        """A dispute opened by the cardholder's bank: listed by ``GET /v1/disputes`` from now on."""
        dispute = self.dispute_object(session, reason=reason, status=status, **kw)
        self.disputes[dispute["id"]] = dispute
        return dispute

    def set_dispute_status(self, dispute: dict, status: str) -> dict:
        """The dispute moves on in Stripe (evidence submitted: ``under_review``; closed: ``won``/``lost``)."""
        self.disputes[dispute["id"]]["status"] = status
        return self.disputes[dispute["id"]]

    # --- events built from the stored objects --------------------------------------------------
    def session_event(self, session: dict, type_: str = "checkout.session.completed", **kw) -> dict:
        return event(type_, dict(session), livemode=session["livemode"], **kw)

    def charge_refunded_event(self, session: dict, **kw) -> dict:
        return event("charge.refunded", dict(self.charge_for(session)), **kw)

    def payment_intent_event(self, session: dict, **kw) -> dict:
        return event("payment_intent.succeeded", dict(self.payment_intents[session["payment_intent"]]), **kw)

    @staticmethod
    def body(evt: dict) -> bytes:
        return json.dumps(evt).encode()

    # --- API -----------------------------------------------------------------------------------
    def _list_sessions(self, req):
        q = req.query
        items = sorted(self.sessions.values(), key=lambda s: (s["created"], s["id"]), reverse=True)
        if q.get("payment_link"):
            items = [s for s in items if s["payment_link"] == q["payment_link"]]
        if q.get("payment_intent"):
            items = [s for s in items if s["payment_intent"] == q["payment_intent"]]
        if q.get("status"):
            items = [s for s in items if s["status"] == q["status"]]
        if q.get("customer_details[email]"):
            email = q["customer_details[email]"].lower()
            items = [s for s in items if (s["customer_details"]["email"] or "").lower() == email]
        items, page, has_more = _created_window_page(items, q)
        expand = {v for k, v in q.items() if k.startswith("expand")}
        if not self.expand_line_items_in_lists:
            expand.discard("data.line_items")
        data = [self._with_expansions(s, expand, prefix="data.") for s in page]
        return 200, {"object": "list", "url": "/v1/checkout/sessions", "has_more": has_more, "data": data}

    def _list_refunds(self, req):
        return self._list_of_charge_objects(req, self.refunds, "/v1/refunds")

    def _list_disputes(self, req):
        return self._list_of_charge_objects(req, self.disputes, "/v1/disputes")

    @staticmethod
    def _list_of_charge_objects(req, objects: dict[str, dict], url: str):
        """``GET /v1/refunds`` and ``GET /v1/disputes`` (the same list parameters): newest first,
        filters ``charge``, ``payment_intent``, ``created[…]``."""
        q = req.query
        items = sorted(objects.values(), key=lambda o: (o["created"], o["id"]), reverse=True)
        for key in ("charge", "payment_intent"):
            if q.get(key):
                items = [o for o in items if o[key] == q[key]]
        _, page, has_more = _created_window_page(items, q)
        return 200, {"object": "list", "url": url, "has_more": has_more, "data": page}

    def _with_expansions(self, session, expand, prefix=""):
        out = dict(session)
        if f"{prefix}line_items" in expand:
            out["line_items"] = {
                "object": "list",
                "has_more": False,
                "data": self.line_items.get(session["id"], []),
                "url": f"/v1/checkout/sessions/{session['id']}/line_items",
            }
        return out

    def _get_session(self, req, sid):
        if sid not in self.sessions:
            return _not_found("checkout.session", sid)
        expand = {v for k, v in req.query.items() if k.startswith("expand")}
        return 200, self._with_expansions(self.sessions[sid], expand)

    def _get_line_items(self, req, sid):
        if sid not in self.sessions:
            return _not_found("checkout.session", sid)
        return 200, {
            "object": "list",
            "has_more": False,
            "data": self.line_items[sid],
            "url": f"/v1/checkout/sessions/{sid}/line_items",
        }

    def _get_payment_intent(self, req, pi):
        if pi not in self.payment_intents:
            return _not_found("payment_intent", pi)
        return 200, self.payment_intents[pi]

    def _get_charge(self, req, ch):
        if ch not in self.charges:
            return _not_found("charge", ch)
        return 200, self.charges[ch]

    def _create_refund(self, req):
        """``POST /v1/refunds`` with Stripe's idempotency: the first answer under an
        ``Idempotency-Key`` (a refund, or a refusal made while executing) is saved with the request's
        parameters; the same parameters again get that answer back, other parameters (another amount,
        another payment) get a 400 ``idempotency_error`` and change nothing
        (docs.stripe.com/api/idempotent_requests). Faults from ``fail_next`` are never saved."""
        key = req.headers.get("idempotency-key")
        if key and key in self.idempotency:
            params, status, answer = self.idempotency[key]
            if params != req.form:
                return 400, idempotency_error(key)
            return status, answer
        status, answer = self._execute_refund(req)
        if key and status != 404:  # an unknown payment intent fails validation: nothing is saved
            self.idempotency[key] = (dict(req.form), status, answer)
        return status, answer

    def _execute_refund(self, req):
        pi = req.form.get("payment_intent")
        if pi not in self.payment_intents:
            return _not_found("payment_intent", pi or "")
        charge = self.charges[self.payment_intents[pi]["latest_charge"]]
        amount = int(req.form.get("amount") or (charge["amount"] - charge["amount_refunded"]))
        if amount <= 0 or charge["amount_refunded"] + amount > charge["amount"]:
            return 400, {
                "error": {
                    "type": "invalid_request_error",
                    "code": "charge_already_refunded",
                    "message": "Refund amount exceeds the charge's remaining amount.",
                }
            }
        metadata = {k[len("metadata[") : -1]: v for k, v in req.form.items() if k.startswith("metadata[")}
        refund = {
            "id": _id("re"),
            "object": "refund",
            "amount": amount,
            "charge": charge["id"],
            "payment_intent": pi,
            "status": "succeeded",
            "reason": req.form.get("reason"),
            "metadata": metadata,
            "currency": charge["currency"],
            "created": int(time.time()),
        }
        self.refunds[refund["id"]] = refund
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] >= charge["amount"]
        return 200, refund
