"""Bytes of the convenience artifacts: dicts (JSON/YAML), text, tables and figures."""

from __future__ import annotations

import datetime
import io
import json
import math
import posixpath
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from llmtrace.exceptions import ConfigError, InvalidParameterError

if TYPE_CHECKING:
    import pandas as pd

_IMAGE_FORMATS = ("png", "jpg", "jpeg", "svg", "pdf", "webp")


def _extension(artifact_file: str) -> str:
    return posixpath.splitext(artifact_file)[1].lower().lstrip(".")


def dict_bytes(dictionary: Mapping[str, Any], artifact_file: str) -> bytes:
    """JSON (indented, UTF-8), or YAML for a `.yaml`/`.yml` file (needs PyYAML)."""
    if _extension(artifact_file) in ("yaml", "yml"):
        try:
            import yaml  # type: ignore[import-untyped]
        except ImportError as exc:
            raise ConfigError(
                "log_dict to a .yaml file needs PyYAML: pip install pyyaml (or use .json)"
            ) from exc
        text: str = yaml.safe_dump(dict(dictionary), sort_keys=False, allow_unicode=True)
        return text.encode("utf-8")
    try:
        return json.dumps(dictionary, indent=2, ensure_ascii=False).encode("utf-8")
    except TypeError as exc:
        raise InvalidParameterError(
            f"log_dict: the dictionary is not JSON-serializable: {exc}"
        ) from exc


def table_frame(data: Any) -> pd.DataFrame:
    """A DataFrame from a DataFrame or a mapping of column -> values."""
    import pandas as pd

    if isinstance(data, pd.DataFrame):
        return data
    if isinstance(data, Mapping):
        frame: pd.DataFrame = pd.DataFrame(dict(data))
        return frame
    raise InvalidParameterError(
        f"log_table takes a pandas DataFrame or a dict of columns, got {type(data).__name__}"
    )


def _cell(value: Any) -> Any:
    """A JSON-ready table cell: floats exact (NaN/NaT/None as null, +/-inf as
    Infinity/-Infinity), times as ISO-8601, numpy scalars as Python ones, other objects as
    their `str()`."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) else value
    import pandas as pd

    if pd.api.types.is_scalar(value) and pd.isna(value):  # NaT, pd.NA, numpy NaN
        return None
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    item = getattr(value, "item", None)  # numpy scalars
    if callable(item):
        try:
            return _cell(item())
        except (TypeError, ValueError):
            pass
    return str(value)


def table_bytes(data: Any, artifact_file: str) -> bytes:
    """A table as JSON `{"columns": [...], "data": [[row], ...]}` (pandas' "split" layout
    without the index: `pd.read_json(f, orient="split", precise_float=True)` reads it back,
    floats exactly) or as CSV."""
    frame = table_frame(data)
    ext = _extension(artifact_file)
    if ext == "json":
        split = frame.to_dict(orient="split", index=False)
        payload = {
            "columns": [_cell(c) for c in split["columns"]],
            "data": [[_cell(v) for v in row] for row in split["data"]],
        }
        return json.dumps(payload, ensure_ascii=False).encode("utf-8")
    if ext == "csv":
        return frame.to_csv(index=False).encode("utf-8")
    raise InvalidParameterError(f"log_table writes .json or .csv files, got {artifact_file!r}")


def read_table(data: bytes, artifact_file: str) -> pd.DataFrame:
    """The DataFrame that `table_bytes` wrote."""
    import pandas as pd

    if _extension(artifact_file) == "csv":
        return pd.read_csv(io.BytesIO(data))
    text = io.StringIO(data.decode("utf-8"))
    return pd.read_json(text, orient="split", precise_float=True)


def figure_bytes(figure: Any, artifact_file: str) -> bytes:
    """A matplotlib figure saved in the file's format, or a plotly figure as self-contained
    HTML (`.html`) or an image (needs plotly's `kaleido`)."""
    ext = _extension(artifact_file)
    if not ext:
        raise InvalidParameterError(
            f"log_figure needs a file extension to choose the format, got {artifact_file!r} "
            "(e.g. 'plots/loss.png', '.svg', '.pdf', or '.html' for plotly)"
        )
    if callable(getattr(figure, "savefig", None)):  # matplotlib Figure (or pyplot)
        buffer = io.BytesIO()
        figure.savefig(buffer, format=ext)
        return buffer.getvalue()
    if callable(getattr(figure, "to_html", None)) and callable(getattr(figure, "to_image", None)):
        if ext in ("html", "htm"):
            html: str = figure.to_html(full_html=True, include_plotlyjs=True)
            return html.encode("utf-8")
        if ext in _IMAGE_FORMATS:
            return bytes(figure.to_image(format=ext))
        raise InvalidParameterError(
            f"a plotly figure is logged as .html or an image ({', '.join(_IMAGE_FORMATS)}), "
            f"got {artifact_file!r}"
        )
    raise InvalidParameterError(
        f"log_figure takes a matplotlib or plotly figure, got {type(figure).__name__}"
    )


__all__ = ["dict_bytes", "figure_bytes", "read_table", "table_bytes", "table_frame"]
