"""Settings, all from the environment (django-environ).

With no environment at all the project runs for development: SQLite, console email,
SMS logged not sent, a generated development secret. ``JLF_ENV=production`` refuses to
start until every required secret is present, and names all missing ones in one message.
Every key is documented in ``.env.example``.
"""

import os
from datetime import timedelta
from pathlib import Path

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
_env_file = BASE_DIR / ".env"
if _env_file.exists():
    environ.Env.read_env(str(_env_file))

JLF_ENV = env.str("JLF_ENV", default="development")
PRODUCTION = JLF_ENV == "production"
TESTING = env.bool("JLF_TESTING", default=False)

# --- Providers -----------------------------------------------------------------------------
# Base URLs are settings so tests, the demo and the benchmarks point the real SDKs at local
# fake servers; production never changes them.
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
# Several secrets at once so an endpoint-secret roll needs no downtime (comma-separated).
STRIPE_WEBHOOK_SECRETS = env.list("STRIPE_WEBHOOK_SECRETS", default=[])
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
# Which mode this install lives in; events of the other mode are stored as ignored.
STRIPE_LIVEMODE = env.bool("STRIPE_LIVEMODE", default=PRODUCTION)
STRIPE_ACCEPT_OTHER_MODE = env.bool("STRIPE_ACCEPT_OTHER_MODE", default=False)
STRIPE_WEBHOOK_TOLERANCE = env.int("STRIPE_WEBHOOK_TOLERANCE", default=300)
STRIPE_REQUESTS_PER_SECOND = env.float("STRIPE_REQUESTS_PER_SECOND", default=20.0)  # limit is 25/s

ACUITY_USER_ID = env.str("ACUITY_USER_ID", default="")
ACUITY_API_KEY = env.str("ACUITY_API_KEY", default="")
ACUITY_API_BASE = env.str("ACUITY_API_BASE", default="https://acuityscheduling.com/api/v1")
ACUITY_REQUESTS_PER_SECOND = env.float("ACUITY_REQUESTS_PER_SECOND", default=8.0)  # limit is 10/s

TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM_NUMBER = env.str("TWILIO_FROM_NUMBER", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE = env.str("TWILIO_API_BASE", default="https://api.twilio.com")

RESEND_API_KEY = env.str("RESEND_API_KEY", default="")
RESEND_API_URL = env.str("RESEND_API_URL", default="https://api.resend.com")
RESEND_WEBHOOK_SECRET = env.str("RESEND_WEBHOOK_SECRET", default="")

# Reminders and other product mail (notifications/): sender (blank = DEFAULT_FROM_EMAIL), where
# replies go, the sign-off under reminders (blank = "See you soon, The JLF team"), and how many
# days the attendee status link in a reminder keeps working.
NOTIFICATIONS_FROM_EMAIL = env.str("NOTIFICATIONS_FROM_EMAIL", default="")
NOTIFICATIONS_REPLY_TO = env.str("NOTIFICATIONS_REPLY_TO", default="")
NOTIFICATIONS_SIGNATURE = env.str("NOTIFICATIONS_SIGNATURE", default="")
STATUS_LINK_MAX_AGE_DAYS = env.int("STATUS_LINK_MAX_AGE_DAYS", default=30)

STRIPE_ENABLED = bool(STRIPE_SECRET_KEY)
ACUITY_ENABLED = bool(ACUITY_API_KEY)
TWILIO_ENABLED = bool(TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN)
RESEND_ENABLED = bool(RESEND_API_KEY)

# The public https URL the providers reach us at (used for Twilio signature checks,
# status callbacks and links in messages).
PUBLIC_BASE_URL = env.str("PUBLIC_BASE_URL", default="http://127.0.0.1:8000").rstrip("/")
DEFAULT_PHONE_REGION = env.str("DEFAULT_PHONE_REGION", default="US")
# Handoff pages (/r/paid/, /r/booked/): an attendee waits while we ask Stripe/Acuity, so give up
# after this many seconds and show the "we have it, here is the link" page instead.
HANDOFF_PROVIDER_TIMEOUT = env.float("HANDOFF_PROVIDER_TIMEOUT", default=8.0)
# /r/booked/ hands on only bookings made this many days ago or less (appointment ids are guessable).
HANDOFF_BOOKED_MAX_AGE_DAYS = env.int("HANDOFF_BOOKED_MAX_AGE_DAYS", default=2)
# Acuity's appointment ids are sequential, so /r/booked/ could be walked to collect bookers'
# addresses (prefilled on the payment page): past this many look-ups an hour from one client
# address, it answers with the event's plain payment link and looks nothing up.
HANDOFF_BOOKED_PER_IP_PER_HOUR = env.int("HANDOFF_BOOKED_PER_IP_PER_HOUR", default=30)
WEBHOOK_MAX_BODY_BYTES = env.int("WEBHOOK_MAX_BODY_BYTES", default=256 * 1024)
# Webhook processing (integrations/tasks.py): attempts per delivery, with a growing delay
# between them (base × 4^(n-1), capped), before the inbox row is marked failed for an operator.
# Defaults: 1 min, 4 min, 16 min, 64 min, 4 h → about 5.5 h of provider outage is absorbed.
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=6)
WEBHOOK_RETRY_BASE_SECONDS = env.int("WEBHOOK_RETRY_BASE_SECONDS", default=60)
WEBHOOK_RETRY_MAX_SECONDS = env.int("WEBHOOK_RETRY_MAX_SECONDS", default=4 * 60 * 60)
# A row still "received" this long after its task was queued is re-enqueued by the sweeper.
WEBHOOK_LOST_AFTER_SECONDS = env.int("WEBHOOK_LOST_AFTER_SECONDS", default=5 * 60)
# Provider API timeout inside the worker (read seconds): a task must finish well within
# Q_CLUSTER["timeout"] even when the provider hangs.
WEBHOOK_HTTP_TIMEOUT = env.float("WEBHOOK_HTTP_TIMEOUT", default=8.0)
READ_ONLY_MODE = env.bool("READ_ONLY_MODE", default=False)

# --- Core ----------------------------------------------------------------------------------
_missing = []
if PRODUCTION:
    for key in ("SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"):
        if not env.str(key, default=""):
            _missing.append(key)
    if STRIPE_ENABLED and not STRIPE_WEBHOOK_SECRETS:
        _missing.append("STRIPE_WEBHOOK_SECRETS (Stripe is enabled by STRIPE_SECRET_KEY)")
    if ACUITY_ENABLED and not ACUITY_USER_ID:
        _missing.append("ACUITY_USER_ID (Acuity is enabled by ACUITY_API_KEY)")
    if not PUBLIC_BASE_URL.startswith("https://"):
        # Every emailed and texted link (sign-in links, unsubscribe, status pages) starts with it.
        _missing.append("PUBLIC_BASE_URL (the site's https:// address: links in emails and texts start with it)")
    if not RESEND_ENABLED and not env.str("EMAIL_BACKEND", default=""):
        # Without either, every reminder, co-host sign-in link and digest would only be logged.
        _missing.append("RESEND_API_KEY (or EMAIL_BACKEND for another mail service: mail would only be logged)")
    if RESEND_ENABLED and not RESEND_WEBHOOK_SECRET:
        _missing.append("RESEND_WEBHOOK_SECRET (Resend is enabled by RESEND_API_KEY)")
    if TWILIO_ENABLED and not (TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID):
        _missing.append("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID (Twilio is enabled by its credentials)")
    if _missing:
        raise ImproperlyConfigured("JLF_ENV=production but these settings are missing: " + ", ".join(_missing))

SECRET_KEY = env.str("SECRET_KEY", default="dev-only-insecure-key-do-not-use-in-production")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
DEBUG = env.bool("DEBUG", default=not PRODUCTION)
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "jlf.admin_site.JlfAdminConfig",  # django.contrib.admin, with guards against odd URLs
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    "template_partials",
    "django_q",
    "jlf",
    "csp",
    "axes",
    "sesame",
    "registrations",
    "integrations",
    "notifications",
]

