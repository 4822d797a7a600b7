"""One JSON line per request, a request id that follows the work into tasks, and no secrets."""

import json
import logging
import re
import time

import pytest
from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.urls import include, path
from django_q.models import OrmQ
from django_q.tasks import _sync, async_task

from jlf.context import get_request_id, request_id_var
from jlf.logs import JsonFormatter, RequestIdFilter, configured_secrets, find_secrets
from registrations.audit import audit
from registrations.models import AuditLog

pytestmark = [pytest.mark.django_db, pytest.mark.urls("tests.test_logging")]

view_log = logging.getLogger("tests.view")
task_log = logging.getLogger("tests.task")


def logging_view(request):
    view_log.info("inside the view")
    audit("test.logged", message="written by a request")
    return HttpResponse("ok")


def enqueue_view(request):
    async_task("tests.test_logging.task_that_logs", sync=request.GET.get("sync") == "1")
    return HttpResponse("queued")


def task_that_logs():
    task_log.info("inside the task")
    return get_request_id()


urlpatterns = [
    path("_t/log/", logging_view),
    path("_t/enqueue/", enqueue_view),
    path("", include("jlf.urls")),
]


class Lines(list):
    def json(self, logger=None):
        rows = [json.loads(line) for line in self]
        return [r for r in rows if logger is None or r.get("logger") == logger]

    def request_lines(self):
        return self.json("jlf.request")


@pytest.fixture
def json_log():
    """What production prints: the root handler's formatter and filter from settings.LOGGING."""
    lines = Lines()

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(self.format(record))

    handler = Collect()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    yield lines
    root.removeHandler(handler)
    root.setLevel(old_level)


def test_every_response_carries_a_generated_request_id(client):
    response = client.get("/healthz")
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert client.get("/healthz")["X-Request-ID"] != response["X-Request-ID"]


def test_a_well_formed_incoming_request_id_is_kept_and_echoed(client, json_log):
    response = client.get("/_t/log/", headers={"X-Request-ID": "edge-1234.abc:9"})
    assert response["X-Request-ID"] == "edge-1234.abc:9"
    assert {row["request_id"] for row in json_log.json()} == {"edge-1234.abc:9"}


def test_railways_request_id_is_used_when_no_x_request_id_is_sent(client):
    response = client.get("/healthz", headers={"X-Railway-Request-Id": "rw-5678"})
    assert response["X-Request-ID"] == "rw-5678"


@pytest.mark.parametrize(
    "bad",
    ["x" * 65, "has space", "line\nbreak", "semi;colon", "<script>", "-leading-dash", "ünïcode"],
)
def test_a_malformed_incoming_request_id_is_replaced_not_echoed(client, json_log, bad):
    response = client.get("/healthz", headers={"X-Request-ID": bad})
    assert re.fullmatch(r"[0-9a-f]{32}", response["X-Request-ID"])
    assert not any(bad in line for line in json_log)


def test_one_json_line_per_request_with_the_fields_operators_search_by(client, json_log):
    client.get("/_t/log/?t=magic-link-token-123")
    client.get("/does-not-exist/")
    first, second = json_log.request_lines()
    fields = {"time", "level", "logger", "message", "request_id", "method", "path", "status", "duration_ms", "user"}
    assert set(first) >= fields
    assert first["method"] == "GET" and first["path"] == "/_t/log/" and first["status"] == 200
    assert first["level"] == "INFO" and first["user"] is None and first["duration_ms"] >= 0
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+00:00", first["time"])
    # The query string (where magic-link tokens travel) is never logged.
    assert not any("magic-link-token-123" in line for line in json_log)
    assert second["status"] == 404 and second["level"] == "WARNING"


def test_the_request_line_names_the_signed_in_user_by_id(client, json_log):
    staff = get_user_model().objects.create_user("log-staff", password="pw-Unused-123", is_staff=True)
    client.force_login(staff)
    client.get("/admin/")
    assert json_log.request_lines()[-1]["user"] == staff.pk


def test_lines_and_audit_rows_written_during_a_request_carry_its_id(client, json_log):
    client.get("/_t/log/", headers={"X-Request-ID": "req-audit-1"})
    view_line = json_log.json("tests.view")[0]
    assert view_line["request_id"] == "req-audit-1"
    assert AuditLog.objects.get(action="test.logged").request_id == "req-audit-1"
    assert request_id_var.get() == ""  # nothing leaks past the request


# The worker closes "old" connections first, which would end a test transaction.
@pytest.mark.django_db(transaction=True)
def test_the_request_id_travels_with_a_queued_task_into_the_worker(client, json_log):
    client.get("/_t/enqueue/", headers={"X-Request-ID": "req-queued-7"})
    queued = OrmQ.objects.get()
    assert queued.task["request_id"] == "req-queued-7"

    # Run it the way a worker does (django-q2's own worker and monitor, in-process).
    _sync(queued.payload)

    task_line = json_log.json("tests.task")[0]
    assert task_line["request_id"] == "req-queued-7"
    assert request_id_var.get() == ""  # the worker does not carry it into the next task


