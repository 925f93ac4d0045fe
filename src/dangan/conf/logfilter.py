"""No secret in logs: a logging filter for every handler, and the error-report filter.

:class:`RedactSecretsFilter` rewrites each log record before a handler writes it: the formatted
message (``msg % args``), the formatted exception and the stack text. It blanks

* credentials in HTTP-ish text: ``Authorization: …``, ``Token …`` / ``Bearer …`` / ``Basic …``,
  ``Cookie:`` / ``Set-Cookie:`` values, the session and CSRF cookies, ``csrfmiddlewaretoken``;
* ``password=…``, ``"secret": "…"`` and the like (key names containing PASSWORD, PASSWD, SECRET,
  TOKEN, API_KEY, PRIVATE_KEY, SIGNATURE, SESSIONID, CSRF);
* the password part of ``scheme://user:password@host`` URLs (database, Redis, broker);
* the literal values of the secret key, of every secret read through ``dangan.conf.secrets`` and of
  every ``DANGAN_*`` environment variable whose name says SECRET, PASSWORD, TOKEN or KEY.

:class:`SafeReporterFilter` is Django's ``DEFAULT_EXCEPTION_REPORTER_FILTER`` (error pages with
DEBUG, the e-mails to ADMINS): it hides settings, request headers, POST fields and local variables
whose names match :data:`HIDDEN`, not only those of views marked ``@sensitive_*``.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

from dangan.conf import secrets as _secrets

MASK = "[REDACTED]"
HIDDEN = re.compile(
    r"API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|COOKIE|AUTHORIZATION|CSRF|SESSION|DATABASE_URL|REDIS_URL|"
    r"BROKER_URL|DSN",
    flags=re.IGNORECASE,
)
_SECRET_ENV = re.compile(r"^DANGAN_.*(SECRET|PASSWORD|TOKEN|KEY)", flags=re.IGNORECASE)
_KEYS = (
    r"[\w.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|private[_-]?key|signature|sessionid|"
    r"csrftoken|csrfmiddlewaretoken|csrf)[\w.-]*"
)

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization / Proxy-Authorization headers, also as WSGI keys: the whole value.
    (
        re.compile(r"((?:HTTP_)?(?:PROXY[_-])?AUTHORIZATION['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n,}]+", re.I),
        rf"\1{MASK}",
    ),
    # Cookie headers: every value.
    (re.compile(r"((?:HTTP_)?(?:SET[_-])?COOKIE['\"]?\s*[:=]\s*['\"]?)[^'\"\r\n}]+", re.I), rf"\1{MASK}"),
    # Credentials after an auth scheme word: a word with a digit or one of _.~+/=- in it (so "Basic
    # information" stays as it is).
    (
        re.compile(
            r"\b(Token|Bearer|Basic|Digest)(\s+)(?=[A-Za-z]*[0-9_.~+/=-])[A-Za-z0-9._~+/=:-]{6,}", re.I
        ),
        rf"\1\2{MASK}",
    ),
    # key=value, key: value, "key": "value" (quoted or not).
    (
        re.compile(rf"""(["']?{_KEYS}["']?\s*[:=]\s*)(?:"[^"]*"|'[^']*'|[^\s&,;}}\])'"]+)""", re.I),
        rf"\1{MASK}",
    ),
    # user:password@ in URLs.
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@]*:)[^@\s/]+(@)", re.I), rf"\1{MASK}\2"),
]


def _literal_secrets() -> list[str]:
    values = set(_secrets.known_secrets())
    for name, value in os.environ.items():
        if (
            _SECRET_ENV.match(name)
            and not name.endswith("_FILE")
            and len(value) >= _secrets.MIN_REDACT_LENGTH
        ):
            values.add(value)
    try:
        from django.conf import settings

        if settings.configured:
            key = getattr(settings, "SECRET_KEY", "")
            if isinstance(key, str) and len(key) >= _secrets.MIN_REDACT_LENGTH:
                values.add(key)
    except Exception:  # noqa: S110 - redaction must never break logging
        pass
    # Longest first, so a secret containing another is blanked whole.
    return sorted(values, key=len, reverse=True)


def redact(text: str, literals: Iterable[str] | None = None) -> str:
    """``text`` with credentials and known secret values replaced by ``[REDACTED]``."""
    for value in _literal_secrets() if literals is None else literals:
        if value in text:
            text = text.replace(value, MASK)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactSecretsFilter(logging.Filter):
    """Attached to every handler in LOGGING. Never drops a record, only rewrites it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            self._redact(record)
        except Exception:  # a record that cannot be rewritten is still logged, as a marker only
            record.msg, record.args = "log record withheld: it could not be checked for secrets", None
            record.exc_info = record.exc_text = record.stack_info = None
        return True

    @staticmethod
    def _redact(record: logging.LogRecord) -> None:
        literals = _literal_secrets()
        message = record.getMessage()
        clean = redact(message, literals)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, literals)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, literals)


def with_redaction(config: dict[str, Any]) -> dict[str, Any]:
    """``config`` (a LOGGING dict) with :class:`RedactSecretsFilter` on every handler.

    Django's own handlers (``django.server``, ``mail_admins``) are declared again here, as in
    Django's DEFAULT_LOGGING, so that they get the filter too; the ``django`` logger hands its records
    on to the root's handlers, as it does by default.
    """
    config.setdefault("filters", {}).update(
        {
            "redact_secrets": {"()": "dangan.conf.logfilter.RedactSecretsFilter"},
            "require_debug_false": {"()": "django.utils.log.RequireDebugFalse"},
        }
    )
    config.setdefault("formatters", {}).setdefault(
        "django.server",
        {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"},
    )
    handlers = config.setdefault("handlers", {})
    handlers.setdefault(
        "django.server", {"level": "INFO", "class": "logging.StreamHandler", "formatter": "django.server"}
    )
    handlers.setdefault(
        "mail_admins",
        {"level": "ERROR", "filters": ["require_debug_false"], "class": "django.utils.log.AdminEmailHandler"},
    )
    loggers = config.setdefault("loggers", {})
    loggers.setdefault("django", {"handlers": ["mail_admins"], "level": "INFO"})
    loggers.setdefault("django.server", {"handlers": ["django.server"], "level": "INFO", "propagate": False})
    for handler in handlers.values():
        filters = handler.setdefault("filters", [])
        if "redact_secrets" not in filters:
            filters.append("redact_secrets")
    return config


class SafeReporterFilter(SafeExceptionReporterFilter):
    """Django's reporter filter with a wider net (see the module docstring)."""

    hidden_settings = HIDDEN

    def get_post_parameters(self, request: Any) -> Any:
        params = super().get_post_parameters(request)
        if request is None or not hasattr(params, "copy"):
            return params
        cleansed = params.copy()
        for key in list(cleansed.keys()):
            if self.hidden_settings.search(str(key)):
                cleansed[key] = self.cleansed_substitute
        return cleansed

    def get_traceback_frame_variables(self, request: Any, tb_frame: Any) -> Any:
        variables = super().get_traceback_frame_variables(request, tb_frame)
        return [
            (name, self.cleansed_substitute if self.hidden_settings.search(str(name)) else value)
            for name, value in variables
        ]
