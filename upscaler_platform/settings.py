"""Settings for the whole platform, read from the environment.

With no environment at all this runs on the embedded default: SQLite, images on the local
filesystem and a filesystem Celery broker, all under UPSCALER_DATA_DIR (./var).
"""

from __future__ import annotations

from pathlib import Path

import dj_database_url
from kombu import Queue

from upscaler_platform.env import (
    ConfigError,
    env_bool,
    env_float,
    env_int,
    env_list,
    env_str,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env_str("UPSCALER_DATA_DIR", str(BASE_DIR / "var"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env_str("SECRET_KEY", "")
if not SECRET_KEY:
    if env_bool("REQUIRE_SECRET_KEY", False):
        raise ConfigError("SECRET_KEY must be set")
    # Embedded default only: production sets SECRET_KEY (compose and k8s do).
    SECRET_KEY = "embedded-default-insecure-secret-key-change-me"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")
PORT = env_int("PORT", 8000)
# Base for URLs the app hands out (signed local-storage URLs in webhooks). Requests use
# their own host when this is empty.
PUBLIC_BASE_URL = env_str("PUBLIC_BASE_URL", "").rstrip("/")
# Where the running web server records the address it listens on (gunicorn_conf.py), for
# links handed out of band while PUBLIC_BASE_URL is unset (jobs/public_url.py).
WEB_SERVER_URL_FILE = DATA_DIR / "web-server-url"

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "billing",
    "jobs",
    # django.contrib.admin with the operators' site (jobs/operators/site.py); after jobs, so
    # that jobs/templates/admin/base_site.html overrides the admin's own.
    "jobs.operators.apps.OperatorsAdminConfig",
]

MIDDLEWARE = [
    "jobs.operators.metrics.PrometheusMiddleware",  # first, so it times the whole request
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    # Before CSRF, which reads form bodies: the web app's uploads are read under their limits.
    "jobs.api.uploads.UploadLimitMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "upscaler_platform.urls"
WSGI_APPLICATION = "upscaler_platform.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
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

# The embedded default is the configuration with no DATABASE_URL: `make run` on one machine,
# SQLite, served over plain http on localhost. Cookie security and the email backend
# default differently there (see "Web app" below).
EMBEDDED_DEFAULT = not env_str("DATABASE_URL")
DATABASES = {
    "default": dj_database_url.parse(
        env_str("DATABASE_URL", f"sqlite:///{DATA_DIR / 'db.sqlite3'}"),
        conn_max_age=env_int("DATABASE_CONN_MAX_AGE", 60),
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # Web and worker are separate processes on the embedded default: wait for the lock
    # instead of failing with "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {})["timeout"] = 30
    # Take the write lock when a transaction begins, so that two transactions that read and
    # then write (the unfinished-jobs cap, the rate-limit counters) run one after the other
    # instead of failing to upgrade their locks.
    DATABASES["default"]["OPTIONS"]["transaction_mode"] = "IMMEDIATE"
    DATABASES["default"]["CONN_MAX_AGE"] = 0
# PostgreSQL: a pool of connections per process (Django's psycopg pool), shared by the
# process's threads: a thread takes a connection for a request or a task and gives it back
# at its end (and while it waits: held answers, image downloads, webhook POSTs). So a web
# process holds at most DATABASE_POOL_MAX_SIZE connections however many threads it runs,
# and the deployment needs processes x DATABASE_POOL_MAX_SIZE (+ the workers') under the
# server's max_connections. A thread that finds the pool empty waits DATABASE_POOL_TIMEOUT
# seconds for a connection. Celery's prefork children each start their own pool
# (upscaler_platform/celery.py): nothing is inherited across fork.
DATABASE_POOL = env_bool("DATABASE_POOL", True)
if DATABASES["default"]["ENGINE"].endswith("postgresql") and DATABASE_POOL:
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps the connections
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = {
        "min_size": env_int("DATABASE_POOL_MIN_SIZE", 1),
        "max_size": env_int("DATABASE_POOL_MAX_SIZE", 12),
        "timeout": env_float("DATABASE_POOL_TIMEOUT", 20.0),
        "max_idle": 60.0,
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = DATA_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns at every start until collectstatic ran
MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(DATA_DIR / "media")))

# --- Storage of inputs and outputs -------------------------------------------------------
STORAGE_BACKEND = env_str("STORAGE_BACKEND", "local")
if STORAGE_BACKEND == "s3":
    _default_storage = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env_str("AWS_STORAGE_BUCKET_NAME", "upscaler"),
            "access_key": env_str("AWS_ACCESS_KEY_ID") or None,
            "secret_key": env_str("AWS_SECRET_ACCESS_KEY") or None,
            "endpoint_url": env_str("AWS_S3_ENDPOINT_URL") or None,
            "region_name": env_str("AWS_S3_REGION_NAME") or None,
            "custom_domain": None,
            "querystring_auth": True,
            "file_overwrite": True,
            "default_acl": None,
            "signature_version": "s3v4",
            "addressing_style": env_str("AWS_S3_ADDRESSING_STYLE", "path"),
        },
    }
elif STORAGE_BACKEND == "local":
    _default_storage = {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(MEDIA_ROOT)},
    }
else:
    raise ConfigError(f"STORAGE_BACKEND must be 'local' or 's3' (got {STORAGE_BACKEND!r})")
STORAGES = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
OUTPUT_TTL_SECONDS = env_int("OUTPUT_TTL_SECONDS", 3 * 60 * 60)

# --- Images and models -------------------------------------------------------------------
UPSCALER_MODEL_DIR = env_str("UPSCALER_MODEL_DIR", str(BASE_DIR / "models"))
# Each inference worker scans the model directory as it starts and records the models it
# found (jobs/model_scan.py), which `model` in a submit may then name.
MODEL_SCAN_ON_WORKER_START = env_bool("MODEL_SCAN_ON_WORKER_START", True)
MAX_INPUT_BYTES = env_int("MAX_INPUT_BYTES", 50 * 1024 * 1024)
MAX_INPUT_PIXELS = env_int("MAX_INPUT_PIXELS", 50_000_000)
# The largest PNG or WebP the web tier decodes for a preview (admin and web app thumbnails:
# 12 MP is about 48 MB decoded); a larger one gets none. JPEGs are decoded at 1/8 size.
THUMBNAIL_MAX_DECODE_PIXELS = env_int("THUMBNAIL_MAX_DECODE_PIXELS", 12_000_000)
MAX_OUTPUT_PIXELS = env_int("MAX_OUTPUT_PIXELS", 80_000_000)
IMAGE_FETCH_CONNECT_TIMEOUT = env_float("IMAGE_FETCH_CONNECT_TIMEOUT", 5.0)
IMAGE_FETCH_READ_TIMEOUT = env_float("IMAGE_FETCH_READ_TIMEOUT", 20.0)
# The whole download of an imageUrl (name lookup, connects, redirects, every read): a web
# thread waits on a client's URL at most this long.
IMAGE_FETCH_DEADLINE_SECONDS = env_float("IMAGE_FETCH_DEADLINE_SECONDS", 30.0)
# Downloads in flight at once: per account, counted across every web process (Redis, or the
# database), and per web process, so slow image servers cannot take every web thread.
IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT = env_int("IMAGE_FETCH_MAX_IN_FLIGHT_PER_ACCOUNT", 4)
IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS = env_int("IMAGE_FETCH_MAX_IN_FLIGHT_PER_PROCESS", 8)
# Local development and tests only: lets imageUrl and webhooks reach private addresses.
UPSCALER_ALLOW_PRIVATE_URLS = env_bool("UPSCALER_ALLOW_PRIVATE_URLS", False)

# --- Pricing (billing/pricing.py) ----------------------------------------------------------
# Credits per output megapixel for the per-megapixel modes, a flat price for restore.
PRICE_PER_OUTPUT_MEGAPIXEL = {
    "smart": env_float("PRICE_SMART_PER_MP", 1.0),
    "dynamic": env_float("PRICE_DYNAMIC_PER_MP", 1.0),
    "precise": env_float("PRICE_PRECISE_PER_MP", 0.25),
}
PRICE_FLAT = {"restore": env_int("PRICE_RESTORE", 8)}

# --- Cache, counters and rate limits (shared by every web process) --------------------------
REDIS_URL = env_str("REDIS_URL", "")
# Prefixes every key this deployment writes to Redis (queues, rate-limit counters), so
# several deployments, or test runs, can share one Redis server.
REDIS_KEY_PREFIX = env_str("REDIS_KEY_PREFIX", "")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": REDIS_KEY_PREFIX,
        }
    }
