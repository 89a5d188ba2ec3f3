#!/usr/bin/env bash
# Create bench/.venv-phoenix: a separate virtualenv holding Arize Phoenix, the peer of the OTLP
# ingest benchmark (bench_ingest.py). Phoenix pins many dependencies, so it never goes into the
# project's own virtualenv.
#
# Usage: bench/setup_phoenix.sh [python-interpreter]        (default: python3)
#        PHOENIX_VERSION=20.26.1 bench/setup_phoenix.sh     (another version; default: latest)
#
# Phoenix reaches PostgreSQL through asyncpg (`postgresql://` URLs in PHOENIX_SQL_DATABASE_URL);
# the script checks that asyncpg came with it and installs it when it did not.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${1:-python3}"
VENV="$HERE/.venv-phoenix"
PHOENIX_VERSION="${PHOENIX_VERSION:-}"
SPEC="arize-phoenix${PHOENIX_VERSION:+==$PHOENIX_VERSION}"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"${PIP[@]}" --upgrade pip
"${PIP[@]}" "$SPEC"
if ! "$VENV/bin/python" -c "import asyncpg" 2>/dev/null; then
    "${PIP[@]}" asyncpg
fi
"$VENV/bin/python" - <<'PY'
from importlib.metadata import version

print("arize-phoenix", version("arize-phoenix"), "/ asyncpg", version("asyncpg"))
PY
echo "peer ready: $VENV (run: $VENV/bin/phoenix serve)"
