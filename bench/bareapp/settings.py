"""The baseline for bench/ingest.py: a bare Django project whose one view checks the Stripe
signature and inserts one row — no middleware, no inbox logic, no queue. Same database settings
(PostgreSQL, persistent connections) as the app, so the ratio measures what the app adds."""

import environ

env = environ.Env()

SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
INSTALLED_APPS = ["bench.bareapp"]
MIDDLEWARE = []
ROOT_URLCONF = "bench.bareapp.urls"
WSGI_APPLICATION = "bench.bareapp.wsgi.application"
DATABASES = {"default": env.db("DATABASE_URL")}
DATABASES["default"]["CONN_MAX_AGE"] = 60
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
USE_TZ = True
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRETS", default="whsec_bench").split(",")[0]
LOGGING = {"version": 1, "disable_existing_loggers": False, "root": {"level": "WARNING"}}
