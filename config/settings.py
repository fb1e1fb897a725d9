"""Settings for the testimony intake service, read from the environment (see README, "Configuration").

With no environment at all this runs on one laptop: SQLite and a file-system message broker under
``var/``, keys generated there by ``manage.py initkeys``. ``DATABASE_URL`` and ``REDIS_URL`` switch to
PostgreSQL and Redis.
"""

from pathlib import Path
from typing import Any

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext_lazy as _
from dotenv import load_dotenv
from kombu import Queue

from config.env import env_bool, env_int, env_list, env_onion, env_secret, env_str, env_url

BASE_DIR = Path(__file__).resolve().parent.parent
# An optional .env file at the project root (NAME=value lines), so that `make run` and every manage.py
# command find the same data without the environment being repeated. What the environment already
# holds wins. INTAKE_ENV_FILE names another file; empty, none is read (the tests set it so).
if _env_file := env_str("INTAKE_ENV_FILE", str(BASE_DIR / ".env")):
    load_dotenv(_env_file, override=False)
DATA_DIR = Path(env_str("INTAKE_DATA_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DJANGO_DEBUG", False)
SECRET_KEY = env_secret("SECRET_KEY", DATA_DIR / "keys" / "secret_key")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1"])
# When set, the staff pages and the admin answer only on these host names, and the witness pages
# only on the others (intake.middleware.staff_hosts). They are allowed hosts by being named here.
STAFF_HOSTS = env_list("STAFF_HOSTS", [])
ALLOWED_HOSTS += [host for host in STAFF_HOSTS if host not in ALLOWED_HOSTS]
# The witness side's onion address (the onion service's ``hostname``), shown on the safety page; the
# form tells a witness who uses it so. An allowed host by being named here.
INTAKE_ONION_ADDRESS = env_onion("INTAKE_ONION_ADDRESS")
if INTAKE_ONION_ADDRESS:
    if INTAKE_ONION_ADDRESS in STAFF_HOSTS:
        raise ImproperlyConfigured("INTAKE_ONION_ADDRESS is the witnesses' address: it cannot be in STAFF_HOSTS too")
    if INTAKE_ONION_ADDRESS not in ALLOWED_HOSTS:
        ALLOWED_HOSTS.append(INTAKE_ONION_ADDRESS)
# Where "Leave quickly" goes: a common, harmless page (docs/deployment.md, "Leave quickly").
INTAKE_QUICK_EXIT_URL = env_url("INTAKE_QUICK_EXIT_URL", "https://weather.com/")

INSTALLED_APPS = [
    "intake",
    # The admin site whose login is the staff login, and which needs a verified session (intake.review.door).
    "intake.apps.StaffAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_otp",
    "django_otp_webauthn",
]

MIDDLEWARE = [
    # Outermost, so that it runs however the request ends.
    "intake.middleware.discard_unclaimed_uploads",
    # Next, so that nothing after it ever sees who the client is.
    "intake.middleware.forget_client",
    # Next the headers, so that every answer has them: static files, the 400 page, the busy pages.
    "intake.middleware.security_headers",
    "csp.middleware.CSPMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    # Before the session: a page not found on this host name touches nothing else.
    "intake.middleware.staff_hosts",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    # Before anything reads a body; after the language, so that its pages speak the witness's.
    "intake.body_guard.guard_request_body",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Idle, too old, or of an account that can no longer log in: ended before anything uses it.
    "intake.sessions.staff_session_limits",
    "django_otp.middleware.OTPMiddleware",
    "intake.middleware.audit_refusals",
    # Every staff page, the admin included, needs both factors.
    "intake.review.door.staff_door",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "intake.witness.safety.context",
            ],
        },
    },
]

# --- Data ---------------------------------------------------------------------------------------

DATABASES = {
    "default": dj_database_url.parse(env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"), conn_max_age=60)
}
# A persistent connection left stale by a database restart is replaced, not used for a failed request.
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not memory, so that a worker process in the tests sees the same test database.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / "test-db.sqlite3")}
    # Every transaction takes the write lock when it begins, so that concurrent writers wait their turn
    # (up to the timeout) instead of failing with "database is locked" when a reader turns writer.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Encrypted blobs (uploads and cleaned images). Never served as media: only through staff views.
INTAKE_BLOB_DIR = Path(env_str("INTAKE_BLOB_DIR", str(DATA_DIR / "blobs")))

# Keysets for fields and files plus the receipt pepper, one JSON document (``manage.py initkeys``).
INTAKE_KEYS = env_secret("INTAKE_KEYS", DATA_DIR / "keys" / "intake-keys.json")

# scrypt cost for receipt digests: 2**15 takes about 0.1 s. Tests lower it.
INTAKE_RECEIPT_SCRYPT_N = env_int("INTAKE_RECEIPT_SCRYPT_N", 2**15, minimum=2)

