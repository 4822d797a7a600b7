"""The seat-assignment form of a group payment shows as many seat rows as there are seats to
give: with "the payer takes one of the seats" ticked (the default), one row fewer, and the rows
are the seats left (Seat 2 and Seat 3 of three, seat 1 being the payer's). Unticking shows the
row again, ticking hides it; a row hidden after something was typed in it is not sent. Without
JavaScript the page's stylesheet hides and shows the row, and the form still works."""

from __future__ import annotations

import pytest
from django.conf import settings as django_settings
from django.test import Client

from registrations.models import Payment, Registration, ReviewItem, Status

pytestmark = pytest.mark.browser


def _signed_in_page(browser, live_server, operator, **context_args):
    client = Client()
    client.force_login(operator)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    context = browser.new_context(**context_args)
    context.add_cookies([{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    page = context.new_page()
    page.set_default_timeout(15000)
    return context, page


def _rows(page, card) -> list[str]:
    """The seat labels of the rows a person can see."""
    return [t.strip() for t in page.locator(f"{card} li.seat-row:visible .seat-n").all_inner_texts()]


def test_ticking_the_payer_takes_a_seat_hides_one_seat_row_and_unticking_shows_it(
    browser, live_server, world, operator
):
    item = world.items[ReviewItem.Kind.GROUP_PAYMENT]
    card = f"#item-{item.pk}"
    context, page = _signed_in_page(browser, live_server, operator)
    page.goto(f"{live_server.url}/ops/queue/?kind=group_payment")
    page.click(f'{card} :is(button, a):has-text("Assign 3 seats")')
    page.wait_for_selector(f"{card} form.seats-form")
    payer = page.locator(f"{card} input[name=payer_takes_seat]")

    assert payer.is_checked()
    assert _rows(page, card) == ["Seat 2", "Seat 3"]

    payer.uncheck()
    assert _rows(page, card) == ["Seat 1", "Seat 2", "Seat 3"]

    # Something typed in the row that then disappears is not assigned behind the operator's back.
    page.fill(f"{card} input[name=seat_3_name]", "Hidden Person")
    page.fill(f"{card} input[name=seat_3_email]", "hidden.person@example.org")
    payer.check()
    assert _rows(page, card) == ["Seat 2", "Seat 3"]
    friend = Registration.objects.get(attendee__email="fran.friend@example.org")
    page.select_option(f"{card} select[name=seat_1_registration]", str(friend.pk))
    page.click(f'{card} button:has-text("Assign seats")')
    page.wait_for_selector(f"{card}.resolved")

    assert "Seats assigned to Fran Friend" in page.inner_text(card)
    assert not Registration.objects.filter(attendee__email="hidden.person@example.org").exists()
    friend.refresh_from_db()
    assert friend.status == Status.COMPLETE
    context.close()


def test_without_javascript_the_form_shows_the_rows_for_the_choice_and_still_assigns(
    browser, live_server, world, operator
):
    item = world.items[ReviewItem.Kind.GROUP_PAYMENT]
    card = f"#item-{item.pk}"
    context, page = _signed_in_page(browser, live_server, operator, java_script_enabled=False)
    page.goto(f"{live_server.url}/ops/queue/{item.pk}/?mode=assign")
    payer = page.locator(f"{card} input[name=payer_takes_seat]")

    assert payer.is_checked()
    assert _rows(page, card) == ["Seat 2", "Seat 3"]
    payer.uncheck()
    assert _rows(page, card) == ["Seat 1", "Seat 2", "Seat 3"]
    payer.check()
    assert _rows(page, card) == ["Seat 2", "Seat 3"]

    page.fill(f"{card} input[name=seat_1_name]", "Nia Named")
    page.fill(f"{card} input[name=seat_1_email]", "nia.named@example.org")
    page.click(f'{card} button:has-text("Assign seats")')
    page.wait_for_load_state()

    assert "Seats assigned to Nia Named" in page.inner_text("body")
    assert Payment.objects.filter(method=Payment.Method.GROUP_SEAT).count() == 1
    assert ReviewItem.objects.get(pk=item.pk).state == ReviewItem.State.RESOLVED
    context.close()