MIDDLEWARE = [
    # First: every response (redirects, errors, health checks) gets a request id and a log line.
    "jlf.middleware.RequestIdMiddleware",
    # A NUL byte in the path or query string: 400 before anything looks it up (PostgreSQL refuses it).
    "jlf.middleware.NulByteMiddleware",
    # /healthz answers before the host check and the HTTPS redirect (probes reach the container
    # directly, over plain HTTP, with hosts such as healthcheck.railway.app or 127.0.0.1).
    "jlf.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # READ_ONLY_MODE: refuses changes (503) before sessions, CSRF or views run; webhooks pass.
    "jlf.readonly.ReadOnlyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last (django-axes): turns a locked-out login into the 429 page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "jlf.urls"
WSGI_APPLICATION = "jlf.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "jlf.readonly.read_only_mode",
            ],
        },
    },
]

# --- Database ------------------------------------------------------------------------------
# SQLite by default (zero setup): WAL, IMMEDIATE transactions and a generous timeout so the
# django-q2 ORM broker's polling and web writes do not collide ("database is locked").
SQLITE_PATH = env.str("SQLITE_PATH", default=str(BASE_DIR / "db.sqlite3"))
# An empty DATABASE_URL (e.g. `DATABASE_URL= ./dev run`) means "not set": SQLite.
DATABASES = {"default": env.db_url_config(env.str("DATABASE_URL", default="") or f"sqlite:///{SQLITE_PATH}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
IS_POSTGRES = DATABASES["default"]["ENGINE"].endswith("postgresql")

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out (username, client address) pair before any password check.
    "jlf.security.AxesBackend",
    "django.contrib.auth.backends.ModelBackend",
    "sesame.backends.ModelBackend",
]
LOGIN_URL = "/admin/login/"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
USE_I18N = True
USE_TZ = True
# Dates and times as shown by the admin name their zone ("3 Dec 2026 14:05:09 UTC"): jlf/formats/.
FORMAT_MODULE_PATH = ["jlf.formats"]

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Email ---------------------------------------------------------------------------------
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="JLF Registrations <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
# Product email (co-host links, digests) goes through the notifications app's sender, which logs
# every message and uses Resend with idempotency keys when RESEND_API_KEY is set.
PRODUCT_EMAIL_SENDER = "notifications.email.send_email"

# --- Task queue (django-q2) ----------------------------------------------------------------
# ORM broker on the same database: the inbox row and its queued task commit in one
# transaction. retry (ack wait) must exceed timeout, or a slow task runs twice; max_attempts
# is bounded (the default, 0, retries a failing task forever with no backoff).
Q_CLUSTER = {
    "name": "jlf",
    "orm": "default",
    "workers": env.int("Q_WORKERS", default=2),
    "timeout": env.int("Q_TIMEOUT", default=60),
    "retry": env.int("Q_RETRY", default=90),
    "max_attempts": env.int("Q_MAX_ATTEMPTS", default=5),
    "catch_up": False,
    "save_limit": 500,
    "poll": env.float("Q_POLL", default=0.2),
    "queue_limit": 50,
    "label": "Task queue",
    "sync": env.bool("Q_SYNC", default=False),
}

# --- Reminders (notifications/) ------------------------------------------------------------
# A bank debit still "awaiting funds" this many days after the checkout holds the payment
# reminders no longer silently: the reminder scan opens a "Bank payment not cleared" review item
# for an operator to decide (registrations/clearing.py). 0 turns the check off.
PAYMENT_CLEARING_REVIEW_DAYS = env.int("PAYMENT_CLEARING_REVIEW_DAYS", default=14)

# --- Reconciliation (integrations/reconcile.py) --------------------------------------------
# Daily run at this time ("HH:MM", in TIME_ZONE), created by `manage.py setup_schedules`.
RECONCILE_AT = env.str("RECONCILE_AT", default="03:15")
# Default window of `manage.py reconcile` and of the daily run: Stripe sessions/refunds created
# in it; a few days so one or two failed nightly runs are covered by the next.
RECONCILE_SINCE = env.str("RECONCILE_SINCE", default="3d")
# Acuity lists by appointment date, not booking date: every run checks all appointments from
# (now - since) to this many days ahead, which is where a missed booking or cancellation lives.
RECONCILE_ACUITY_HORIZON_DAYS = env.int("RECONCILE_ACUITY_HORIZON_DAYS", default=400)
# `manage.py backfill`: earliest appointment date asked of Acuity (sparse ranges cost one call).
RECONCILE_BACKFILL_EARLIEST = env.str("RECONCILE_BACKFILL_EARLIEST", default="2006-01-01")
# Worker timeout of the scheduled run (seconds); it is far longer than Q_CLUSTER["timeout"].
RECONCILE_TASK_TIMEOUT = env.int("RECONCILE_TASK_TIMEOUT", default=60 * 60)
# Processes that apply a reconciliation's records (``manage.py reconcile``/``backfill``): the
# apply is Python work, one core per process. 1 applies in the command's own process. The daily
# run inside the worker always applies in its own process (django-q2's workers cannot fork).
RECONCILE_APPLY_PROCESSES = env.int("RECONCILE_APPLY_PROCESSES", default=min(os.cpu_count() or 1, 4))

# --- Magic links (django-sesame) -----------------------------------------------------------
SESAME_MAX_AGE = env.int("SESAME_MAX_AGE", default=15 * 60)
SESAME_TOKEN_NAME = "t"
# A link sent to a co-host's old address stops working when an operator changes the address.
SESAME_INVALIDATE_ON_EMAIL_CHANGE = True

# --- Co-host portal (registrations/cohost) -------------------------------------------------
# A co-host session ends after this many seconds without a request (8 h: a working day).
COHOST_IDLE_TIMEOUT = env.int("COHOST_IDLE_TIMEOUT", default=8 * 60 * 60)
# ... and this many seconds after signing in, however active (7 days): a session cookie left on
# a shared computer or copied from one stops working; the co-host asks for a new link.
COHOST_SESSION_MAX_AGE = env.int("COHOST_SESSION_MAX_AGE", default=7 * 24 * 60 * 60)
# How long an emailed sign-in link works (passed to sesame as max_age).
COHOST_LINK_MAX_AGE = env.int("COHOST_LINK_MAX_AGE", default=15 * 60)
# "Email me a link" requests per hour, per client IP and per (hashed) address.
COHOST_LOGIN_PER_IP_PER_HOUR = env.int("COHOST_LOGIN_PER_IP_PER_HOUR", default=20)
COHOST_LOGIN_PER_EMAIL_PER_HOUR = env.int("COHOST_LOGIN_PER_EMAIL_PER_HOUR", default=5)
# The "link sent" answer takes at least this long, whether or not a mail was sent, so response
# time does not tell which addresses belong to co-hosts.
COHOST_LOGIN_MIN_SECONDS = env.float("COHOST_LOGIN_MIN_SECONDS", default=0.3)
# Reverse proxies in front of the app that append to X-Forwarded-For (0 = use REMOTE_ADDR).
# Too high lets a client pick its own rate-limit key; too low puts everyone in one bucket.
TRUSTED_PROXY_COUNT = env.int("TRUSTED_PROXY_COUNT", default=0)

# A per-hour rate limit is a bucket of that many requests: 0 or less cannot be one. Neither "no
# limit" (anyone could walk /r/booked/'s sequential ids) nor "refuse everyone" (no co-host could
# sign in) is a safe guess, so refuse to start, in every environment, and say what to set.
_bad_limits = [
    f"{key}={value}"
    for key, value in (
        ("HANDOFF_BOOKED_PER_IP_PER_HOUR", HANDOFF_BOOKED_PER_IP_PER_HOUR),
        ("COHOST_LOGIN_PER_IP_PER_HOUR", COHOST_LOGIN_PER_IP_PER_HOUR),
        ("COHOST_LOGIN_PER_EMAIL_PER_HOUR", COHOST_LOGIN_PER_EMAIL_PER_HOUR),
    )
    if value < 1
]
if _bad_limits:
    raise ImproperlyConfigured(
        "These per-hour rate limits must be at least 1 (requests an hour; there is no 'no limit' "
        "value): " + ", ".join(_bad_limits) + ". Set a number of requests an hour, or remove the "
        "setting to use its default."
    )

# --- Logging -------------------------------------------------------------------------------
# One JSON object per line on stderr (jlf/logs.py), each tagged with the request id
# (jlf/middleware.py; carried into django-q2 tasks by jlf/tasks.py). LOG_FORMAT=plain for
# a human-readable console while developing.
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOG_FORMAT = env.str("LOG_FORMAT", default="json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "jlf.logs.RequestIdFilter"}},
    "formatters": {
        "json": {"()": "jlf.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if LOG_FORMAT == "plain" else "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # Django's default handlers (console when DEBUG, mail_admins) would print a second,
        # non-JSON copy: everything goes through the root handler instead.
        "django": {"handlers": [], "level": LOG_LEVEL, "propagate": True},
        "django.db.backends": {"level": "WARNING"},
        # 4xx responses are already in the jlf.request line; keep django.request for 5xx
        # (with the traceback).
        "django.request": {"level": "ERROR"},
        # runserver's own access line duplicates jlf.request.
        "django.server": {"handlers": [], "level": "WARNING", "propagate": True},
        # django-axes announces its version at every start (every manage.py command).
        "axes.apps": {"level": "WARNING"},
    },
}

# --- Security (production) -----------------------------------------------------------------
if PRODUCTION:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    # /healthz is answered before SecurityMiddleware (jlf.health.HealthCheckMiddleware); this
    # keeps it reachable over plain HTTP should that middleware ever be removed.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SESSION_COOKIE_HTTPONLY = True
# Pages pass the CSRF token from the {{ csrf_token }} template variable (django-htmx's
# hx-headers pattern), never from JavaScript reading the cookie, so the cookie can be HttpOnly.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
SECURE_CONTENT_TYPE_NOSNIFF = True

# Content Security Policy (django-csp 4.0), in every environment so a violation shows up in
# development before it reaches production. Nothing inline: no <script>…</script>, no
# <style>, no style="…", no on*="…" handlers; ship JS and CSS as static files.
# FOR THE OPS PAGES (htmx 2): htmx injects an inline <style> for request indicators and can
# eval hx-trigger filter expressions. Every page that loads htmx must carry, in <head>:
#   <meta name="htmx-config" content='{"includeIndicatorStyles":false,"allowEval":false}'>
# and ship the .htmx-indicator CSS in a static stylesheet. Without the meta tag the browser
# blocks htmx's style (a CSP console error) and indicators never hide.
# (not named CSP_*: django-csp 4 rejects settings named like its old 3.x ones)
CONTENT_SECURITY_POLICY_REPORT_URI = env.str("CSP_REPORT_URI", default="")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
        **({"report-uri": [CONTENT_SECURITY_POLICY_REPORT_URI]} if CONTENT_SECURITY_POLICY_REPORT_URI else {}),
    },
}

# Admin password logins (django-axes; policy and reasons in jlf/security.py): the 5th failed
# attempt for one username from one client address locks that pair out with a 429 page; it
# may try again AXES_COOLOFF_MINUTES after its last attempt (an attempt while locked restarts
# the wait). Configured secrets and request bodies never reach Sentry (jlf/sentry.py).
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=15))
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "jlf.security.client_ip"
AXES_LOCKOUT_CALLABLE = "jlf.security.lockout_response"

# Error reporting: optional, only when SENTRY_DSN is set. No personal data, no request bodies,
# configured secrets filtered out of every event (jlf/sentry.py).
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN and not TESTING:
    from jlf.sentry import init_sentry

    init_sentry(
        SENTRY_DSN,
        environment=JLF_ENV,
        release=env.str("SENTRY_RELEASE", default="") or env.str("RAILWAY_GIT_COMMIT_SHA", default=""),
        traces_sample_rate=env.float("SENTRY_TRACES_SAMPLE_RATE", default=0.0),
    )