# --- Witness limits (stated on the submission page) ------------------------------------------

INTAKE_MAX_IMAGES = 10
INTAKE_MAX_IMAGE_BYTES = env_int("INTAKE_MAX_IMAGE_MB", 20, minimum=1) * 1024 * 1024
# A video is cleaned without re-encoding; its size and length are checked from its headers by the worker.
INTAKE_MAX_VIDEO_BYTES = env_int("INTAKE_MAX_VIDEO_MB", 500, minimum=1) * 1024 * 1024
INTAKE_MAX_VIDEO_SECONDS = env_int("INTAKE_MAX_VIDEO_MINUTES", 30, minimum=1) * 60
# All files of one form together: room for one video of the largest size and a few photos.
INTAKE_MAX_TOTAL_BYTES = (
    env_int("INTAKE_MAX_TOTAL_MB", INTAKE_MAX_VIDEO_BYTES // (1024 * 1024) + 100, minimum=1) * 1024 * 1024
)
INTAKE_MAX_ACCOUNT_CHARS = env_int("INTAKE_MAX_ACCOUNT_CHARS", 50_000, minimum=1000)
# A testimony's photos in all, the first ones and those added with later answers; and its answers.
INTAKE_MAX_IMAGES_PER_SUBMISSION = env_int("INTAKE_MAX_IMAGES_PER_SUBMISSION", 60, minimum=INTAKE_MAX_IMAGES)
INTAKE_MAX_REPLIES = 100
INTAKE_MAX_REPLY_CHARS = 10_000

# Uploads are encrypted while they are received; Django's own handlers would spool to a plaintext file.
FILE_UPLOAD_HANDLERS = ["intake.uploads.EncryptingUploadHandler"]
DATA_UPLOAD_MAX_MEMORY_SIZE = 16 * INTAKE_MAX_ACCOUNT_CHARS + 64 * 1024
# Far above INTAKE_MAX_IMAGES, so that the form can say what the limit is; files past it are not stored.
DATA_UPLOAD_MAX_NUMBER_FILES = 100

# --- Floods from the witness side (intake.body_guard, intake.floods) --------------------------

# The text part of a form with its part headers: all that is read of a testimony too large, to give it back.
INTAKE_MAX_FIELDS_BYTES = DATA_UPLOAD_MAX_MEMORY_SIZE + 64 * 1024
# The largest body read at all: the photos, the text, and a part header for every file a form may name.
# A body declared larger is answered with 413 before any of it is read.
INTAKE_MAX_REQUEST_BYTES = INTAKE_MAX_TOTAL_BYTES + INTAKE_MAX_FIELDS_BYTES + 1024 * DATA_UPLOAD_MAX_NUMBER_FILES
# A body must keep coming at this rate, over each window of this many seconds spent waiting for it. Tor
# on a bad link brings 10-50 KB/s; 20 uploads trickling at 1 KB/s once held every thread.
INTAKE_MIN_UPLOAD_BYTES_PER_SECOND = env_int("INTAKE_MIN_UPLOAD_BYTES_PER_SECOND", 2048, minimum=1)
INTAKE_UPLOAD_RATE_WINDOW_SECONDS = env_int("INTAKE_UPLOAD_RATE_WINDOW_SECONDS", 30, minimum=1)
# Bodies read at once by one web process; the rest are told "busy" unread. A little under gunicorn's
# threads, so that pages still answer while every upload slot is taken.
INTAKE_MAX_CONCURRENT_UPLOADS = env_int(
    "INTAKE_MAX_CONCURRENT_UPLOADS", max(1, env_int("GUNICORN_THREADS", 8, minimum=1) - 2), minimum=1
)
# Receipt look-ups (scrypt, 32 MB each) at once per web process, and per minute for the whole service.
INTAKE_STATUS_CONCURRENCY = env_int("INTAKE_STATUS_CONCURRENCY", 2, minimum=1)
INTAKE_STATUS_PER_MINUTE = env_int("INTAKE_STATUS_PER_MINUTE", 60, minimum=1)
# Testimonies stored per hour for the whole service, and the free space the blob folder's disk must
# keep; past either the witness is asked to come back later, with what they wrote given back.
INTAKE_SUBMISSIONS_PER_HOUR = env_int("INTAKE_SUBMISSIONS_PER_HOUR", 200, minimum=1)
INTAKE_MIN_FREE_DISK_MB = env_int("INTAKE_MIN_FREE_DISK_MB", 1024, minimum=0)

# Counters shared by the processes of one machine: global rates and budgets (intake.throttle). Redis
# when there is one; otherwise files under var/, which every process on a laptop sees.
if env_str("REDIS_URL"):
    CACHES: dict[str, dict[str, Any]] = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env_str("REDIS_URL")}
    }
    # A frozen Redis must not hold a witness's request: a counter given up is worth less than the answer.
    CACHES["default"]["OPTIONS"] = {"socket_timeout": 1, "socket_connect_timeout": 1}
else:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.filebased.FileBasedCache",
            "LOCATION": str(DATA_DIR / "cache"),
        }
    }

# --- Background work -------------------------------------------------------------------------

# Kombu's transports, wrapped so that a message that cannot be read is dropped, not fatal (intake.broker).
REDIS_URL = env_str("REDIS_URL")
if REDIS_URL:
    CELERY_BROKER_URL = REDIS_URL
    CELERY_BROKER_TRANSPORT = "intake.broker:RedisTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS: dict = {
        "visibility_timeout": 3600,
        # A Redis that accepts connections but does not answer (frozen, or a network that drops packets)
        # fails a command within seconds instead of holding it forever.
        "socket_timeout": env_int("INTAKE_REDIS_TIMEOUT", 5, minimum=2),
        "socket_connect_timeout": env_int("INTAKE_REDIS_TIMEOUT", 5, minimum=2),
    }
else:
    # A broker that needs no server: messages are files under var/broker (they carry only ids).
    _broker_dir = Path(env_str("INTAKE_BROKER_DIR", str(DATA_DIR / "broker")))
    CELERY_BROKER_URL = "filesystem://localhost//"  # with a host name, kombu does not warn of its absence
    CELERY_BROKER_TRANSPORT = "intake.broker:FilesystemTransport"
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir),
        "data_folder_out": str(_broker_dir),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
# Two queues, which every worker takes from in turn: cleaning, and what follows it (a photo's preview and
# description, a video's viewing copy). After an upgrade or an outage, thousands of descriptions may be
# due at once: new uploads are cleaned between them, not after them.
CELERY_TASK_DEFAULT_QUEUE = "celery"
AFTER_CLEANING_QUEUE = "after_cleaning"
CELERY_TASK_QUEUES = (Queue(CELERY_TASK_DEFAULT_QUEUE), Queue(AFTER_CLEANING_QUEUE))
CELERY_TASK_ROUTES = {
    "intake.tasks.describe_image": {"queue": AFTER_CLEANING_QUEUE},
    "intake.tasks.make_viewing_copy": {"queue": AFTER_CLEANING_QUEUE},
}
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_WORKER_MAX_TASKS_PER_CHILD = 50
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_TIME_LIMIT = env_int("INTAKE_CLEAN_TIME_LIMIT", 120, minimum=5)
CELERY_TASK_SOFT_TIME_LIMIT = CELERY_TASK_TIME_LIMIT - 3
# Making a copy browsers can play of a video they cannot (HEVC) re-encodes it: up to about its own length.
INTAKE_VIEWING_COPY_TIME_LIMIT = env_int("INTAKE_VIEWING_COPY_TIME_LIMIT", 3600, minimum=60)
# Previews of photos for reviewers' pages (intake.likeness): this many pixels on the long side, made only
# of pictures up to the viewing bound; a picture beyond it is never shown inline, only downloaded.
INTAKE_PREVIEW_PIXELS = env_int("INTAKE_PREVIEW_PIXELS", 1600, minimum=256)
INTAKE_PREVIEW_MAX_PIXELS = env_int("INTAKE_PREVIEW_MAX_MEGAPIXELS", 50, minimum=1) * 1_000_000
CELERY_BEAT_SCHEDULE_FILENAME = str(DATA_DIR / "celerybeat-schedule")
# Each worker child may use this much address space; a hostile image then fails, not the machine.
INTAKE_WORKER_MEMORY_MB = env_int("INTAKE_WORKER_MEMORY_MB", 2048, minimum=256)
# The worker's quick sweep (intake.tasks.watch_for_waiting_images): an image that waits with no message
# (the broker was away, a message was lost) is enqueued within two of these.
INTAKE_QUICK_SWEEP_SECONDS = env_int("INTAKE_QUICK_SWEEP_SECONDS", 15, minimum=1)

# --- Identity and sessions -------------------------------------------------------------------

PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "review:login"
LOGIN_REDIRECT_URL = "review:queue"
LOGOUT_REDIRECT_URL = "review:login"
SESSION_COOKIE_AGE = 8 * 60 * 60
# Sessions live in the database with their account, so that they can be ended on the server.
SESSION_ENGINE = "intake.sessions"
SESSION_EXPIRE_AT_BROWSER_CLOSE = True
# A staff session also ends after this long without a request (intake.sessions), on the server.
INTAKE_STAFF_IDLE_MINUTES = env_int("INTAKE_STAFF_IDLE_MINUTES", 30, minimum=1)

