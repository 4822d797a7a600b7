# JLF Registrations: one image for every process type.
#   web (default CMD):  gunicorn jlf.wsgi --config gunicorn.conf.py
#   worker:             python manage.py qcluster
#   release:            python manage.py migrate --noinput && python manage.py setup_schedules && python manage.py redact_purged_audit
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=jlf.settings \
    JLF_ENV=production \
    PORT=8000

WORKDIR /app

# A fixed numeric id, so Kubernetes-style "runAsNonRoot" checks can verify it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

# Dependencies first, so a code change does not reinstall them (psycopg[binary] needs no
# system libraries).
COPY requirements.txt .
RUN pip install --no-cache-dir -r requirements.txt

COPY . .

# Static files (hashed names + compressed copies, served by whitenoise) are built into the
# image. Production settings need these five values to load; none of them is used here and
# the real ones come from the environment at run time.
RUN SECRET_KEY=collectstatic-build-only-not-a-secret \
    DATABASE_URL=sqlite:////tmp/collectstatic.sqlite3 \
    ALLOWED_HOSTS=localhost \
    EMAIL_BACKEND=django.core.mail.backends.dummy.EmailBackend \
    PUBLIC_BASE_URL=https://build.invalid \
    python manage.py collectstatic --noinput \
    && rm -f /tmp/collectstatic.sqlite3

USER 10001:10001

EXPOSE 8000

# For the web process only (a worker container should run with --no-healthcheck or override
# it). Railway ignores this and calls the healthcheck path set on the service instead.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', timeout=4)"]

CMD ["gunicorn", "jlf.wsgi", "--config", "gunicorn.conf.py"]
