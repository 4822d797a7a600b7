"""Whatever arrives in the query string, the attendee gets a calm page and learns nothing about
anyone else's payment or booking; a provider outage never loses the attendee."""

import time

import pytest

from registrations.models import AuditLog, Booking, Payment, Registration

from .conftest import ATYPE

NOT_FOUND_PAID = "We couldn't find that payment"
NOT_FOUND_BOOKED = "We couldn't find that booking"


def _norm(resp) -> str:
    return resp.content.decode()


def _nothing_written():
    return not (Payment.objects.exists() or Booking.objects.exists() or Registration.objects.exists())


# --- /r/paid/ -----------------------------------------------------------------------------------
MALFORMED_SESSION_IDS = [
    "",
    "cs_",
    "cs_test_",
    "pi_123",
    "cs_test_abc/../../v1/charges",
    "cs_test_a b",
    "cs_test_ä",
    "x" * 5000,
    "cs_test_" + "a" * 300,
    "cs_test_abc\x00",
    "cs_test_abc\n",
    "{CHECKOUT_SESSION_ID}",
    "cs_test_abc?expand[]=x",
]


def test_malformed_session_ids_never_reach_stripe(client, fake_stripe, fake_acuity, event):
    for session_id in MALFORMED_SESSION_IDS:
        resp = client.get("/r/paid/", {"session_id": session_id})
        if "\x00" in session_id:  # refused for every page before any view (jlf.middleware)
            assert resp.status_code == 400, session_id
            continue
        assert resp.status_code == 404, session_id
        assert NOT_FOUND_PAID in _norm(resp)
    assert fake_stripe.requests == []
    assert _nothing_written()


def test_every_kind_of_unusable_session_gets_the_same_page(client, fake_stripe, fake_acuity, event):
    foreign = fake_stripe.add_session(payment_link="plink_someone_else", email="a@example.org")
    expired = fake_stripe.add_session(status="expired", payment_status="unpaid", email="b@example.org")
    still_open = fake_stripe.add_session(status="open", payment_status="unpaid", email="c@example.org")
    pages = {
        name: client.get("/r/paid/", {"session_id": sid})
        for name, sid in [
            ("unknown", "cs_test_doesnotexist123"),
            ("foreign", foreign["id"]),
            ("expired", expired["id"]),
            ("open", still_open["id"]),
        ]
    }
    bodies = {name: _norm(r) for name, r in pages.items()}
    assert {r.status_code for r in pages.values()} == {404}
    assert len(set(bodies.values())) == 1, "the page must not tell the failure kinds apart"
    body = bodies["unknown"]
    assert NOT_FOUND_PAID in body
    for leak in ("No such", "resource_missing", "a@example.org", "plink_someone_else", "expired", "cs_test"):
        assert leak not in body
    assert _nothing_written()


def test_event_named_in_the_url_adds_its_plain_booking_link_to_the_not_found_page(
    client, fake_stripe, fake_acuity, event
):
    body = _norm(client.get("/r/paid/", {"session_id": "cs_test_nope", "event": "spring-retreat"}))
    assert f"schedule.php?owner=21991&amp;appointmentType={ATYPE}" in body
    assert "field:" not in body and "email=" not in body


@pytest.mark.parametrize("fault", ["down", "500", "timeout"])
def test_stripe_outage_gets_we_have_your_payment_page_with_the_plain_link(
    client, fake_stripe, fake_acuity, event, settings, fault
):
    s = fake_stripe.add_session(email="river@example.org")
    settings.HANDOFF_PROVIDER_TIMEOUT = 0.5
    if fault == "down":
        fake_stripe.down()
    elif fault == "500":
        fake_stripe.fail_next(10, status=500)
    else:
        fake_stripe.fail_next(10, status=200, delay=1.5)
    started = time.monotonic()

    resp = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})

    assert time.monotonic() - started < 8, "an attendee must not wait for the SDK's 80 s default"
    assert resp.status_code == 200
    body = _norm(resp)
    assert "Thank you, we have your payment" in body
    assert "confirmation email" in body
    assert f"schedule.php?owner=21991&amp;appointmentType={ATYPE}" in body
    assert "injected failure" not in body
    assert _nothing_written()

    # The webhook finishes the job later; the redirect then works as usual.
    fake_stripe.up()
    fake_stripe._faults.clear()
    assert client.get("/r/paid/", {"session_id": s["id"]}).status_code == 302


