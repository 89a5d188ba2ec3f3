#!/usr/bin/env bash
# Create bench/.venv-mlflow: a separate virtualenv holding the peer (MLflow) for the benchmarks.
# MLflow pins many dependencies, so it never goes into the project's own virtualenv.
#
# Usage: bench/setup_peer.sh [python-interpreter]    (default: python3)
#        MLFLOW_VERSION=3.17.2 bench/setup_peer.sh   (another version)
#
# MLflow does not bring a PostgreSQL driver; the script installs psycopg (PSYCOPG_VERSION,
# default the one the benchmarks ran llmtrace with) so that both systems use the same driver.
#
# If `pip install mlflow==X` fails because the package index lacks the matching
# `mlflow-skinny==X`/`mlflow-tracing==X` (the full `mlflow` wheel contains the whole `mlflow`
# package anyway), the script installs the `mlflow==X` wheel without dependencies and then its
# dependencies by hand, taking the skinny ones from the newest `mlflow-skinny` available.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PYTHON="${1:-python3}"
VENV="$HERE/.venv-mlflow"
MLFLOW_VERSION="${MLFLOW_VERSION:-3.18.0}"
PSYCOPG_VERSION="${PSYCOPG_VERSION:-3.3.9}"
PIP=("$VENV/bin/python" -m pip install --quiet --disable-pip-version-check)

if [[ ! -x "$VENV/bin/python" ]]; then
    "$PYTHON" -m venv "$VENV"
fi
"${PIP[@]}" --upgrade pip

if "$VENV/bin/python" -c "import sys, mlflow; sys.exit(mlflow.__version__ != '$MLFLOW_VERSION')" \
        2>/dev/null; then
    echo "mlflow $MLFLOW_VERSION already installed in $VENV"
elif ! "${PIP[@]}" "mlflow==$MLFLOW_VERSION"; then
    echo "mlflow==$MLFLOW_VERSION did not install with its pinned dependencies;" \
         "installing the wheel without them and its dependencies by hand" >&2
    # 1. The newest mlflow-skinny brings the skinny dependency set; remove its files after.
    "${PIP[@]}" mlflow-skinny
    "$VENV/bin/python" -m pip uninstall --quiet --yes mlflow-skinny
    # 2. The full wheel (it contains the complete `mlflow` package); reinstalled, since step 1
    #    removed the files it shares with mlflow-skinny when it was already there.
    "${PIP[@]}" --no-deps --force-reinstall "mlflow==$MLFLOW_VERSION"
    # 3. Its own direct requirements, except the two companion packages.
    mapfile -t REQS < <("$VENV/bin/python" - <<'PY'
from importlib.metadata import requires
from packaging.requirements import Requirement

for text in requires("mlflow") or []:
    req = Requirement(text)
    if req.name in ("mlflow-skinny", "mlflow-tracing"):
        continue
    if req.marker is not None and not req.marker.evaluate({"extra": ""}):
        continue
    print(str(req).split(";")[0])
PY
)
    "${PIP[@]}" "${REQS[@]}"
fi
# MLflow's PostgreSQL driver for bench_tracking.py (the same one llmtrace uses there).
"${PIP[@]}" "psycopg[binary]==$PSYCOPG_VERSION"
"$VENV/bin/python" -c "import mlflow, psycopg, sqlalchemy; print('mlflow', mlflow.__version__, '/ psycopg', psycopg.__version__)"
echo "peer ready: $VENV"