else:
    # Embedded default: a cache in the SQLite database, shared by the web processes.
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache", "LOCATION": "cache"}}
# Where jobs/counters.py keeps the rate-limit windows and the download slots: Redis when
# there is one, else the database's Counter table (atomic upserts).
COUNTER_STORE = "redis" if REDIS_URL else "database"
# (requests, window seconds) per API key and scope.
RATE_LIMITS = {
    "submit": [
        (env_int("RATE_LIMIT_SUBMITS_PER_MINUTE", 90), 60),
        (env_int("RATE_LIMIT_SUBMITS_PER_HOUR", 6000), 3600),
    ],
    "status": [(env_int("RATE_LIMIT_STATUS_PER_MINUTE", 240), 60)],
}

# --- Jobs and webhooks ---------------------------------------------------------------------
MAX_UNFINISHED_JOBS_PER_ACCOUNT = env_int("MAX_UNFINISHED_JOBS_PER_ACCOUNT", 100)
JOB_MAX_ATTEMPTS = env_int("JOB_MAX_ATTEMPTS", 3)
JOB_TIME_LIMIT_SECONDS = env_int("JOB_TIME_LIMIT_SECONDS", 30 * 60)
JOB_HEARTBEAT_SECONDS = env_float("JOB_HEARTBEAT_SECONDS", 15.0)
# The sweep re-sends IN_QUEUE jobs older than this, and treats IN_PROGRESS jobs without a
# heartbeat for this long as orphaned by a dead worker.
JOB_REQUEUE_AFTER_SECONDS = env_int("JOB_REQUEUE_AFTER_SECONDS", 120)
JOB_STALE_AFTER_SECONDS = env_int("JOB_STALE_AFTER_SECONDS", 120)
SWEEP_INTERVAL_SECONDS = env_float("SWEEP_INTERVAL_SECONDS", 60.0)
# A job's estimated processing time when no job like it has finished yet (queue position
# and ETA, jobs/scheduler.py); after that, recent similar jobs' times are used.
JOB_ETA_DEFAULT_SECONDS = env_float("JOB_ETA_DEFAULT_SECONDS", 30.0)
# Synchronous answers (`Prefer: wait=N`, and the vendor APIs that answer when the job is
# done): the longest wait, and how many waits one web process holds at once (each holds a
# web thread; see upscaler_platform/gunicorn_conf.py).
SYNC_WAIT_MAX_SECONDS = env_int("SYNC_WAIT_MAX_SECONDS", 300)
SYNC_WAIT_MAX_CONCURRENT = env_int("SYNC_WAIT_MAX_CONCURRENT", 32)
# The most a Maskr batch request's body may hold; each of its files is still limited to
# MAX_INPUT_BYTES. Bodies over FILE_UPLOAD_MAX_MEMORY_SIZE are spooled to temporary files.
MASKR_BATCH_MAX_BYTES = env_int("MASKR_BATCH_MAX_BYTES", 500 * 1024 * 1024)
# The longest a request may run: a submit's download, then decoding, storing and queueing,
# then the longest synchronous wait for the job. gunicorn's timeouts outlast it
# (upscaler_platform/gunicorn_conf.py); an Idempotency-Key whose first request has run longer
# than this (plus a minute) belongs to a request that died, and is resolved (jobs/idempotency.py).
LONGEST_REQUEST_SECONDS = IMAGE_FETCH_DEADLINE_SECONDS + 30 + SYNC_WAIT_MAX_SECONDS
IDEMPOTENCY_LEASE_SECONDS = LONGEST_REQUEST_SECONDS + 60
# The network APIXO's image-upscaler tasks run: a model's name (GET /api/v1/models), or
# blank for precise's own (RealESRGAN_x4plus).
APIXO_MODEL = env_str("APIXO_MODEL", "")
# The whole of one webhook, callback or test-event attempt: name lookup, connect, TLS,
# sending, and the answer's head and the start of its body (jobs/webhooks.py). A receiver
# that trickles its answer is cut off here; the delivery tasks get a Celery time limit past
# it, in case anything else holds them.
WEBHOOK_TIMEOUT_SECONDS = env_float("WEBHOOK_TIMEOUT_SECONDS", 15.0)
WEBHOOK_TASK_TIME_LIMIT_SECONDS = WEBHOOK_TIMEOUT_SECONDS + 30
# Test events from the web app, per account: at most this many a minute, and one at a time.
WEBHOOK_TESTS_PER_MINUTE = env_int("WEBHOOK_TESTS_PER_MINUTE", 5)
WEBHOOK_MAX_RETRIES = env_int("WEBHOOK_MAX_RETRIES", 3)
WEBHOOK_RETRY_BASE_SECONDS = env_float("WEBHOOK_RETRY_BASE_SECONDS", 30.0)

