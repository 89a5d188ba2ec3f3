"""MLflow side of `bench_serve.py`; runs with the interpreter of bench/.venv-mlflow.

    python peer_mlflow_serve.py save <folder>    write the identity model as an MLflow pyfunc
                                                 model at <folder>; prints {"saved": <folder>}

The server itself is `mlflow models serve`, started by bench_serve.py.
"""

from __future__ import annotations

import json
import sys

import mlflow.pyfunc


class Identity(mlflow.pyfunc.PythonModel):
    """The benchmark's model: returns its input unchanged (the same function as llmtrace's)."""

    # No type hints on purpose: MLflow would derive a signature from them.
    def predict(self, context, model_input, params=None):  # type: ignore[no-untyped-def]
        return model_input


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "save":
        print(__doc__, file=sys.stderr)
        return 2
    mlflow.pyfunc.save_model(argv[1], python_model=Identity())
    print(json.dumps({"saved": argv[1], "mlflow": mlflow.__version__}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
