"""Settings come from the environment (12-factor).

DEBUG=1 enables development defaults (a local secret key, the console e-mail backend).
Without DEBUG every secret must be provided by the environment.
"""

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

ALLOWED_HOSTS = [h for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost,testserver").split(",") if h]
# Absolute base URL used in links sent to residents and in provider callbacks.
SITE_URL = os.environ.get("MADOGUCHI_SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "django.contrib.admin",
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
    "django.middleware.security.SecurityMiddleware",
    "madoguchi.web.middleware.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
STATIC_ROOT = BASE_DIR / "staticfiles"

# Sessions and cookies: secure by default, relaxed only for local development over http.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_AGE = 60 * 60 * 8
SESSION_COOKIE_SECURE = not (DEBUG or TESTING)
CSRF_COOKIE_SECURE = not (DEBUG or TESTING)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
DATA_UPLOAD_MAX_MEMORY_SIZE = 256 * 1024

TASKS = {
    "default": {
        "BACKEND": os.environ.get("MADOGUCHI_TASK_BACKEND", "django_tasks_db.DatabaseBackend"),
    }
}

EMAIL_BACKEND = os.environ.get(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend" if DEBUG else "django.core.mail.backends.smtp.EmailBackend",
)
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

# The PDF font. IPAmj明朝 covers the administrative character set of 住民記録 and 戸籍.
CERTIFICATE_FONT = os.environ.get("MADOGUCHI_CERTIFICATE_FONT", "/usr/share/fonts/truetype/ipamj/ipamjm.ttf")
# Encrypts the municipalities' document-signing keys at rest (docs/documents.md). Required in production.
DOCUMENT_SIGNING_SECRET = os.environ.get("MADOGUCHI_DOCUMENT_SIGNING_SECRET", "") or (
    "document-signing:" + SECRET_KEY if (DEBUG or TESTING) else ""
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "WARNING")},
}