def test_stripe_outage_without_an_event_in_the_url_still_reassures(client, fake_stripe, fake_acuity, event):
    fake_stripe.down()
    resp = client.get("/r/paid/", {"session_id": "cs_test_abc123"})
    assert resp.status_code == 200
    assert "we have your payment" in _norm(resp) and "confirmation email" in _norm(resp)


def test_stripe_outage_page_does_not_promise_a_bank_payment_has_cleared(client, fake_stripe, fake_acuity, event):
    """Stripe sends a bank-debit payer back as soon as the debit starts: while Stripe cannot be
    asked, the page cannot know the payment cleared, so it says we have it, not that it went through."""
    fake_stripe.down()
    body = _norm(client.get("/r/paid/", {"session_id": "cs_test_abc123", "event": "spring-retreat"}))
    assert "we have your payment" in body and "went through" not in body
    assert "bank payment can take a few days to clear" in body


def test_wrong_stripe_key_is_an_outage_not_a_not_found(client, fake_stripe, fake_acuity, event):
    fake_stripe.fail_next(5, status=401)
    resp = client.get("/r/paid/", {"session_id": "cs_test_abc123", "event": "spring-retreat"})
    assert resp.status_code == 200 and "we have your payment" in _norm(resp)


# --- /r/booked/ ---------------------------------------------------------------------------------
MALFORMED_APPOINTMENT_IDS = [
    "",
    "%appointmentId%",
    "%id%",
    "-1",
    "1.5",
    "12a",
    "0x10",
    "1" * 13,
    "１２３",
    "123\n",
    "1e5",
    " 12",
]


def test_malformed_appointment_ids_never_reach_acuity(client, fake_stripe, fake_acuity, event):
    for appointment in MALFORMED_APPOINTMENT_IDS:
        resp = client.get("/r/booked/", {"appointment": appointment})
        if "\x00" in appointment:  # refused for every page before any view (jlf.middleware)
            assert resp.status_code == 400, appointment
            continue
        assert resp.status_code == 404, appointment
        assert NOT_FOUND_BOOKED in _norm(resp)
    assert fake_acuity.requests == []
    assert _nothing_written()


def test_unreplaced_placeholder_still_offers_the_events_payment_link(client, fake_stripe, fake_acuity, event):
    body = _norm(client.get("/r/booked/", {"appointment": "%appointmentId%", "event": "spring-retreat"}))
    assert NOT_FOUND_BOOKED in body
    assert 'href="https://buy.stripe.com/test_spring"' in body


def test_every_kind_of_unusable_appointment_gets_the_same_page(client, fake_stripe, fake_acuity, event):
    from datetime import date, timedelta

    foreign = fake_acuity.add_appointment(appointment_type_id=5550000, email="a@example.org")
    cancelled = fake_acuity.add_appointment(appointment_type_id=ATYPE, canceled=True, email="b@example.org")
    old = fake_acuity.add_appointment(appointment_type_id=ATYPE, email="c@example.org")
    old["dateCreated"] = (date.today() - timedelta(days=30)).strftime("%B %-d, %Y")
    undated = fake_acuity.add_appointment(appointment_type_id=ATYPE, email="d@example.org")
    del undated["dateCreated"]  # cannot be dated: not handed on (ids are sequential and guessable)
    pages = {
        name: client.get("/r/booked/", {"appointment": aid})
        for name, aid in [
            ("unknown", 999999999),
            ("foreign", foreign["id"]),
            ("cancelled", cancelled["id"]),
            ("old", old["id"]),
            ("undated", undated["id"]),
        ]
    }
    assert {r.status_code for r in pages.values()} == {404}
    assert len({_norm(r) for r in pages.values()}) == 1
    body = _norm(pages["unknown"])
    for leak in (
        "a@example.org",
        "b@example.org",
        "c@example.org",
        "d@example.org",
        "Appointment not found",
        "buy.stripe.com",
    ):
        assert leak not in body
    assert _nothing_written()


