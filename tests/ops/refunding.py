"""Refunding from a queue card the way an operator does it (the refund form, then Confirm), and a
refund that Stripe makes but whose answer never reaches us."""

from __future__ import annotations

from django.urls import reverse


def refund_post(client, item, payment, amount, headers, confirm=True):
    """The refund form of ``item`` sent for ``payment`` and ``amount``: confirmed, or (``confirm``
    False) only asked, which shows the amount and who gets it."""
    data = {"payment": payment.pk, "amount": amount}
    if confirm:
        data["confirm"] = "1"
    return client.post(reverse("ops:queue_action", args=[item.pk, "refund"]), data, headers=headers)


def lose_the_answer(monkeypatch, ops_client, item, payment, amount, htmx_headers):
    """Confirm a refund that Stripe makes but whose answer never reaches us."""
    from integrations.clients import ProviderError
    from registrations.ops import queue as queue_views

    real_create_refund = queue_views.create_refund

    def answer_lost(*args, **kwargs):
        real_create_refund(*args, **kwargs)
        raise ProviderError("stripe", "Read timed out")

    monkeypatch.setattr(queue_views, "create_refund", answer_lost)
    body = refund_post(ops_client, item, payment, amount, htmx_headers()).content.decode()
    assert "Stripe could not be reached" in body
    monkeypatch.setattr(queue_views, "create_refund", real_create_refund)
