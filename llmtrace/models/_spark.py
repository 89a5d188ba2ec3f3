"""Batch inference on Apache Spark: `spark_udf` wraps a model in a pandas UDF.

This module avoids `from __future__ import annotations`: pyspark reads the UDF's type hints
at runtime to choose the UDF kind, and Union/Tuple spellings are what it recognises.
"""

import os
import shutil
import tempfile
import threading
import uuid
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Tuple, Union  # noqa: UP035

import numpy as np
import pandas as pd

from llmtrace.exceptions import InvalidParameterError
from llmtrace.models._descriptor import ModelDescriptor
from llmtrace.models._enforce import enforce_params
from llmtrace.models._errors import ModelInputError
from llmtrace.models._flavors import get_flavor
from llmtrace.models._load import LoadedModel, load_from_folder
from llmtrace.models._signature import ColSpec, ModelSignature
from llmtrace.models._uri import ResolvedModelUri, download_model, resolve_model_uri

# Models loaded in this Python worker, by the name of their folder in SparkFiles: a worker
# process is reused across tasks, so each executor worker loads a model once.
_WORKER_MODELS: dict[str, LoadedModel] = {}
_WORKER_LOCK = threading.Lock()

Batch = Tuple[Union[pd.Series, pd.DataFrame], ...]  # noqa: UP006, UP007


def _worker_model(name: str, driver_path: str, resolved: ResolvedModelUri) -> LoadedModel:
    with _WORKER_LOCK:
        model = _WORKER_MODELS.get(name)
        if model is None:
            from pyspark import SparkFiles

            path = Path(SparkFiles.get(name))
            if not path.is_dir():  # not shipped (e.g. a local session without the file)
                path = Path(driver_path)
            model = load_from_folder(path, resolved)
            _WORKER_MODELS[name] = model
        return model


def _input_frame(batch: Any, names: Sequence[Any] | None) -> pd.DataFrame:
    if isinstance(batch, (pd.Series, pd.DataFrame)):  # a UDF called with one column
        batch = (batch,)
    if len(batch) == 1 and isinstance(batch[0], pd.DataFrame):
        return batch[0]  # a struct column: its fields are the columns
    if names is None:  # no signature: positional columns 0, 1, ...
        names = range(len(batch))
    if len(batch) > len(names):
        raise ModelInputError(
            f"the UDF got {len(batch)} columns but the model takes {len(names)} "
            f"({list(names)}): pass columns=[...] to spark_udf"
        )
    columns: dict[Any, pd.Series] = {}
    for name, part in zip(names, batch, strict=False):
        if isinstance(part, pd.DataFrame):
            raise ModelInputError("pass either one struct column or plain columns to the UDF")
        columns[name] = part.reset_index(drop=True)
    frame: pd.DataFrame = pd.DataFrame(columns)
    return frame


def _as_list(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, tuple):
        return list(value)
    return value


def _output_series(result: Any, rows: int, return_type: Any) -> pd.Series:
    from pyspark.sql import types as T

    if isinstance(result, pd.DataFrame):
        if result.shape[1] != 1:
            raise ModelInputError(
                f"the model returned {result.shape[1]} columns: use a struct result_type"
            )
        series = result.iloc[:, 0]
    elif isinstance(result, pd.Series):
        series = result
    elif isinstance(result, np.ndarray):
        series = pd.Series(list(result) if result.ndim > 1 else result)
    elif isinstance(result, (list, tuple)):
        series = pd.Series(list(result), dtype=object)
    else:
        raise ModelInputError(
            f"the model returned a {type(result).__name__}; a UDF needs one value per row"
        )
    series = series.reset_index(drop=True)
    if len(series) != rows:
        raise ModelInputError(f"the model returned {len(series)} values for {rows} rows")
    if isinstance(return_type, T.StringType):
        return series.map(lambda v: None if v is None else str(v)).astype(object)
    if isinstance(return_type, (T.DoubleType, T.FloatType)):
        return series.astype(np.float64 if isinstance(return_type, T.DoubleType) else np.float32)
    if isinstance(return_type, (T.LongType, T.IntegerType, T.ShortType, T.ByteType)):
        return series.astype(np.int64 if isinstance(return_type, T.LongType) else np.int32)
    if isinstance(return_type, T.BooleanType):
        return series.astype(bool)
    if isinstance(return_type, T.ArrayType):
        return series.map(_as_list)
    return series


def _output_frame(result: Any, rows: int, return_type: Any) -> pd.DataFrame:
    names = [f.name for f in return_type.fields]
    frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(list(result))
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise ModelInputError(f"the model's output lacks the struct fields {missing}")
    if len(frame) != rows:
        raise ModelInputError(f"the model returned {len(frame)} rows for {rows}")
    out: pd.DataFrame = frame[names].reset_index(drop=True)
    return out


# Spark SQL types of the signature's column types.
_SPARK_TYPES = {
    "string": "string",
    "integer": "int",
    "long": "bigint",
    "double": "double",
    "float": "float",
    "boolean": "boolean",
    "binary": "binary",
    "datetime": "timestamp",
}


