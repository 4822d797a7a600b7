"""Refunds through the Stripe API, started by an operator from the exception queue.

``registrations`` never imports the Stripe SDK, so the operator view calls this first and then
records the answer through ``registrations.services.apply_payment`` (a ``refunded`` signal with
the refund's own id), so the refund is in the facts at once and the later ``refund.created``
webhook is a no-op.

The idempotency key is chosen by the caller from the review item and the payment (not the
amount): a double click, a retried request or two operators pressing the button at once all get the
same refund back from Stripe instead of refunding twice (Stripe keeps idempotency keys for at least
24 hours). The same key with other parameters (another amount, the other payment of a duplicate
card) is refused by Stripe with an ``idempotency_error`` (``ProviderError.reused_key``); Stripe
then keeps the answer to the first request, which may be a refund whose answer never reached us.
``refund_made_from`` finds that refund: every refund made here names its review item in its
metadata (``jlf_review_item``).
"""

from __future__ import annotations

import time

from registrations.detection import FALLEN_REFUND

from .clients import STRIPE_CONNECT_TIMEOUT, ProviderError, stripe_call, stripe_client

#: Seconds to wait for Stripe's answer to a refund, twice at most (one network retry, same key): a
#: refund that timed out is safe to ask again.
HTTP_TIMEOUT = 10.0
#: Seconds an operator's refund request may spend talking to Stripe in all (the lookup of the
#: card's earlier refund, then the refund): it must end well before the web worker's timeout
#: (gunicorn's 30 s), which would answer a 502 and leave the operator not knowing what happened.
REQUEST_BUDGET = 20.0
#: Seconds the lookup of a card's earlier refund may take in all (one list call per payment, no
#: network retries: an operator asks again rather than wait).
LOOKUP_BUDGET = 6.0
#: Below this many seconds left, a call is not started (it could not get an answer in time).
MIN_CALL_SECONDS = 1.0


class TooSlow(ProviderError):
    """Stripe did not answer in the time the operator's request has: nothing (new) was sent."""

    def __init__(self, what: str):
        super().__init__("stripe", f"Stripe is slow to answer ({what})")


def deadline() -> float:
    """A deadline ``REQUEST_BUDGET`` from now, for ``create_refund`` and ``refund_made_from``."""
    return time.monotonic() + REQUEST_BUDGET


def _timeout_within(seconds: float) -> float:
    """The ``stripe_client`` timeout for one try that must end, connecting included, within
    ``seconds``: the HTTP client waits up to ``STRIPE_CONNECT_TIMEOUT`` (at most the timeout) for
    the connection, and then up to the timeout again for the answer."""
    if seconds <= 2 * STRIPE_CONNECT_TIMEOUT:
        return seconds / 2
    return seconds - STRIPE_CONNECT_TIMEOUT


#: Stripe's refund reasons (anything else is rejected by the API).
REASONS = {"duplicate", "fraudulent", "requested_by_customer"}


def create_refund(
    payment,
    amount: int,
    idempotency_key: str,
    reason: str = "",
    review_item: int | None = None,
    until: float | None = None,
) -> dict:
    """Refund ``amount`` (smallest currency unit) of a Stripe payment. Returns the refund as a dict
    (``id``, ``status``, ``amount``, ``charge``, ``payment_intent``…). Raises ``ProviderError``.
    ``review_item``: the review item the refund is made from (kept in the refund's metadata).
    ``until`` (``deadline()``): the call, its one network retry included, ends by then; with too
    little time left it is not sent at all (``TooSlow``). A 429 is not waited out here."""
    if amount <= 0:
        raise ValueError("A refund amount must be positive.")
    metadata = {"jlf_payment": str(payment.pk)}
    if review_item is not None:
        metadata["jlf_review_item"] = str(review_item)
    params: dict = {"amount": int(amount), "metadata": metadata}
    if payment.payment_intent_id:
        params["payment_intent"] = payment.payment_intent_id
    elif payment.charge_id:
        params["charge"] = payment.charge_id
    else:
        raise ProviderError("stripe", "this payment has no Stripe payment intent or charge to refund", permanent=True)
    if reason in REASONS:
        params["reason"] = reason
    timeout = HTTP_TIMEOUT
    if until is not None:
        # Two tries (the SDK's retry sleeps at most 0.5 s after the first) within the time left,
        # each its connection and its answer.
        per_try = (until - time.monotonic() - 1) / 2
        if per_try < MIN_CALL_SECONDS:
            raise TooSlow("no time was left to send the refund")
        timeout = min(HTTP_TIMEOUT, _timeout_within(per_try))
    client = stripe_client(timeout=timeout, max_network_retries=1)
    refund = stripe_call(
        "refunds",
        client.v1.refunds.create,
        params=params,
        options={"idempotency_key": idempotency_key},
        attempts=1 if until is not None else 5,
    )
    return refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)


def refund_made_from(review_item: int, payments, *, ignore=(), until: float | None = None) -> dict | None:
    """The refund Stripe made from review item ``review_item`` on one of ``payments`` (found by its
    ``jlf_review_item`` metadata among the payments' refunds), as a dict, or None when Stripe lists
    none. One that stands (not ``failed`` or ``canceled``) is preferred to one that does not.
    ``ignore``: ids of refunds of the card already known to have failed (the card was reopened for
    them), as if Stripe did not list them.

    An operator waits for this: all the list calls together take at most ``LOOKUP_BUDGET`` seconds
    (and end by ``until``), with no network retries and no waiting out a 429. Raises ``ProviderError``
    (``TooSlow`` when Stripe did not answer in that time)."""
    stop = time.monotonic() + LOOKUP_BUDGET
    if until is not None:
        stop = min(stop, until)
    ignore = set(ignore)
    fallen = None
    for payment in payments:
        if payment.payment_intent_id:
            params = {"payment_intent": payment.payment_intent_id, "limit": 100}
        elif payment.charge_id:
            params = {"charge": payment.charge_id, "limit": 100}
        else:
            continue
        left = stop - time.monotonic()
        if left < MIN_CALL_SECONDS:
            raise TooSlow("asking what this card refunded before took too long")
        timeout = _timeout_within(left)  # its connection and its answer within what is left
        client = stripe_client(timeout=timeout, max_network_retries=0)
        began = time.monotonic()
        try:
            page = stripe_call("refunds.list", client.v1.refunds.list, params=params, attempts=1)
        except ProviderError as exc:
            # No answer in the time it had (not a refused connection, which says so at once).
            if exc.status is None and not exc.permanent and time.monotonic() - began >= timeout - 0.05:
                raise TooSlow("asking what this card refunded before took too long") from exc
            raise
        for refund in page.data:
            refund = refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)
            if refund.get("id") in ignore:
                continue
            if (refund.get("metadata") or {}).get("jlf_review_item") == str(review_item):
                if refund.get("status") not in FALLEN_REFUND:
                    return refund
                fallen = fallen or refund
    return fallen
