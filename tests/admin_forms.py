"""Adding an event through the Django admin the way an operator does: the add form's own initial
values, the fields typed, and an empty mappings inline."""

from __future__ import annotations

from django.urls import reverse


def add_event(admin_client, *, name, slug, starts_at_0, starts_at_1, timezone, price="80"):
    """POST the admin's add-event form with these fields; returns the response."""
    url = reverse("admin:registrations_event_add")
    form = admin_client.get(url).context["adminform"].form
    data = {name_: form.initial.get(name_, field.initial) for name_, field in form.fields.items()}
    data = {k: v for k, v in data.items() if v not in (None, False)}
    data.update(
        {
            "name": name,
            "slug": slug,
            "starts_at_0": starts_at_0,
            "starts_at_1": starts_at_1,
            "timezone": timezone,
            "price": price,
            "mappings-TOTAL_FORMS": "0",
            "mappings-INITIAL_FORMS": "0",
            "mappings-MIN_NUM_FORMS": "0",
            "mappings-MAX_NUM_FORMS": "1000",
        }
    )
    return admin_client.post(url, data)
