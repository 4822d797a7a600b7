import os

import pytest

os.environ.setdefault("JLF_TESTING", "1")

# Session-wide guard: the run fails if any log line contains a configured secret.
pytest_plugins = ["tests.log_secrets"]


@pytest.fixture(autouse=True)
def _fast_settings(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    # Reconciliation applies in the test's own process (a forked one would not report to caplog
    # or see a test's monkeypatches made later); tests/reconcile/test_processes.py forks.
    settings.RECONCILE_APPLY_PROCESSES = 1


def serve_stripe(settings, fake):
    """Start ``fake`` (a FakeStripe) and point the real Stripe SDK at it for the test."""
    with fake:
        settings.STRIPE_API_BASE = fake.url
        settings.STRIPE_SECRET_KEY = "sk_test_fake"
        settings.STRIPE_WEBHOOK_SECRETS = ["whsec_test_secret"]
        settings.STRIPE_REQUESTS_PER_SECOND = 1000.0
        yield fake


def serve_acuity(settings, fake):
    """Start ``fake`` (a FakeAcuity) and point our Acuity client at it for the test."""
    from integrations import clients

    with fake:
        settings.ACUITY_API_BASE = fake.base_url
        settings.ACUITY_USER_ID = fake.user_id
        settings.ACUITY_API_KEY = fake.api_key
        settings.ACUITY_REQUESTS_PER_SECOND = 1000.0
        clients._acuity_limiter = None
        yield fake
        clients._acuity_limiter = None


@pytest.fixture
def fake_stripe(settings):
    """The real Stripe SDK pointed at a local fake Stripe (``tests/fakes/stripe.py``)."""
    from tests.fakes import FakeStripe

    yield from serve_stripe(settings, FakeStripe())


@pytest.fixture
def fake_acuity(settings):
    """Our Acuity client pointed at a local fake Acuity (``tests/fakes/acuity.py``)."""
    from tests.fakes import FakeAcuity

    yield from serve_acuity(settings, FakeAcuity())


@pytest.fixture
def fake_resend(settings):
    """The real resend SDK pointed at a local fake Resend (``tests/fakes/resend.py``)."""
    from tests.fakes.resend import WEBHOOK_SECRET, FakeResend

    with FakeResend() as fake:
        settings.RESEND_API_KEY = fake.api_key
        settings.RESEND_API_URL = fake.url
        settings.RESEND_WEBHOOK_SECRET = WEBHOOK_SECRET
        yield fake


@pytest.fixture
def fake_twilio(settings):
    """The real twilio SDK pointed at a local fake Twilio (``tests/fakes/twilio.py``)."""
    from tests.fakes.twilio import FROM_NUMBER, FakeTwilio

    with FakeTwilio() as fake:
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = fake.auth_token
        settings.TWILIO_FROM_NUMBER = FROM_NUMBER
        settings.TWILIO_MESSAGING_SERVICE_SID = ""
        settings.TWILIO_API_BASE = fake.url
        settings.PUBLIC_BASE_URL = "https://jlf.example.org"
        yield fake
