"""Hardening (security issue): response headers, TLS settings, cookie flags, secret files, API rate
limits, request limits, no secret in logs. docs/security.md describes each.

Settings are read once, at import, from the environment: what depends on DANGAN_* variables is
checked in a fresh interpreter (``subprocess``) with that environment; what the middleware does
with given settings is checked in-process with the ``settings`` fixture.
"""

from __future__ import annotations

import io
import logging
import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.cache import cache
from django.http import HttpResponse
from django.test import Client
from django.views.debug import ExceptionReporter
from rest_framework.test import APIClient

from dangan.accounts.roles import Actor, Role
from dangan.accounts.services import create_user
from dangan.catalog.services import issue_source_token
from dangan.conf.logfilter import MASK, RedactSecretsFilter, SafeReporterFilter, redact
from dangan.conf.security import HardeningMiddleware
from dangan.ingest.models import Submission

STRICT_CSP = {
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "frame-ancestors 'none'",
    "form-action 'self'",
}
PASSWORD = "Hardening-pw-2025!"


@pytest.fixture
def token(db, test_catalogue, operator):
    _, plaintext = issue_source_token(operator, code="SYS1", name="示范办件系统", fonds=[test_catalogue])
    return plaintext


@pytest.fixture
def fresh_counters():
    """The throttles count in the default cache: start and end each rate test with none."""
    cache.clear()
    yield
    cache.clear()


def _directives(response) -> set[str]:
    return {d.strip() for d in response["Content-Security-Policy"].split(";") if d.strip()}


# --- response headers ---------------------------------------------------------------------------------


@pytest.mark.django_db
def test_pages_and_api_carry_the_security_headers(token):
    page = Client().get("/login/")
    api = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get(
        "/api/v1/submissions/00000000-0000-0000-0000-000000000000"
    )
    assert page.status_code == 200 and api.status_code == 404
    for response in (page, api):
        assert _directives(response) == STRICT_CSP
        assert response["Referrer-Policy"] == "same-origin"
        assert response["Cross-Origin-Opener-Policy"] == "same-origin"
        assert response["X-Content-Type-Options"] == "nosniff"
        assert response["X-Frame-Options"] == "DENY"
        assert "camera=()" in response["Permissions-Policy"]
        assert "microphone=()" in response["Permissions-Policy"]
        assert "Strict-Transport-Security" not in response  # plain HTTP: no HSTS


def test_a_response_with_its_own_policy_keeps_it(rf):
    """The HTML report downloads are sandboxed with a policy of their own (web.views._download)."""
    own = "default-src 'none'; sandbox"

    def view(request):
        response = HttpResponse("x")
        response["Content-Security-Policy"] = own
        return response

    response = HardeningMiddleware(view)(rf.get("/records/1/report.html"))
    assert response["Content-Security-Policy"] == own
    assert "camera=()" in response["Permissions-Policy"]


def test_templates_have_no_inline_script_style_or_handler():
    """What the browser test (tests/e2e/test_csp.py) would catch page by page, for every template."""

    src = Path(__file__).resolve().parents[1] / "src" / "dangan"
    inline = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>|<style\b|\sstyle=|\son[a-z]+=", re.I)
    offenders = []
    for path in src.glob("*/templates/**/*.html"):
        if "reports" in path.parts:  # self-contained downloads, served with their own sandbox policy
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if inline.search(line):
                offenders.append(f"{path.relative_to(src)}:{n}: {line.strip()[:100]}")
    assert not offenders, "\n".join(offenders)


# --- TLS ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_hsts_and_https_redirect_only_with_tls(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_HSTS_SECONDS = 31_536_000
    settings.SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    client = Client()
    plain = client.get("/login/")
    assert plain.status_code == 301 and plain["Location"] == "https://testserver/login/"
    assert client.get("/healthz").status_code == 200  # load balancers probe over HTTP
    secure = client.get("/login/", secure=True)
    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"