# Failed logins (intake.throttle): per typed name, a slowdown and then a lock; for the whole service,
# a budget per hour past which every login is refused until the hour ends. No client address is used.
AUTHENTICATION_BACKENDS = ["intake.throttle.ThrottledModelBackend"]
INTAKE_LOGIN_SLOW_AFTER = env_int("INTAKE_LOGIN_SLOW_AFTER", 3, minimum=1)
INTAKE_LOGIN_LOCK_AFTER = env_int("INTAKE_LOGIN_LOCK_AFTER", 10, minimum=1)
INTAKE_LOGIN_LOCK_MINUTES = env_int("INTAKE_LOGIN_LOCK_MINUTES", 15, minimum=1)
INTAKE_LOGIN_FAILURE_BUDGET = env_int("INTAKE_LOGIN_FAILURE_BUDGET", 100, minimum=1)

# Passkeys and security keys (django-otp-webauthn): a second factor only, never a login by themselves.
OTP_WEBAUTHN_ALLOW_PASSWORDLESS_LOGIN = False
OTP_WEBAUTHN_RP_NAME = "Testimony intake"
# By default the relying party is the host name the staff pages are served on, and a signature must
# come from that host's own origin; these two override that (intake.review.passkeys). A passkey works
# only on the host name it was registered on.
OTP_WEBAUTHN_RP_ID = env_str("INTAKE_WEBAUTHN_RP_ID", "")
OTP_WEBAUTHN_ALLOWED_ORIGINS = env_list("INTAKE_WEBAUTHN_ORIGINS", [])
OTP_WEBAUTHN_RP_ID_CALLABLE = "intake.review.passkeys.relying_party_id"
OTP_WEBAUTHN_HELPER_CLASS = "intake.review.passkeys.Helper"
# The name an authenticator app shows beside the account name.
INTAKE_TOTP_ISSUER = "Testimony intake"
# New members and those whose factors were reset get a one-time setup link, valid this long.
INTAKE_SETUP_LINK_HOURS = env_int("INTAKE_SETUP_LINK_HOURS", 24, minimum=1)
# Where staff reach the service: the start of the setup links that manage.py commands print.
INTAKE_STAFF_URL = env_str("INTAKE_STAFF_URL", "http://127.0.0.1:8000").rstrip("/")

# --- Transport and browser security ----------------------------------------------------------

# Secure cookies also work on http://localhost in current browsers, so they are never turned off.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
LANGUAGE_COOKIE_SECURE = True
# The CSRF cookie lives only as long as the browser session: a year-long cookie on a witness's device
# would be evidence of a visit.
CSRF_COOKIE_AGE = None
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Strict"
CSRF_COOKIE_SAMESITE = "Strict"
LANGUAGE_COOKIE_SAMESITE = "Strict"
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
# The testimony form refused by it comes back with its text (Back would bring back nothing).
CSRF_FAILURE_VIEW = "intake.witness.views.csrf_failure"
# Off by default so that the service runs on a laptop and as a Tor onion service (plain HTTP).
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if env_bool("INTAKE_BEHIND_TLS_PROXY", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
# Our own pages send their address to our own forms only, and nothing to any other site. Browsers then
# send our real Origin with our forms, which Django's CSRF check needs (under no-referrer it is "null").
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
# No WebAuthn origins configured means the staff host's own (intake.review.passkeys), not none.
SILENCED_SYSTEM_CHECKS = ["otp_webauthn.E030"]

CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        # Our own files only, never inline: "Leave quickly" and the photo check on the witness side
        # (intake/static/intake/), the passkey buttons on the staff side.
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'none'"],
    }
}

# --- Languages -------------------------------------------------------------------------------

LANGUAGE_CODE = "en"
LANGUAGES = [("en", _("English")), ("ar", _("Arabic"))]
LOCALE_PATHS = [BASE_DIR / "intake" / "locale"]
USE_I18N = True
TIME_ZONE = "UTC"
USE_TZ = True

# --- Static files ----------------------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# A style sheet is for our own pages: no "Access-Control-Allow-Origin: *".
WHITENOISE_ALLOW_ALL_ORIGINS = False
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# --- Logging: never a client address, user agent or request line of a witness -----------------

ADMINS: list = []
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        # Refused requests (4xx, busy, CSRF failures, unknown hosts) are counted per day, not written: a
        # line with a time would date a witness's visit (intake.counters, manage.py counters).
        "count_refusals": {"class": "intake.counters.CountRefusals", "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {
        # The development server's access log: request lines with times.
        "django.server": {"handlers": [], "propagate": False},
        "django.request": {"handlers": ["count_refusals"], "level": "WARNING", "propagate": False},
        "django.security": {"handlers": ["count_refusals"], "level": "WARNING", "propagate": False},
    },
}

CELERY_BEAT_SCHEDULE = {"requeue-pending": {"task": "intake.tasks.requeue_pending", "schedule": 300.0}}