# --- Celery ---------------------------------------------------------------------------------
# All of Celery's configuration is here; upscaler_platform/celery.py only loads it.
# Each queue's name, given explicitly in the route of every task that goes on it and named
# by the workers that consume it (docker-compose.yml, deploy/k8s).
INFERENCE_QUEUE = "inference"  # GPU workers
WEBHOOKS_QUEUE = "webhooks"  # I/O-bound delivery, many at once in threads
MAINTENANCE_QUEUE = "maintenance"  # what beat schedules
PURGE_INTERVAL_SECONDS = 300.0
# Publishing must not hang a request while the broker is down: the job is in the database
# and the sweep sends it once the broker is back. Health checks and the dashboard use the
# same timeout when they reach the broker.
CELERY_BROKER_CONNECTION_TIMEOUT = 2.0
# Redis hands a message that no worker acknowledged to another worker after this long. A
# message stays unacknowledged while its task runs (late ack) and while a worker holds it
# for its countdown, so this is longer than the longest job, and countdowns stay under half
# of it: a webhook retry that must wait longer is scheduled in the database instead.
BROKER_VISIBILITY_TIMEOUT_SECONDS = JOB_TIME_LIMIT_SECONDS + 600
WEBHOOK_MAX_COUNTDOWN_SECONDS = BROKER_VISIBILITY_TIMEOUT_SECONDS // 2

CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", REDIS_URL or "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
if CELERY_BROKER_URL.startswith("filesystem://"):
    # Embedded broker: web and worker exchange messages through files under DATA_DIR.
    _broker_dir = DATA_DIR / "broker"
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
elif CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": BROKER_VISIBILITY_TIMEOUT_SECONDS}
    if REDIS_KEY_PREFIX:
        CELERY_BROKER_TRANSPORT_OPTIONS["global_keyprefix"] = REDIS_KEY_PREFIX
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.5, "interval_max": 1}
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)

CELERY_TASK_QUEUES = [Queue(INFERENCE_QUEUE), Queue(WEBHOOKS_QUEUE), Queue(MAINTENANCE_QUEUE)]
CELERY_TASK_DEFAULT_QUEUE = MAINTENANCE_QUEUE
CELERY_TASK_ROUTES = {
    "jobs.tasks.run_job": {"queue": INFERENCE_QUEUE},
    "jobs.model_scan.scan_models": {"queue": INFERENCE_QUEUE},
    "jobs.tasks.deliver_webhook": {"queue": WEBHOOKS_QUEUE},
    "jobs.tasks.send_test_webhook": {"queue": WEBHOOKS_QUEUE},
    "jobs.tasks.dispatch_webhooks": {"queue": MAINTENANCE_QUEUE},
    "jobs.tasks.sweep_jobs": {"queue": MAINTENANCE_QUEUE},
    "jobs.tasks.purge_expired_outputs": {"queue": MAINTENANCE_QUEUE},
}
# Long GPU tasks: one message at a time per process, acknowledged only when done, and put
# back on the queue if the worker process dies mid-task.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# Run by one beat per deployment. A message not run by the time the next one is due expires,
# so a maintenance worker that was down does not run a backlog of them.
CELERY_BEAT_SCHEDULE = {
    "sweep-jobs": {
        "task": "jobs.tasks.sweep_jobs",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": SWEEP_INTERVAL_SECONDS},
    },
    "dispatch-webhooks": {
        "task": "jobs.tasks.dispatch_webhooks",
        "schedule": SWEEP_INTERVAL_SECONDS,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": SWEEP_INTERVAL_SECONDS},
    },
    "purge-expired-outputs": {
        "task": "jobs.tasks.purge_expired_outputs",
        "schedule": PURGE_INTERVAL_SECONDS,
        "options": {"queue": MAINTENANCE_QUEUE, "expires": PURGE_INTERVAL_SECONDS},
    },
}

