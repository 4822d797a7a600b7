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

from .clients import ProviderError, stripe_call, stripe_client

#: Seconds to wait for Stripe's answer, twice at most: the operator's request must end before the
#: web worker's timeout (gunicorn's 30 s); a refund that timed out is safe to ask again (same key).
HTTP_TIMEOUT = 10.0

#: Stripe's refund reasons (anything else is rejected by the API).
REASONS = {"duplicate", "fraudulent", "requested_by_customer"}

#: Refund statuses that gave nothing back (Stripe's refund ``status``).
FALLEN = {"failed", "canceled"}


def create_refund(payment, amount: int, idempotency_key: str, reason: str = "", review_item: int | None = None) -> dict:
    """Refund ``amount`` (smallest currency unit) of a Stripe payment. Returns the refund as a dict
    (``id``, ``status``, ``amount``, ``charge``, ``payment_intent``…). Raises ``ProviderError``.
    ``review_item``: the review item the refund is made from (kept in the refund's metadata)."""
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
    client = stripe_client(timeout=HTTP_TIMEOUT, max_network_retries=1)
    refund = stripe_call(
        "refunds",
        client.v1.refunds.create,
        params=params,
        options={"idempotency_key": idempotency_key},
    )
    return refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)


def refund_made_from(review_item: int, payments) -> dict | None:
    """The refund Stripe made from review item ``review_item`` on one of ``payments`` (found by its
    ``jlf_review_item`` metadata among the payments' refunds), as a dict, or None when Stripe lists
    none. One that stands (not ``failed`` or ``canceled``) is preferred to one that does not.
    Raises ``ProviderError``."""
    client = stripe_client(timeout=HTTP_TIMEOUT, max_network_retries=1)
    fallen = None
    for payment in payments:
        if payment.payment_intent_id:
            params = {"payment_intent": payment.payment_intent_id, "limit": 100}
        elif payment.charge_id:
            params = {"charge": payment.charge_id, "limit": 100}
        else:
            continue
        page = stripe_call("refunds.list", client.v1.refunds.list, params=params)
        for refund in page.data:
            refund = refund.to_dict() if hasattr(refund, "to_dict") else dict(refund)
            if (refund.get("metadata") or {}).get("jlf_review_item") == str(review_item):
                if refund.get("status") not in FALLEN:
                    return refund
                fallen = fallen or refund
    return fallen
