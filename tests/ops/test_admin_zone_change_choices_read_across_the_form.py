"""Changing an event's time zone in the admin asks "Keep the same moment" or "Keep the clock
time", each a paragraph (what happens to the start, the reminders and the quiet hours). On a
desktop screen each choice was squeezed into the admin's 160 px label column beside the empty
space of the form (about 30 lines of three words each); the choices read across the form's width
like the other fields' texts."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.conf import settings as django_settings
from django.test import Client

from tests.factories import EventFactory

pytestmark = pytest.mark.browser

LONDON = ZoneInfo("Europe/London")


@pytest.mark.parametrize("width", [1280, 375])
def test_the_time_zone_change_choices_read_across_the_form_not_in_a_narrow_column(
    browser, live_server, operator, width
):
    operator.is_superuser = True
    operator.save()
    event = EventFactory(
        starts_at=datetime(2026, 12, 15, 10, 0, tzinfo=LONDON),
        ends_at=datetime(2026, 12, 15, 15, 0, tzinfo=LONDON),
        timezone="Europe/London",
    )
    client = Client()
    client.force_login(operator)
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.add_cookies(
        [
            {
                "name": django_settings.SESSION_COOKIE_NAME,
                "value": client.cookies[django_settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page = context.new_page()
    page.set_default_timeout(15000)
    page.goto(f"{live_server.url}/admin/registrations/event/{event.pk}/change/")
    page.fill("input[name=timezone]", "America/Los_Angeles")
    page.click("input[name=_save]")
    page.wait_for_selector("#id_zone_change_0")

    form_width = page.locator(".field-zone_change").bounding_box()["width"]
    for n in (0, 1):
        label = page.locator(f"label[for=id_zone_change_{n}]").bounding_box()
        # The choice takes most of the row beside the field's own label, not a 160 px column.
        assert label["width"] > form_width * 0.55, (n, label, form_width)
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    page.check("#id_zone_change_0")
    page.click("input[name=_save]")
    page.wait_for_selector("text=was changed successfully")
    event.refresh_from_db()
    assert event.timezone == "America/Los_Angeles"
    assert event.starts_at == datetime(2026, 12, 15, 10, 0, tzinfo=LONDON)
    context.close()
