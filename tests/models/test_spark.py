"""`spark_udf` on a local Spark session: single, multiple and struct input columns, scalar,
array and struct results, and one model load per executor Python worker.

Skipped when pyspark or Java is missing, unless CI=true (then those tests fail).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from llmtrace.models import (
    ColSpec,
    ModelInputError,
    ModelSignature,
    ParamSpec,
    PythonModel,
    log_model,
    save_model,
    spark_udf,
)
from tests.models.conftest import FakeRegistry

REPO = Path(__file__).resolve().parents[2]
# pyspark warns about pandas 3 on every UDF; the tests below are what tells whether it works.
pytestmark = pytest.mark.filterwarnings(
    "ignore:PySpark does not yet fully support pandas:FutureWarning"
)


def _missing() -> list[str]:
    missing = []
    if importlib.util.find_spec("pyspark") is None or importlib.util.find_spec("pyarrow") is None:
        missing.append("pyspark/pyarrow (pip install 'llmtrace[spark]')")
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        missing.append("Java (a JDK 17+ on PATH or JAVA_HOME)")
    return missing


@pytest.fixture(scope="module")
def spark(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    missing = _missing()
    if missing:
        message = f"Spark tests need {' and '.join(missing)}"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"{message} (failing rather than skipping: CI=true)", pytrace=False)
        pytest.skip(message)
    from pyspark.sql import SparkSession

    home = tmp_path_factory.mktemp("spark-home")
    with pytest.MonkeyPatch.context() as mp:
        # Executor workers are started by the JVM with this environment: the same Python,
        # able to import llmtrace, and writing nothing outside the test's folders.
        mp.setenv("PYSPARK_PYTHON", sys.executable)
        mp.setenv("PYSPARK_DRIVER_PYTHON", sys.executable)
        mp.setenv(
            "PYTHONPATH", os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
        )
        mp.setenv("LLMTRACE_HOME", str(home))
        mp.setenv("LLMTRACE_ENABLED", "false")
        session = (
            SparkSession.builder.master("local[1]")
            .appName("llmtrace-models-tests")
            .config("spark.ui.enabled", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.driver.memory", "512m")
            .config("spark.python.worker.reuse", "true")
            .config("spark.local.dir", str(home / "local"))
            .config("spark.sql.warehouse.dir", str(home / "warehouse"))
            .getOrCreate()
        )
        session.sparkContext.setLogLevel("ERROR")
        try:
            yield session
        finally:
            session.stop()


class CountingModel(PythonModel):
    """Upper-cases questions; appends a line to a file each time it is loaded."""

    def __init__(self, counter: str) -> None:
        self.counter = counter

    def load_context(self, context: Any) -> None:
        with open(self.counter, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()}\n")

    def predict(self, model_input: pd.DataFrame, params: Any = None) -> list[str]:
        return [q.upper() for q in model_input["question"]]


def test_single_column_udf_loads_the_model_once_per_worker(spark: Any, tmp_path: Path) -> None:
    counter = tmp_path / "loads.txt"
    sig = ModelSignature(inputs=[ColSpec("question", "string")])
    save_model(tmp_path / "m", python_model=CountingModel(str(counter)), signature=sig)
    udf = spark_udf(spark, tmp_path / "m")
    from pyspark.sql.functions import col, concat, lit

    # Four partitions (four tasks), made in the JVM: no shuffle, no extra Python job.
    df = spark.range(0, 8, numPartitions=4).select(concat(lit("q"), col("id")).alias("question"))
    rows = df.withColumn("answer", udf("question")).collect()
    assert sorted(r["answer"] for r in rows) == sorted(f"Q{i}" for i in range(8))
    loads = counter.read_text(encoding="utf-8").split()
    # Four tasks ran in the single, reused Python worker: one load, not one per task.
    assert len(loads) == 1, loads


def test_multiple_and_struct_columns_with_a_double_result(spark: Any, tmp_path: Path) -> None:
    def score(frame: pd.DataFrame) -> pd.Series:
        return frame["question"].str.len() * frame["k"]

    sig = ModelSignature(inputs=[ColSpec("question", "string"), ColSpec("k", "double")])
    save_model(tmp_path / "m", score, signature=sig)
    udf = spark_udf(spark, str(tmp_path / "m"), result_type="double")
    from pyspark.sql.functions import struct

    # k arrives as a long column: the signature's double accepts it.
    df = spark.createDataFrame([("ab", 2), ("abcd", 3)], ["question", "k"])
    plain = df.withColumn("s", udf("question", "k")).orderBy("question").collect()
    assert [r["s"] for r in plain] == [4.0, 12.0]
    as_struct = df.withColumn("s", udf(struct("question", "k"))).orderBy("question").collect()
    assert [r["s"] for r in as_struct] == [4.0, 12.0]


def test_array_and_struct_results(spark: Any, tmp_path: Path) -> None:
    def split(frame: pd.DataFrame) -> list[list[str]]:
        return [t.split() for t in frame["text"]]

    def label(frame: pd.DataFrame) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "label": ["long" if len(t) > 3 else "short" for t in frame["text"]],
                "score": [float(len(t)) for t in frame["text"]],
            }
        )

    sig = ModelSignature(inputs=[ColSpec("text", "string")])
    save_model(tmp_path / "split", split, signature=sig)
    labelled = ModelSignature(
        inputs=[ColSpec("text", "string")],
        outputs=[ColSpec("label", "string"), ColSpec("score", "double")],
    )
    save_model(tmp_path / "label", label, signature=labelled)
    df = spark.createDataFrame([("a b",), ("c d e",)], ["text"])
    tokens = spark_udf(spark, tmp_path / "split", result_type="array<string>")
    assert [r["t"] for r in df.select(tokens("text").alias("t")).collect()] == [
        ["a", "b"],
        ["c", "d", "e"],
    ]
    labels = spark_udf(spark, tmp_path / "label")  # the struct type from the output signature
    out = df.select(labels("text").alias("l")).collect()
    assert [(r["l"]["label"], r["l"]["score"]) for r in out] == [("short", 3.0), ("long", 5.0)]


def test_llm_pipeline_from_a_models_uri_with_params(spark: Any, tmp_path: Path) -> None:
    def rag(question: str, params: Any = None) -> str:
        return f"{question}:{params['style']}"

    sig = ModelSignature(
        inputs=[ColSpec("question", "string")], params=[ParamSpec("style", "string", "short")]
    )
    save_model(tmp_path / "rag", rag, prompts=["prompts:/qa/1"], signature=sig)
    registry = FakeRegistry()
    registry.add("rag", str(tmp_path / "rag"))
    udf = spark_udf(spark, "models:/rag/1", params={"style": "long"}, store=registry)
    df = spark.createDataFrame([("a",), ("b",)], ["question"])
    assert sorted(r["a"] for r in df.select(udf("question").alias("a")).collect()) == [
        "a:long",
        "b:long",
    ]


def test_a_runs_uri_is_downloaded_once_on_the_driver(spark: Any, tracking: str) -> None:
    def shout(frame: pd.DataFrame) -> list[str]:
        return [q.upper() + "!" for q in frame["question"]]

    info = log_model(shout, "shout", input_example={"question": "q"})
    udf = spark_udf(spark, info.model_uri)
    df = spark.createDataFrame([("a",), ("b",)], ["question"])
    assert sorted(r["s"] for r in df.select(udf("question").alias("s")).collect()) == ["A!", "B!"]


def test_bad_params_fail_on_the_driver(spark: Any, tmp_path: Path) -> None:
    sig = ModelSignature(inputs=[ColSpec("q", "string")], params=[ParamSpec("t", "double", 0.0)])
    save_model(tmp_path / "m", lambda df, params=None: list(df["q"]), signature=sig)
    with pytest.raises(ModelInputError, match=r"unknown param\(s\) \['k'\]"):
        spark_udf(spark, tmp_path / "m", params={"k": 1})


def test_columns_name_the_inputs_of_a_model_without_signature(spark: Any, tmp_path: Path) -> None:
    from pyspark.sql.types import LongType

    def add(frame: pd.DataFrame) -> pd.Series:
        return frame["a"] + frame["b"]

    save_model(tmp_path / "m", add)
    udf = spark_udf(spark, tmp_path / "m", result_type=LongType(), columns=["a", "b"])
    df = spark.createDataFrame([(1, 2), (10, 20)], ["x", "y"])
    assert [r["s"] for r in df.select(udf("x", "y").alias("s")).orderBy("s").collect()] == [3, 30]