# --- Operations -----------------------------------------------------------------------------
# When set, GET /metrics requires "Authorization: Bearer <METRICS_TOKEN>".
METRICS_TOKEN = env_str("METRICS_TOKEN", "")

# --- Web app (jobs/web/) -----------------------------------------------------------------
LOGIN_URL = "web:sign-in"
LOGIN_REDIRECT_URL = "web:playground"
LOGOUT_REDIRECT_URL = "web:sign-in"
# Open sign-up: anyone may create an account (with its owner) at /signup, starting with
# SIGNUP_CREDITS credits. Off by default: operators create accounts with create_account.
SIGNUP_OPEN = env_bool("SIGNUP_OPEN", False)
SIGNUP_CREDITS = env_int("SIGNUP_CREDITS", 0)
# Failed sign-ins counted per email and per client address in the shared cache; past the
# limit, sign-in (and password-reset requests, per address) wait for the window to end.
SIGN_IN_WINDOW_SECONDS = env_int("SIGN_IN_WINDOW_SECONDS", 900)
SIGN_IN_FAILURES_PER_EMAIL = env_int("SIGN_IN_FAILURES_PER_EMAIL", 10)
SIGN_IN_FAILURES_PER_IP = env_int("SIGN_IN_FAILURES_PER_IP", 50)
# The request header that carries the client's address when a proxy in front sets it
# (e.g. HTTP_X_FORWARDED_FOR: its last entry is used). Empty: REMOTE_ADDR.
CLIENT_IP_HEADER = env_str("CLIENT_IP_HEADER", "")
# Cookies only over HTTPS, except in DEBUG and on the embedded default, which `make run`
# serves over plain http on localhost.
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG and not EMBEDDED_DEFAULT)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", SESSION_COOKIE_SECURE)
# The pages' scripts read the CSRF token from the form, never from the cookie.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 14 * 24 * 3600)
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Password-reset email: printed to the console on the embedded default, sent by SMTP
# elsewhere (a reset link in a production log would be a credential in the log).
EMAIL_BACKEND = env_str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.console.EmailBackend"
    if EMBEDDED_DEFAULT
    else "django.core.mail.backends.smtp.EmailBackend",
)
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Upscaler <noreply@localhost>")

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
}

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["jobs.api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "jobs.api.parsers.JSONParser",
        "rest_framework.parsers.MultiPartParser",
        "rest_framework.parsers.FormParser",
    ],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "jobs.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Upscaler Platform API",
    "DESCRIPTION": "Upsampler-compatible image upscaling API (precise, dynamic, smart, restore).",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {"MaskrStatusEnum": "jobs.api.maskr.schema.STATUSES"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = MAX_INPUT_BYTES * 2  # base64 of a 50 MB image, in JSON
FILE_UPLOAD_MAX_MEMORY_SIZE = 5 * 1024 * 1024