def result_type_of(signature: ModelSignature | None) -> str:
    """The Spark DDL type of a model's outputs: its one output column's type, a struct of its
    named output columns, an array for a "list" column; "string" when the signature says
    nothing usable (no outputs, or "object" columns).

    Example:
        >>> result_type_of(ModelSignature(outputs=[ColSpec("label", "string"),
        ...                                        ColSpec("score", "double")]))
        'struct<label:string,score:double>'
    """
    outputs = signature.outputs if signature is not None else None
    if not outputs:
        return "string"

    def ddl(spec: ColSpec) -> str | None:
        if spec.type == "list":
            inner = _SPARK_TYPES.get(spec.items or "")
            return f"array<{inner}>" if inner else None
        return _SPARK_TYPES.get(spec.type)

    types = [ddl(spec) for spec in outputs]
    if any(t is None for t in types):
        return "string"
    if len(outputs) == 1:
        return str(types[0])
    if any(spec.name is None for spec in outputs):
        return "string"
    return "struct<" + ",".join(f"{s.name}:{t}" for s, t in zip(outputs, types, strict=True)) + ">"


def spark_udf(
    spark: Any,
    model_uri: str | os.PathLike[str],
    result_type: Any = None,
    columns: Sequence[str] | None = None,
    *,
    params: Mapping[str, Any] | None = None,
    store: Any = None,
) -> Any:
    """A Spark pandas UDF that scores rows with a model.

    The model folder is resolved and downloaded once on the driver, shipped to the executors
    with `SparkContext.addFile`, and loaded once per executor Python worker. Call the UDF
    with the input columns (named after `columns`, else the signature's inputs, by
    position) or with one struct column whose fields are the inputs. `result_type` is a
    DDL string ("string", "double", "array<string>", "struct<label:string,score:double>")
    or a pyspark `DataType`; by default it comes from the model's output signature
    (`result_type_of`), else "string". `params` are passed to every `predict`.

    Needs `pip install 'llmtrace[spark]'`, and llmtrace on the executors.

    Example:
        >>> answer = llmtrace.models.spark_udf(spark, "models:/rag@champion")
        >>> df.withColumn("answer", answer("question")).show()
    """
    try:
        from pyspark.sql.pandas.functions import pandas_udf
    except ImportError as exc:
        raise ImportError(
            "spark_udf needs pyspark and pyarrow: pip install 'llmtrace[spark]'"
        ) from exc

    resolved = resolve_model_uri(model_uri, store=store)
    # The folder shipped to the executors: a copy of a local model, or the run's download.
    staging = Path(tempfile.mkdtemp(prefix="llmtrace-spark-"))
    local = download_model(resolved, store=store, dst_path=staging / "download")
    descriptor = ModelDescriptor.read(local)
    get_flavor(descriptor.flavor)  # an unknown flavor fails here, not in every task
    inputs = descriptor.signature.inputs if descriptor.signature is not None else None
    names: list[Any] | None = None
    if columns is not None:
        names = list(columns)
    elif inputs:
        names = [spec.name if spec.name is not None else i for i, spec in enumerate(inputs)]
    fixed_params = dict(params or {})
    if descriptor.signature is not None:  # bad params fail here, not in every task
        enforce_params(fixed_params, descriptor.signature.params)
    try:
        context = spark.sparkContext
    except Exception as exc:  # Spark Connect sessions have no SparkContext
        raise InvalidParameterError(
            "spark_udf needs a classic SparkSession (with a SparkContext); Spark Connect "
            "sessions are not supported"
        ) from exc

    # Unique per call: SparkFiles keeps one file per name for the life of the context.
    name = f"llmtrace-model-{descriptor.model_uuid[:12]}-{uuid.uuid4().hex[:8]}"
    shipped = staging / name
    if local.is_relative_to(staging):
        local.rename(shipped)
    else:
        shutil.copytree(local, shipped)
    context.addFile(str(shipped), recursive=True)
    driver_path = str(shipped)

    def predict(batch: Batch) -> Any:
        model = _worker_model(name, driver_path, resolved)
        frame = _input_frame(batch, names)
        return model.predict(frame, params=fixed_params), len(frame)

    def series_udf(batches: Iterator[Batch]) -> Iterator[pd.Series]:
        for batch in batches:
            result, rows = predict(batch)
            yield _output_series(result, rows, return_type)

    def struct_udf(batches: Iterator[Batch]) -> Iterator[pd.DataFrame]:
        for batch in batches:
            result, rows = predict(batch)
            yield _output_frame(result, rows, return_type)

    from pyspark.sql import types as T

    # pyspark parses the DDL string; the closures above read the parsed type when they run.
    if result_type is None:
        result_type = result_type_of(descriptor.signature)
    probe = pandas_udf(series_udf, result_type)  # type: ignore[call-overload]
    return_type = probe.returnType
    if isinstance(return_type, T.StructType):
        return pandas_udf(struct_udf, return_type)  # type: ignore[call-overload]
    return probe


__all__ = ["result_type_of", "spark_udf"]
