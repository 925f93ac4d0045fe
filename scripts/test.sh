#!/usr/bin/env bash
# Install the test dependencies and run the whole suite:
#   lint (ruff), types (mypy), tests on SQLite, then the same tests on PostgreSQL + Redis when they
#   are reachable (in CI they must be: CI=true makes their absence an error, not a skip).
# Options via environment: PYTHON (interpreter for the venv), DANGAN_TEST_PG (PostgreSQL URL),
#   DANGAN_TEST_REDIS (Redis URL), PYTEST_ARGS (extra pytest arguments).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
PG_URL=${DANGAN_TEST_PG:-postgres://postgres@127.0.0.1:5432/test}
REDIS_URL=${DANGAN_TEST_REDIS:-redis://127.0.0.1:6379/15}

# System tools the tests use, from Debian: Chromium (browser tests), ClamAV (virus check 4-2 with a
# signature database the test writes), ffmpeg (ffprobe for audio/video validation), a CJK TrueType font
# (embedded in PDF reports), LibreOffice (Writer + Calc, no GUI) and Ghostscript (format migration of
# DOC/DOCX/XLS/XLSX to PDF/A-2b).
SYSTEM_PACKAGES="chromium clamav clamav-daemon ffmpeg fonts-wqy-microhei libreoffice-writer-nogui libreoffice-calc-nogui ghostscript"
missing=""
for pkg in $SYSTEM_PACKAGES; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing="$missing $pkg"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "== installing from Debian:$missing"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  elif [ "${CI:-}" = "true" ]; then
    echo "!! CI: missing Debian packages:$missing (apt-get install$missing)" >&2
    exit 1
  else
    echo "!! missing Debian packages:$missing — tests that need them will be skipped" >&2
  fi
fi

[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
echo "== installing test dependencies"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

echo "== ruff"
.venv/bin/ruff check src tests bench conftest.py
.venv/bin/ruff format --check src tests bench conftest.py
echo "== mypy"
.venv/bin/mypy src

echo "== pytest on SQLite"
.venv/bin/pytest ${PYTEST_ARGS:-}

reachable() {
  .venv/bin/python - "$PG_URL" "$REDIS_URL" <<'PY'
import sys
import psycopg, redis
try:
    psycopg.connect(sys.argv[1].replace("postgres://", "postgresql://"), connect_timeout=3).close()
    redis.Redis.from_url(sys.argv[2], socket_connect_timeout=3).ping()
except Exception as exc:
    print(f"not reachable: {exc}", file=sys.stderr)
    sys.exit(1)
PY
}

if reachable; then
  echo "== pytest on PostgreSQL + Redis"
  DANGAN_DATABASE_URL="$PG_URL" DANGAN_REDIS_URL="$REDIS_URL" .venv/bin/pytest -m "not browser" ${PYTEST_ARGS:-}
elif [ "${CI:-}" = "true" ]; then
  echo "!! CI: PostgreSQL and Redis must be reachable at $PG_URL and $REDIS_URL" >&2
  exit 1
else
  echo "!! PostgreSQL/Redis not reachable: only the SQLite run was done" >&2
fi