def test_a_task_run_inline_keeps_the_request_id_and_leaves_it_unchanged(client, json_log):
    client.get("/_t/enqueue/?sync=1", headers={"X-Request-ID": "req-inline-8"})
    assert json_log.json("tests.task")[0]["request_id"] == "req-inline-8"
    assert [r["request_id"] for r in json_log.request_lines()] == ["req-inline-8"]


def test_a_task_enqueued_outside_a_request_gets_its_own_id():
    async_task("tests.test_logging.task_that_logs")
    request_id = OrmQ.objects.get().task["request_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", request_id)


# --- secrets -------------------------------------------------------------------------------

SECRETS = {
    "SECRET_KEY": "sk-django-" + "q" * 50,
    "STRIPE_WEBHOOK_SECRETS": ["whsec_logtest_primary_0001", "whsec_logtest_rolling_0002"],
    "STRIPE_SECRET_KEY": "sk_test_logtest_0003",
    "ACUITY_API_KEY": "acuity-key-logtest-0004",
    "TWILIO_AUTH_TOKEN": "twilio-token-logtest-0005",
    "RESEND_API_KEY": "re_logtest_0006",
    "RESEND_WEBHOOK_SECRET": "whsec_resend_logtest_0007",
}


@pytest.fixture
def secrets_configured(settings):
    for name, value in SECRETS.items():
        setattr(settings, name, value)
    return SECRETS


def test_representative_requests_log_no_secret_signature_card_or_body(
    client, json_log, secrets_configured, log_secret_leaks
):
    password = "Correct-Horse-Battery-9"
    get_user_model().objects.create_user("log-op", password=password, is_staff=True)
    body = json.dumps(
        {
            "id": "evt_log_1",
            "type": "checkout.session.completed",
            "data": {
                "object": {
                    "customer_details": {"email": "river@example.org", "name": "River Stone"},
                    "card": "4242424242424242",
                }
            },
        }
    )
    signature = f"t={int(time.time())},v1=deadbeef{'0' * 56}"

    client.get("/healthz")
    client.get("/_t/log/?t=sesame-token-abcdef")
    client.post("/admin/login/?next=/admin/", {"username": "log-op", "password": "wrong-Password-1"})
    client.post("/admin/login/?next=/admin/", {"username": "log-op", "password": password})
    client.get("/admin/")
    client.post(
        "/webhooks/stripe/", data=body, content_type="application/json", headers={"Stripe-Signature": signature}
    )
    client.post(
        "/webhooks/acuity/",
        data="action=scheduled&id=123&calendarID=1&appointmentTypeID=2",
        content_type="application/x-www-form-urlencoded",
        headers={"X-Acuity-Signature": "c2lnbmF0dXJlLXZhbHVl"},
    )

    assert len(json_log.request_lines()) == 7
    everything = "\n".join(json_log)
    assert find_secrets(everything) == []
    assert log_secret_leaks == []
    for forbidden in (
        password,
        "wrong-Password-1",
        signature,
        "c2lnbmF0dXJlLXZhbHVl",
        "4242424242424242",
        "river@example.org",
        "River Stone",
        "sesame-token-abcdef",
    ):
        assert forbidden not in everything, forbidden


@pytest.mark.log_secret_expected
def test_a_secret_that_reaches_a_log_call_is_redacted_in_the_output_and_flagged_by_the_guard(
    json_log, secrets_configured, log_secret_leaks
):
    logging.getLogger("tests.careless").warning("calling Resend with %s", SECRETS["RESEND_API_KEY"])
    line = json_log.json("tests.careless")[0]
    assert line["message"] == "calling Resend with [redacted:RESEND_API_KEY]"
    # The guard sees what the code tried to log (before redaction) and reports the setting's name.
    assert [leak["settings"] for leak in log_secret_leaks] == [["RESEND_API_KEY"]]


def test_configured_secrets_lists_every_secret_setting_but_ignores_trivial_values(settings, secrets_configured):
    settings.TWILIO_AUTH_TOKEN = "short"
    names = {name for name, _ in configured_secrets()}
    assert names >= {"SECRET_KEY", "STRIPE_WEBHOOK_SECRETS", "ACUITY_API_KEY", "RESEND_API_KEY"}
    assert "TWILIO_AUTH_TOKEN" not in names
    assert find_secrets("x whsec_logtest_rolling_0002 y") == ["STRIPE_WEBHOOK_SECRETS"]


def test_bearer_tokens_in_paths_never_reach_the_request_log(client, caplog):
    import logging

    caplog.set_level(logging.INFO, logger="jlf.request")
    client.get("/n/status/SOME-SIGNED-TOKEN-VALUE-123/")
    client.get("/cohost/calendar/abcdefghijklmnopqrstu.ics")
    lines = " ".join(r.getMessage() + str(getattr(r, "path", "")) for r in caplog.records if r.name == "jlf.request")
    assert "SOME-SIGNED-TOKEN-VALUE-123" not in lines
    assert "abcdefghijklmnopqrstu" not in lines
    assert "/n/status/[token]/" in lines