@pytest.mark.parametrize("fault", ["down", "500", "timeout"])
def test_acuity_outage_gets_we_have_your_booking_page(client, fake_stripe, fake_acuity, event, settings, fault):
    appt = fake_acuity.add_appointment(appointment_type_id=ATYPE)
    settings.HANDOFF_PROVIDER_TIMEOUT = 0.5
    if fault == "down":
        fake_acuity.down()
    elif fault == "500":
        fake_acuity.fail_next(10, status=500)
    else:
        fake_acuity.fail_next(10, status=200, delay=1.5)
    started = time.monotonic()

    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert time.monotonic() - started < 8
    assert resp.status_code == 200
    body = _norm(resp)
    assert "Your booking is in" in body
    assert 'href="https://buy.stripe.com/test_spring"' in body
    assert "injected failure" not in body
    assert _nothing_written()


# --- both ---------------------------------------------------------------------------------------
FUZZ = [
    {"session_id": ["cs_test_a", "cs_test_b"]},
    {"session_id": "cs_test_abc", "event": "../../admin"},
    {"session_id": "cs_test_abc", "event": "x" * 500},
    {"session_id": "cs_test_abc", "event": "<script>alert(1)</script>"},
    {"appointment": "1", "event": "spring-retreat\x00"},
    {"appointment": ["1", "2"], "id": "3"},
    {"event": "spring-retreat"},
    {},
]


def test_no_input_causes_a_server_error(client, fake_stripe, fake_acuity, event):
    for path in ("/r/paid/", "/r/booked/"):
        for params in FUZZ:
            resp = client.get(path, params)
            assert resp.status_code in (200, 302, 400, 404), (path, params)
            assert b"<script>alert" not in resp.content


def test_raw_garbage_query_strings_do_not_break_the_pages(client, fake_stripe, fake_acuity, event):
    for path in ("/r/paid/", "/r/booked/"):
        for qs in (
            "session_id=%ff%fe",
            "appointment=%00",
            "%%%",
            "event=%E2%80%AE&session_id=cs_test_a",
            "a=" + "b" * 10000,
        ):
            resp = client.get(f"{path}?{qs}")
            assert resp.status_code in (200, 302, 400, 404), (path, qs)


def test_post_is_not_allowed(client, fake_stripe, fake_acuity, event):
    assert client.post("/r/paid/", {"session_id": "cs_test_abc"}).status_code == 405
    assert client.post("/r/booked/", {"appointment": "1"}).status_code == 405


def test_pages_are_not_cached_indexed_or_referred(client, fake_stripe, fake_acuity, event):
    s = fake_stripe.add_session(email="river@example.org")
    for resp in (
        client.get("/r/paid/", {"session_id": s["id"]}),
        client.get("/r/paid/", {"session_id": "cs_test_nope"}),
    ):
        assert resp["Cache-Control"] == "no-store"
        assert resp["Referrer-Policy"] == "no-referrer"


def test_unexpected_error_is_logged_and_the_attendee_still_gets_a_page(
    client, fake_stripe, fake_acuity, event, monkeypatch, caplog
):
    from integrations import handoff_views

    def broken(*a, **kw):
        raise RuntimeError("database fell over")

    monkeypatch.setattr(handoff_views, "apply_payment", broken)
    s = fake_stripe.add_session(email="river@example.org")
    resp = client.get("/r/paid/", {"session_id": s["id"], "event": "spring-retreat"})
    assert resp.status_code == 200 and "we have your payment" in _norm(resp)
    assert "database fell over" not in _norm(resp)
    assert any("handoff /r/paid/ failed" in r.getMessage() for r in caplog.records)
    assert not AuditLog.objects.filter(action="payment.recorded").exists()
