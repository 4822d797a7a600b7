"""Optional error reporting to Sentry (only when ``SENTRY_DSN`` is set; see settings).

Attendees' personal data and our secrets never leave: no default PII (cookies, user, IP), no
request bodies (webhook and form bodies hold names, emails and phone numbers), no query
strings (sign-in tokens), no signature or auth headers, no stack-frame local variables, and
every configured secret value is replaced anywhere in the event (an exception message, say).
"""

from __future__ import annotations

# Headers that carry credentials or signatures; never sent to Sentry.
_SENSITIVE_HEADERS = {
    "authorization",
    "cookie",
    "stripe-signature",
    "x-acuity-signature",
    "x-twilio-signature",
    "svix-signature",
    "webhook-signature",
    "x-csrftoken",
}


def _scrub(value, secrets):
    if isinstance(value, str):
        for name, secret in secrets:
            if secret in value:
                value = value.replace(secret, f"[Filtered:{name}]")
        return value
    if isinstance(value, dict):
        return {k: _scrub(v, secrets) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    if isinstance(value, tuple):
        return tuple(_scrub(v, secrets) for v in value)
    return value


def sentry_before_send(event, hint):
    """Drop request bodies, query strings and signature headers; replace any configured secret
    anywhere in the event (stack-frame locals included) by ``[Filtered:<SETTING>]``."""
    from .logs import configured_secrets

    request = event.get("request")
    if isinstance(request, dict):
        request.pop("data", None)
        request.pop("cookies", None)
        if request.get("query_string"):
            request["query_string"] = "[Filtered]"
        headers = request.get("headers")
        if isinstance(headers, dict):
            request["headers"] = {k: v for k, v in headers.items() if k.lower() not in _SENSITIVE_HEADERS}
    return _scrub(event, configured_secrets())


def init_sentry(dsn: str, environment: str, release: str | None, traces_sample_rate: float) -> None:
    import sentry_sdk

    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        release=release or None,
        send_default_pii=False,
        # Webhook and form bodies hold attendees' personal data: never attach them.
        max_request_body_size="never",
        # Frame locals hold request bodies, payloads and addresses (a webhook view's ``body``):
        # tracebacks with code context are enough to debug.
        include_local_variables=False,
        traces_sample_rate=traces_sample_rate,
        before_send=sentry_before_send,
    )