@pytest.mark.django_db
def test_behind_a_proxy_the_forwarded_scheme_counts(settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    assert Client().get("/login/", HTTP_X_FORWARDED_PROTO="https").status_code == 200
    assert Client().get("/login/", HTTP_X_FORWARDED_PROTO="http").status_code == 301


@pytest.mark.django_db
def test_cookie_flags(settings):
    create_user("clerk", [Role.RECORDS_OFFICER], password=PASSWORD)
    settings.SESSION_COOKIE_SECURE = settings.CSRF_COOKIE_SECURE = True  # what DANGAN_TLS=1 sets
    client = Client(enforce_csrf_checks=True)
    client.get("/login/", secure=True)
    csrf = client.cookies["csrftoken"]
    assert csrf["httponly"] and csrf["secure"] and csrf["samesite"] == "Lax"
    response = client.post(
        "/login/",
        {"username": "clerk", "password": PASSWORD, "csrfmiddlewaretoken": csrf.value},
        secure=True,
        HTTP_REFERER="https://testserver/login/",
    )
    assert response.status_code == 302, response.content[:500]
    session = response.cookies["sessionid"]
    assert session["httponly"] and session["secure"] and session["samesite"] == "Lax"


def _settings_process(tmp_path: Path, env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter with ``env`` (and no other DANGAN_* variable)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    clean.update({"DJANGO_SETTINGS_MODULE": "dangan.conf.settings", "DANGAN_HOME": str(tmp_path / "home")})
    clean.update(env)
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import django; django.setup(); from django.conf import settings as s; " + code,
        ],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_tls_switch_sets_the_https_settings(tmp_path):
    code = (
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS,"
        " s.SECURE_HSTS_INCLUDE_SUBDOMAINS, s.SECURE_PROXY_SSL_HEADER, s.REST_FRAMEWORK['NUM_PROXIES'],"
        " s.CONTENT_SECURITY_POLICY['DIRECTIVES']['upgrade-insecure-requests'])"
    )
    off = _settings_process(tmp_path, {}, code)
    assert off.returncode == 0, off.stderr
    assert off.stdout.split() == ["False", "False", "False", "0", "False", "None", "0", "False"]
    on = _settings_process(tmp_path, {"DANGAN_TLS": "1", "DANGAN_BEHIND_PROXY": "1"}, code)
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "True True True 31536000 True ('HTTP_X_FORWARDED_PROTO', 'https') 1 True"
    alias = _settings_process(tmp_path, {"DANGAN_SECURE_COOKIES": "1"}, code)
    assert alias.stdout.split()[:4] == ["True", "True", "False", "0"]  # the older switch: cookies only


def test_deploy_checks_pass_with_tls(tmp_path):
    env = {
        "DANGAN_TLS": "1",
        "DANGAN_BEHIND_PROXY": "1",
        "DANGAN_SECRET_KEY": secrets.token_urlsafe(60),
        "DANGAN_ALLOWED_HOSTS": "archive.example.gov.cn",
        "DJANGO_SETTINGS_MODULE": "dangan.conf.settings",
    }
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DANGAN_")}
    clean.update(env, DANGAN_HOME=str(tmp_path / "home"))
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    output = result.stdout + result.stderr
    # The one warning left is on purpose: HSTS preloading is the operator's decision for the whole
    # domain (DANGAN_HSTS_PRELOAD=1), see settings.py.
    issues = [line for line in output.splitlines() if line.startswith("?: (")]
    assert [i.split(")")[0] for i in issues] == ["?: (security.W021"], output
    clean["DANGAN_HSTS_PRELOAD"] = "1"
    result = subprocess.run(
        [sys.executable, "-m", "django", "check", "--deploy", "--fail-level", "WARNING"],
        env=clean,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- secrets from files -------------------------------------------------------------------------------


def _secret_file(tmp_path: Path, mode: int, text: str = "s3cret-key-from-a-file-0123456789\n") -> Path:
    path = tmp_path / "secret_key.txt"
    path.write_text(text)
    path.chmod(mode)
    return path


def test_secret_key_from_a_private_file(tmp_path):
    path = _secret_file(tmp_path, 0o600)
    result = _settings_process(tmp_path, {"DANGAN_SECRET_KEY_FILE": str(path)}, "print(s.SECRET_KEY)")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "s3cret-key-from-a-file-0123456789"


@pytest.mark.parametrize("mode", [0o644, 0o640, 0o604, 0o660])
def test_a_secret_file_others_may_read_stops_start_up(tmp_path, mode):
    path = _secret_file(tmp_path, mode)
    result = _settings_process(tmp_path, {"DANGAN_SECRET_KEY_FILE": str(path)}, "print(s.SECRET_KEY)")
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert f"DANGAN_SECRET_KEY_FILE: {path} has mode {mode:04o}" in result.stderr
    assert f"chmod 600 {path}" in result.stderr
    assert "s3cret-key" not in result.stderr


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to chown")
def test_a_secret_file_of_another_account_stops_start_up(tmp_path):
    path = _secret_file(tmp_path, 0o600)
    os.chown(path, 65534, 65534)
    result = _settings_process(tmp_path, {"DANGAN_DATABASE_URL_FILE": str(path)}, "print(1)")
    assert result.returncode != 0
    assert (
        f"DANGAN_DATABASE_URL_FILE: {path} (mode 0600) is owned by uid 65534, not by uid 0" in result.stderr
    )


def test_a_secret_in_both_the_variable_and_a_file_stops_start_up(tmp_path):
    path = _secret_file(tmp_path, 0o600)
    env = {"DANGAN_REDIS_URL": "redis://localhost:6379/0", "DANGAN_REDIS_URL_FILE": str(path)}
    result = _settings_process(tmp_path, env, "print(1)")
    assert result.returncode != 0
    assert "both DANGAN_REDIS_URL and DANGAN_REDIS_URL_FILE are set" in result.stderr


def test_database_and_redis_passwords_from_files(tmp_path):
    db_pw = tmp_path / "db"
    db_pw.write_text("db-pass-from-file\n")
    db_pw.chmod(0o600)
    redis_pw = tmp_path / "redis"
    redis_pw.write_text("redis-pass-from-file")
    redis_pw.chmod(0o400)
    env = {
        "DANGAN_DATABASE_URL": "postgres://dangan@db.internal:5432/dangan",
        "DANGAN_DATABASE_PASSWORD_FILE": str(db_pw),
        "DANGAN_REDIS_URL": "redis://cache.internal:6379/0",
        "DANGAN_REDIS_PASSWORD_FILE": str(redis_pw),
    }
    code = "print(s.DATABASES['default']['PASSWORD'], s.CACHES['default']['OPTIONS']['password'])"
    result = _settings_process(tmp_path, env, code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["db-pass-from-file", "redis-pass-from-file"]


def test_the_generated_secret_key_file_is_checked_too(tmp_path):
    first = _settings_process(tmp_path, {}, "print(len(s.SECRET_KEY))")
    assert first.returncode == 0, first.stderr
    key_file = tmp_path / "home" / "secret_key"
    assert key_file.stat().st_mode & 0o777 == 0o600
    key_file.chmod(0o644)
    again = _settings_process(tmp_path, {}, "print(1)")
    assert again.returncode != 0
    assert f"the generated secret key: {key_file} has mode 0644" in again.stderr


def test_a_readable_instance_key_stops_start_up(tmp_path):
    from dangan.core.sm import InstanceKey

    keys = tmp_path / "home" / "keys"
    ik = InstanceKey.ensure(keys, common_name="t", organization="t")
    assert _settings_process(tmp_path, {}, "print(1)").returncode == 0  # created properly: fine
    ik.key_path.chmod(0o640)
    result = _settings_process(tmp_path, {}, "print(1)")
    assert result.returncode != 0
    assert f"the instance SM2 key: {ik.key_path} has mode 0640" in result.stderr


# --- API rate limits and request limits ---------------------------------------------------------------


def _rates(settings, **rates):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {
            "source_system": "1000/min",
            "user": "1000/min",
            "anon": "1000/min",
            **rates,
        },
    }


@pytest.mark.django_db
def test_source_system_over_its_rate_gets_429_with_retry_after(
    settings, token, test_catalogue, fresh_counters
):
    _rates(settings, source_system="3/min")
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    url = "/api/v1/submissions/00000000-0000-0000-0000-000000000000"
    assert [client.get(url).status_code for _ in range(3)] == [404, 404, 404]
    refused = client.get(url)
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert refused.json()["detail"]
    # Another source system has its own count.
    _, other = issue_source_token(Actor.system("t"), code="SYS2", name="另一系统", fonds=[test_catalogue])
    assert APIClient(HTTP_AUTHORIZATION=f"Token {other}").get(url).status_code == 404


@pytest.mark.django_db
def test_signed_in_user_over_the_rate_gets_429(settings, test_catalogue, fresh_counters):
    _rates(settings, user="2/min")
    user, _ = create_user("officer", [Role.RECORDS_OFFICER], password=PASSWORD)
    client = APIClient()
    client.force_login(user)
    assert [client.get("/api/v1/records").status_code for _ in range(2)] == [200, 200]
    refused = client.get("/api/v1/records")
    assert refused.status_code == 429 and int(refused["Retry-After"]) >= 1


@pytest.mark.django_db
def test_wrong_tokens_from_one_address_are_refused_before_lookup(settings, token, fresh_counters):
    _rates(settings, anon="3/min")
    url = "/api/v1/submissions/00000000-0000-0000-0000-000000000000"
    for n in range(3):
        assert APIClient(HTTP_AUTHORIZATION=f"Token dgn_guess{n}").get(url).status_code == 401
    # Out of attempts: even the right token is not looked up from this address for now.
    refused = APIClient(HTTP_AUTHORIZATION=f"Token {token}").get(url)
    assert refused.status_code == 429 and 1 <= int(refused["Retry-After"]) <= 60
    # Another address is not affected; X-Forwarded-For does not pick a counter (not behind a proxy).
    other = APIClient(HTTP_AUTHORIZATION=f"Token {token}", REMOTE_ADDR="10.0.0.7")
    assert other.get(url).status_code == 404
    spoofed = APIClient(HTTP_AUTHORIZATION=f"Token {token}", HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert spoofed.get(url).status_code == 429


def test_schema_documents_429():
    spec = APIClient().get("/api/schema/?format=json").json()
    assert "429" in spec["paths"]["/api/v1/cases"]["post"]["responses"]
    assert "429" in spec["paths"]["/api/v1/records"]["get"]["responses"]


class _Unreadable(io.RawIOBase):
    def read(self, *args):
        raise AssertionError("the body was read")

    readline = read


@pytest.mark.django_db
def test_too_large_upload_gets_413_json_before_the_body_is_read(settings, token):
    settings.MAX_UPLOAD_BYTES = 1000
    client = APIClient(HTTP_AUTHORIZATION=f"Token {token}")
    response = client.generic(
        "POST",
        "/api/v1/cases",
        data=b"x",
        content_type="multipart/form-data; boundary=xyz",
        CONTENT_LENGTH="5000000000",
        **{"wsgi.input": _Unreadable()},
    )
    assert response.status_code == 413
    assert response.json()["code"] == "REQUEST_TOO_LARGE" and "1000 bytes" in response.json()["message"]
    assert Submission.objects.count() == 0
    # Web pages get the same limit, as text.
    page = Client().generic(
        "POST", "/login/", data=b"x" * 2000, content_type="application/x-www-form-urlencoded"
    )
    assert page.status_code == 413 and page["Content-Type"].startswith("text/plain")


def test_request_limit_settings():
    from django.conf import settings

    assert settings.MAX_UPLOAD_BYTES >= settings.MAX_PACKAGE_BYTES
    assert settings.DATA_UPLOAD_MAX_NUMBER_FIELDS == 1000
    assert settings.DATA_UPLOAD_MAX_NUMBER_FILES == 100


# --- no secret in logs --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret",
    [
        ("Authorization: Token dgn_abcdef123456", "dgn_abcdef123456"),
        ("{'HTTP_AUTHORIZATION': 'Bearer eyJhbGciOi.payload.sig'}", "eyJhbGciOi"),
        ("login failed: username=clerk&password=Hunter2-pw&next=/", "Hunter2-pw"),
        ('{"password": "Hunter2 pw", "user": "x"}', "Hunter2 pw"),
        ("csrfmiddlewaretoken=AbCdEf0123456789&x=1", "AbCdEf0123456789"),
        ("Cookie: sessionid=k3y5e5510n; csrftoken=abc", "k3y5e5510n"),
        ("could not connect to postgres://dangan:db-Pa55word@db:5432/dangan", "db-Pa55word"),
        ("sessionid=zzzyyyxxx111", "zzzyyyxxx111"),
    ],
)
def test_redact(text, secret):
    clean = redact(text, literals=[])
    assert secret not in clean and MASK in clean


@pytest.mark.parametrize(
    "text",
    [
        "Basic information of the case",
        "Token expired for system SYS1",
        "job 12 failed: record 330899-A101 not found",
        "Forbidden (CSRF cookie not set.): /login/",
        "Unauthorized: /api/v1/cases",
    ],
)
def test_redact_leaves_ordinary_text(text):
    assert redact(text, literals=[]) == text


def test_redact_known_values(monkeypatch):
    from django.conf import settings

    monkeypatch.setenv("DANGAN_OIDC_CLIENT_SECRET", "oidc-client-secret-value")
    text = f"key {settings.SECRET_KEY} and oidc-client-secret-value in a message"
    clean = redact(text)
    assert settings.SECRET_KEY not in clean and "oidc-client-secret-value" not in clean


def test_every_configured_handler_redacts():
    handlers = set(logging.getLogger().handlers)
    for name in ("django", "django.server", "django.request"):
        handlers.update(logging.getLogger(name).handlers)
    ours = [h for h in handlers if not type(h).__module__.startswith("_pytest")]  # not caplog's
    assert {type(h).__name__ for h in ours} >= {"StreamHandler", "AdminEmailHandler"}
    for handler in ours:
        assert any(isinstance(f, RedactSecretsFilter) for f in handler.filters), handler


def test_filter_rewrites_message_args_and_traceback():
    record = logging.LogRecord(
        "dangan.x", logging.ERROR, __file__, 1, "call with %s failed", ("Token dgn_zzz999",), None
    )
    try:
        raise ValueError("password=s3cr3t-value")
    except ValueError:
        record.exc_info = sys.exc_info()
    assert RedactSecretsFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "dgn_zzz999" not in formatted and "s3cr3t-value" not in formatted
    assert "Token [REDACTED]" in formatted and "ValueError: password=[REDACTED]" in formatted


@pytest.fixture
def console_output():
    """What the root logger's console handler writes (the handler with the filter, not caplog's)."""
    root = logging.getLogger()
    handler = next(h for h in root.handlers if isinstance(h, logging.StreamHandler))
    stream = io.StringIO()
    old = handler.setStream(stream)
    try:
        yield stream
    finally:
        handler.setStream(old)


@pytest.mark.django_db
def test_failed_api_call_and_failed_login_log_no_secret(caplog, console_output, token):
    create_user("clerk", [Role.RECORDS_OFFICER], password=PASSWORD)
    bad_token = token[:-4] + "XXXX"
    wrong_password = "Wrong-pw-that-is-secret-42"
    caplog.set_level(logging.DEBUG)
    response = APIClient(HTTP_AUTHORIZATION=f"Token {bad_token}").post(
        "/api/v1/cases", {}, format="multipart"
    )
    assert response.status_code == 401
    response = Client().post("/login/", {"username": "clerk", "password": wrong_password})
    assert response.status_code in (200, 429)
    # Even code that logs a credential by mistake has it blanked by the handlers' filter.
    logging.getLogger("dangan.test").warning("request headers: %s", {"HTTP_AUTHORIZATION": f"Token {token}"})
    logging.getLogger("dangan.test").warning("form: username=clerk&password=%s", wrong_password)
    written = console_output.getvalue()
    assert "request headers" in written and MASK in written
    for value in (token, bad_token, wrong_password):
        assert value not in written
    # What the app itself logs (caplog sees records before any handler filter) holds no secret either.
    app_records = [r for r in caplog.records if r.name != "dangan.test"]
    assert app_records  # the 401 at least ("Unauthorized: /api/v1/cases")
    for record in app_records:
        text = record.getMessage() + (
            logging.Formatter().formatException(record.exc_info) if record.exc_info else ""
        )
        assert bad_token not in text and token not in text and wrong_password not in text


def test_error_reports_hide_credentials(rf):
    request = rf.post(
        "/api/v1/cases",
        {"password": "Form-pw-secret", "csrfmiddlewaretoken": "csrf-value-123456", "q": "visible"},
        HTTP_AUTHORIZATION="Token dgn_secret_token_value",
        HTTP_COOKIE="sessionid=session-value-0001",
    )
    reporter = SafeReporterFilter()
    meta = reporter.get_safe_request_meta(request)
    assert meta["HTTP_AUTHORIZATION"] == reporter.cleansed_substitute
    assert meta["HTTP_COOKIE"] == reporter.cleansed_substitute
    post = reporter.get_post_parameters(request)
    assert post["password"] == post["csrfmiddlewaretoken"] == reporter.cleansed_substitute
    assert post["q"] == "visible"
    assert reporter.get_safe_settings()["SECRET_KEY"] == reporter.cleansed_substitute

    def view_that_fails(token_value):
        api_token = token_value  # a local variable named like a credential
        raise RuntimeError(f"failed after {len(api_token)} characters")

    try:
        view_that_fails(request.META["HTTP_AUTHORIZATION"])
    except RuntimeError:
        text = ExceptionReporter(request, *sys.exc_info()).get_traceback_text()
    for value in ("dgn_secret_token_value", "session-value-0001", "Form-pw-secret"):
        assert value not in text, value
    assert "visible" in text
