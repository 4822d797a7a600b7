"""A rate limit of 0 an hour is refused at startup (tests/test_settings.py); should one reach the
limiter anyway (a test's settings override, a future caller), a bucket that holds no tokens admits
nobody: /r/booked/ then looks nothing up and shows the plain-link page, never a 500."""

from registrations import ratelimit

from .conftest import ATYPE


def test_booked_page_with_a_zero_per_hour_limit_shows_the_plain_link_page_not_an_error(
    client, settings, fake_stripe, fake_acuity, event
):
    settings.HANDOFF_BOOKED_PER_IP_PER_HOUR = 0
    appt = fake_acuity.add_appointment(email="river@example.org", appointment_type_id=ATYPE)

    resp = client.get("/r/booked/", {"appointment": appt["id"], "event": "spring-retreat"})

    assert resp.status_code == 200
    assert "https://buy.stripe.com/test_spring" in resp.content.decode()
    assert not fake_acuity.requests  # nothing looked up


def test_a_bucket_of_no_tokens_refuses_without_dividing_by_zero(db):
    for capacity in (0, -3):
        decision = ratelimit.take(f"zero{capacity}", capacity=capacity)
        assert not decision.allowed and decision.retry_after == ratelimit.HOUR
