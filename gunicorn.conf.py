"""gunicorn settings for the web process (Procfile, Dockerfile), all overridable from the env.

No access log: the app writes one JSON line per request itself (jlf.request, with request id,
user, duration and the path without its query string). gunicorn's access log would duplicate
every line, in another format, with the query string, which carries sign-in tokens.
gunicorn's own messages (boot, worker timeouts) are JSON lines too.
"""

import os

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
# Sync workers: each request holds one worker; ~2-4 per CPU. Railway sets no WEB_CONCURRENCY.
workers = int(os.environ.get("WEB_CONCURRENCY", "3"))
# A request taking longer than this is killed (pages and webhooks answer in well under 1 s;
# slow work runs in the worker). The 5-minute edge limit is far above it.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On deploy/stop: let in-flight requests finish; below the platform's stop grace period.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "25"))
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "5"))
# Recycle workers now and then so a slow leak can never grow without bound.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "1000"))
max_requests_jitter = int(os.environ.get("GUNICORN_MAX_REQUESTS_JITTER", "100"))
# The worker heartbeat file on a RAM disk (a disk-backed /tmp can block workers).
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None
# Not needed on a PaaS, and it would write a socket into $HOME.
control_socket_disable = True

accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "jlf.logs.JsonFormatter"}},
    "handlers": {
        "error_console": {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    },
    "root": {"level": "INFO", "handlers": []},  # the app configures its own (settings.LOGGING)
    "loggers": {
        "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"], "propagate": False},
        "gunicorn.access": {"level": "INFO", "handlers": [], "propagate": False},
    },
}
