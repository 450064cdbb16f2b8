"""Settings come from the environment (12-factor).

DEBUG=1 enables development defaults (a local secret key, the console e-mail backend).
Without DEBUG every secret must be provided by the environment.
"""

import datetime
import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, "1" if default else "0").lower() in {"1", "true", "yes", "on"}


DEBUG = env_bool("DEBUG")
TESTING = env_bool("MADOGUCHI_TESTING")

SECRET_KEY = os.environ.get("MADOGUCHI_SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        raise ImproperlyConfigured("MADOGUCHI_SECRET_KEY must be set when DEBUG is off.")
    SECRET_KEY = "development-only-secret-key-never-use-in-production-0123456789"

# Reverse proxies / load balancers whose X-Forwarded-For and X-Forwarded-Proto are believed
# (networks, comma-separated). Everyone else's forwarded headers are dropped (core/middleware.py).
TRUSTED_PROXIES = os.environ.get("MADOGUCHI_TRUSTED_PROXIES", "")

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
# Absolute base URL used in links sent to residents and in provider callbacks.
SITE_URL = os.environ.get("MADOGUCHI_SITE_URL", "http://127.0.0.1:8000")

# Django admin, for the service operator only: not mounted unless MADOGUCHI_ADMIN=1 (backoffice/admin_site.py).
ADMIN_ENABLED = env_bool("MADOGUCHI_ADMIN")

INSTALLED_APPS = [
    "madoguchi.backoffice.admin_config.OperatorAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_tasks",
    "django_tasks_db",
    "madoguchi.core",
    "madoguchi.tenancy",
    "madoguchi.registry",
    "madoguchi.catalog",
    "madoguchi.identity",
    "madoguchi.identity.contrib.sandbox",
    "madoguchi.identity.contrib.digital_auth_app",
    "madoguchi.applications",
    "madoguchi.payments",
    "madoguchi.payments.contrib.sandbox",
    "madoguchi.documents",
    "madoguchi.notifications",
    "madoguchi.line",
    "madoguchi.operations",
    "madoguchi.web",
    "madoguchi.backoffice",
]
# The demo (seed_demo, the synthetic replica) is not part of a production deployment.
DEMO_ENABLED = env_bool("MADOGUCHI_DEMO", DEBUG or TESTING)
if DEMO_ENABLED:
    INSTALLED_APPS.append("madoguchi.demo")

MIDDLEWARE = [
    "madoguchi.core.middleware.TrustedProxyMiddleware",
    "madoguchi.core.logs.RequestIdMiddleware",
    "madoguchi.operations.metrics.RequestMetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "madoguchi.web.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "madoguchi.core.middleware.UnsafeInputMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "madoguchi.backoffice.middleware.SuspendedReadOnlyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not (DEBUG or TESTING):
    # Production serves the collected static files from the web process (gunicorn has no static
    # handler); in development runserver's staticfiles handler does.
    MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1,
                      "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "madoguchi.urls"
WSGI_APPLICATION = "madoguchi.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "madoguchi" / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.parse(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "0")),
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # WAL and a busy timeout let the web process and the task worker share the file.
    DATABASES["default"]["OPTIONS"] = {
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "tenancy.Staff"
LOGIN_URL = "backoffice:login"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
]

LANGUAGE_CODE = "ja"
LANGUAGES = [("ja", "日本語")]
LOCALE_PATHS = [BASE_DIR / "madoguchi" / "locale"]
TIME_ZONE = "Asia/Tokyo"
USE_I18N = True
USE_TZ = True

# A form left open too long (or cookies off): a Japanese page that says what to do, not Django's.
CSRF_FAILURE_VIEW = "madoguchi.web.errors.csrf_failure"

STATIC_URL = "/static/"
STATIC_ROOT = Path(os.environ.get("MADOGUCHI_STATIC_ROOT", BASE_DIR / "staticfiles"))
# In production the web process serves the collected static files itself (WhiteNoise: hashed names,
# compressed, cached for a year); `manage.py collectstatic` runs at deployment.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage" if DEBUG or TESTING
                    else "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# Sessions and cookies: secure by default, relaxed only for local development over http.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 8
# Back office: signed out after this long without a page view, and this long after signing in at the
# latest, whatever the activity (a clerk's PC left unlocked at the counter).
# Networks the back office (and the operator admin) may be used from, for the whole service; each
# municipality can narrow it further (Municipality.office_networks). Empty: any network.
BACKOFFICE_NETWORKS = os.environ.get("MADOGUCHI_BACKOFFICE_NETWORKS", "")
BACKOFFICE_IDLE_TIMEOUT = int(os.environ.get("MADOGUCHI_BACKOFFICE_IDLE_TIMEOUT", str(30 * 60)))
BACKOFFICE_SESSION_MAX_AGE = int(os.environ.get("MADOGUCHI_BACKOFFICE_SESSION_MAX_AGE", str(60 * 60 * 9)))
SESSION_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_SECURE = not (DEBUG or TESTING)
# HTTPS only, outside local development and tests: redirect, HSTS (RFC 6797), secure cookies. The
# health probes and metrics stay reachable over plain HTTP for load balancers inside the network.
SECURE_SSL_REDIRECT = env_bool("MADOGUCHI_SSL_REDIRECT", not (DEBUG or TESTING))
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
SECURE_HSTS_SECONDS = int(os.environ.get("MADOGUCHI_HSTS_SECONDS", "0" if DEBUG or TESTING else str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("MADOGUCHI_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("MADOGUCHI_HSTS_PRELOAD", True)
if TRUSTED_PROXIES:
    # The TLS proxy says the original scheme; believed only from TRUSTED_PROXIES (core/middleware.py),
    # so payment return URLs are built as https:// behind it.
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

# Background work in separate queues, so that a burst of one kind never starves another: LINE
# replies, resident notices, refunds and other provider calls, bulk work (reconciliation, CRLs).
# Each queue has its own workers (`manage.py workers`) and a lease: a task RUNNING longer than its
# queue's lease belonged to a worker that died and is run again (operations/queues.py); every task
# is idempotent. The database backend is the default; MADOGUCHI_TASK_BACKEND=rq selects Redis (RQ).
TASK_QUEUES = {"line": 60, "notices": 120, "providers": 300, "bulk": 1800, "default": 300}  # lease, seconds
_TASK_BACKENDS = {"db": "django_tasks_db.DatabaseBackend", "rq": "madoguchi.operations.tasks_backend.RQBackend"}
TASK_BACKEND = os.environ.get("MADOGUCHI_TASK_BACKEND", "db")
TASKS = {
    "default": {
        "BACKEND": _TASK_BACKENDS.get(TASK_BACKEND, TASK_BACKEND),
        "QUEUES": list(TASK_QUEUES),
    }
}
REDIS_URL = os.environ.get("MADOGUCHI_REDIS_URL", "redis://127.0.0.1:6379/0")
# RQ kills a job at its queue's lease and re-queues jobs of dead workers (operations/queues.py).
RQ_QUEUES = {name: {"URL": REDIS_URL, "DEFAULT_TIMEOUT": lease} for name, lease in TASK_QUEUES.items()}
RQ = {"JOB_CLASS": "django_tasks_rq.backend.Job"}  # rqworker runs django-tasks jobs
if TASKS["default"]["BACKEND"] in {_TASK_BACKENDS["rq"], "django_tasks_rq.RQBackend"}:
    INSTALLED_APPS.append("django_rq")

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
if os.environ.get("EMAIL_FILE_PATH"):  # the file-based backend (one file per message), e.g. for the soak
    EMAIL_FILE_PATH = os.environ["EMAIL_FILE_PATH"]
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "madoguchi@example.jp")

# Integrations: which provider each concern uses. Each name is a package under
# madoguchi/<concern>/contrib/. Sandbox providers follow the real protocols.
# The sandbox providers let anyone sign as any demo resident: never on unless asked for.
SANDBOX_ENABLED = env_bool("MADOGUCHI_SANDBOX", DEBUG or TESTING)
IDENTITY_PROVIDER = os.environ.get("MADOGUCHI_IDENTITY_PROVIDER", "sandbox")
# デジタル認証アプリ: the service's base URL (sandbox or production); client ids per municipality in
# the database, each client's private key in MADOGUCHI_DIGITAL_AUTH_APP_KEY_<client id>.
DIGITAL_AUTH_APP_BASE_URL = os.environ.get("MADOGUCHI_DIGITAL_AUTH_APP_BASE_URL", "")
DIGITAL_AUTH_APP_TIMEOUT = float(os.environ.get("MADOGUCHI_DIGITAL_AUTH_APP_TIMEOUT", "10"))
# 差戻し: calendar days the resident has to correct a request sent back; past them it is cancelled and refunded.
CORRECTION_DAYS = int(os.environ.get("MADOGUCHI_CORRECTION_DAYS", "14"))
# The carrier's tracking page the resident is linked to from their request ({number}: the tracking
# number the clerk typed); the default is Japan Post's search by 書留/特定記録 number.
TRACKING_URL = os.environ.get(
    "MADOGUCHI_TRACKING_URL",
    "https://trackings.post.japanpost.jp/services/srv/search/direct?searchKind=S002&locale=ja&reqCodeNo1={number}")
PAYMENT_PROVIDER = os.environ.get("MADOGUCHI_PAYMENT_PROVIDER", "sandbox")
# Shared secret between the sandbox payment gateway and us (HMAC-SHA256 of notifications).
SANDBOX_PAYMENT_SECRET = os.environ.get("MADOGUCHI_SANDBOX_PAYMENT_SECRET", "") or (
    "sandbox-payment:" + SECRET_KEY if (DEBUG or TESTING) else ""
)

# LINE: each municipality's channel secret and access token are its encrypted secrets
# How long a process keeps a per-municipality secret it has read (tenancy.vault): a change made
# elsewhere (`manage.py secrets set|rotate|delete`) reaches running processes within this time.
SECRET_CACHE_SECONDS = int(os.environ.get("MADOGUCHI_SECRET_CACHE_SECONDS", "30"))

# LINE_CHANNEL_SECRET and LINE_ACCESS_TOKEN (tenancy.vault; see docs/line.md).
# With DEBUG the local LINE Platform emulator is mounted under /line-emulator/ and is the default
# API, so the demo works without LINE; production talks to LINE's hosts.
LINE_EMULATOR = DEBUG or TESTING
_LINE_LOCAL = SITE_URL + "/line-emulator"
LINE_API_BASE_URL = os.environ.get("MADOGUCHI_LINE_API_BASE_URL", _LINE_LOCAL if LINE_EMULATOR else "https://api.line.me")
LINE_API_DATA_BASE_URL = os.environ.get("MADOGUCHI_LINE_API_DATA_BASE_URL",
                                        _LINE_LOCAL if LINE_EMULATOR else "https://api-data.line.me")
LINE_LIFF_URL = os.environ.get("MADOGUCHI_LINE_LIFF_URL", _LINE_LOCAL + "/liff" if LINE_EMULATOR else "https://liff.line.me")
LINE_LIFF_SDK_URL = os.environ.get("MADOGUCHI_LINE_LIFF_SDK_URL", "/line-emulator/liff-sdk.js" if LINE_EMULATOR
                                   else "https://static.line-scdn.net/liff/edge/2/sdk.js")
# A webhook body larger than this is refused before it is read.
LINE_WEBHOOK_MAX_BODY = int(os.environ.get("MADOGUCHI_LINE_WEBHOOK_MAX_BODY", str(200 * 1024)))

# Handled webhook events are minimised at once and deleted after this many days (line/tasks.py).
LINE_EVENT_RETENTION = datetime.timedelta(days=int(os.environ.get("MADOGUCHI_LINE_EVENT_RETENTION_DAYS", "30")))

# The PDF font. IPAmj明朝 covers the administrative character set of 住民記録 and 戸籍.
CERTIFICATE_FONT = os.environ.get("MADOGUCHI_CERTIFICATE_FONT", "/usr/share/fonts/truetype/ipamj/ipamjm.ttf")
# Encrypts the municipalities' document-signing keys at rest (docs/documents.md). Required in production.
DOCUMENT_SIGNING_SECRET = os.environ.get("MADOGUCHI_DOCUMENT_SIGNING_SECRET", "") or (
    "document-signing:" + SECRET_KEY if (DEBUG or TESTING) else ""
)
# The document CA (certificate and encrypted key) that certifies the municipalities' signing keys;
# with DEBUG or in tests a sandbox CA is created here on first use (docs/documents.md).
DOCUMENT_CA_DIR = os.environ.get("MADOGUCHI_DOCUMENT_CA_DIR", str(BASE_DIR / "var" / "document-ca"))
# RFC 3161 timestamp authority for PAdES B-T; with DEBUG the sandbox TSA under /sandbox/document-tsa.
DOCUMENT_TSA_URL = os.environ.get("MADOGUCHI_DOCUMENT_TSA_URL", SITE_URL + "/sandbox/document-tsa" if DEBUG else "")
DOCUMENT_TSA_USERNAME = os.environ.get("MADOGUCHI_DOCUMENT_TSA_USERNAME", "")  # HTTP Basic, when the TSA asks
DOCUMENT_TSA_PASSWORD = os.environ.get("MADOGUCHI_DOCUMENT_TSA_PASSWORD", "")
DOCUMENT_TSA_TIMEOUT = float(os.environ.get("MADOGUCHI_DOCUMENT_TSA_TIMEOUT", "10"))
# PEM file with the root certificates the TSA's certificate chains to; empty: the document CA (sandbox).
DOCUMENT_TSA_TRUST_ROOTS = os.environ.get("MADOGUCHI_DOCUMENT_TSA_TRUST_ROOTS", "")

# Audit trail checkpoints (docs/operations.md, "Audit trail"): the chain heads are signed with a key
# derived from this secret and time-stamped by an RFC 3161 TSA, then written to files for the auditor.
AUDIT_SIGNING_SECRET = os.environ.get("MADOGUCHI_AUDIT_SIGNING_SECRET", "") or (
    "audit-signing:" + SECRET_KEY if (DEBUG or TESTING) else ""
)
AUDIT_TSA_URL = os.environ.get("MADOGUCHI_AUDIT_TSA_URL", "") or (
    SITE_URL + "/sandbox/tsa/" if SANDBOX_ENABLED else ""
)
# PEM file of the certificates that anchor the TSA's (the sandbox TSA is trusted in the sandbox only).
AUDIT_TSA_CA_FILE = os.environ.get("MADOGUCHI_AUDIT_TSA_CA_FILE", "")
AUDIT_CHECKPOINT_DIR = os.environ.get("MADOGUCHI_AUDIT_CHECKPOINT_DIR", str(BASE_DIR / "audit-checkpoints"))

# One JSON object per line in production (MADOGUCHI_LOG_FORMAT=json), with the request id; plain text
# with DEBUG. Log lines never carry names, addresses or what a resident typed (core/logs.py).
LOG_FORMAT = os.environ.get("MADOGUCHI_LOG_FORMAT", "text" if DEBUG or TESTING else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "madoguchi.core.logs.JsonFormatter"},
                   "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}

# /metrics (Prometheus): open to a bearer token or to these networks; neither set: not served.
METRICS_TOKEN = os.environ.get("MADOGUCHI_METRICS_TOKEN", "")
METRICS_NETWORKS = os.environ.get("MADOGUCHI_METRICS_NETWORKS", "127.0.0.1/32,::1/128" if DEBUG else "")
# /readyz fails when the oldest task ready to run in a queue has waited longer than this (seconds).
READY_MAX_QUEUE_AGE = {"line": 30, "notices": 300, "providers": 900, "bulk": 3600, "default": 900}
