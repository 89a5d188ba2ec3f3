"""Saving and loading model folders: the descriptor, each flavor, input examples,
requirements, code paths, artifacts, and the errors for bad folders."""

from __future__ import annotations

import datetime as dt
import platform
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import yaml

from llmtrace._version import __version__
from llmtrace.exceptions import InvalidParameterError
from llmtrace.models import (
    DESCRIPTOR_FILE,
    ColSpec,
    ModelContext,
    ModelDescriptor,
    ModelLoadError,
    ModelSignature,
    PythonModel,
    infer_signature,
    load_model,
    save_model,
)


def shout(df: pd.DataFrame) -> list[str]:
    return [q.upper() for q in df["question"]]


class Greeter(PythonModel):
    """A PythonModel reading an artifact in load_context."""

    def __init__(self, punctuation: str) -> None:
        self.punctuation = punctuation
        self.greeting: str | None = None
        self.loaded_from: Path | None = None

    def load_context(self, context: ModelContext) -> None:
        self.greeting = Path(context.artifacts["greeting"]).read_text(encoding="utf-8").strip()
        self.loaded_from = context.model_path

    def predict(self, model_input: Any, params: Mapping[str, Any] | None = None) -> list[str]:
        suffix = (params or {}).get("suffix", "")
        return [f"{self.greeting} {n}{self.punctuation}{suffix}" for n in model_input["name"]]


def test_descriptor_records_the_model(tmp_path: Path) -> None:
    before = dt.datetime.now(dt.timezone.utc)
    sig = infer_signature({"question": "q"}, ["A"])
    save_model(
        tmp_path / "m",
        shout,
        signature=sig,
        input_example={"question": "hello"},
        requirements=["pandas>=2", "httpx==0.27.0"],
        metadata={"team": "search", "eval": {"f1": 0.8}},
    )
    raw = yaml.safe_load((tmp_path / "m" / DESCRIPTOR_FILE).read_text(encoding="utf-8"))
    assert raw["flavor"] == "python"
    assert raw["loader"]["kind"] == "callable"
    assert raw["created_at"].endswith("Z")
    assert raw["llmtrace_version"] == __version__
    assert raw["python_version"] == platform.python_version()
    assert raw["run_id"] is None  # saved outside any run
    assert raw["signature"]["inputs"] == [{"name": "question", "type": "string", "required": True}]
    assert raw["input_example"] == "input_example.json"

    descriptor = ModelDescriptor.read(tmp_path / "m")
    assert len(descriptor.model_uuid) == 32
    assert before <= descriptor.created_at <= dt.datetime.now(dt.timezone.utc)
    assert descriptor.signature == sig
    assert descriptor.metadata == {"team": "search", "eval": {"f1": 0.8}}
    # The user's pins win over the inferred ones, and are added when new.
    assert descriptor.requirements[0] == f"llmtrace=={__version__}"
    assert "pandas>=2" in descriptor.requirements
    assert not any(r.startswith("pandas==") for r in descriptor.requirements)
    assert "httpx==0.27.0" in descriptor.requirements
    assert any(r.startswith("cloudpickle==") for r in descriptor.requirements)
    lines = (tmp_path / "m" / "requirements.txt").read_text(encoding="utf-8").splitlines()
    assert lines == descriptor.requirements

    model = load_model(tmp_path / "m")
    assert model.predict("hi") == ["HI"]
    assert model.descriptor == descriptor
    assert model.metadata["team"] == "search"
    assert model.load_input_example() == {"question": "hello"}
    assert model.registered_name is None and model.registered_version is None


def test_requirements_from_a_file(tmp_path: Path) -> None:
    req = tmp_path / "reqs.txt"
    req.write_text("# pins\nopenai==1.60.0\n\n", encoding="utf-8")
    descriptor = save_model(tmp_path / "m", shout, requirements=req)
    assert descriptor.requirements[-1] == "openai==1.60.0"
    with pytest.raises(InvalidParameterError, match="is not a file"):
        save_model(tmp_path / "m2", shout, requirements=str(tmp_path / "missing.txt"))


def test_python_model_class_with_artifacts_and_params(tmp_path: Path) -> None:
    greeting = tmp_path / "greeting.txt"
    greeting.write_text("Hello\n", encoding="utf-8")
    sig = infer_signature({"name": "Ada"}, params={"suffix": ""})
    save_model(
        tmp_path / "m",
        python_model=Greeter("!"),
        signature=sig,
        artifacts={"greeting": greeting},
    )
    greeting.unlink()  # the model folder has its own copy
    model = load_model(f"file://{tmp_path / 'm'}")
    assert model.descriptor.loader["kind"] == "class"
    assert model.predict({"name": ["Ada", "Alan"]}) == ["Hello Ada!", "Hello Alan!"]
    assert model.predict("Grace", params={"suffix": "?"}) == ["Hello Grace!?"]
    inner = model.unwrap()
    assert isinstance(inner, Greeter) and inner.loaded_from == tmp_path / "m"


def test_sklearn_flavor_predict_and_predict_proba(tmp_path: Path) -> None:
    linear_model = pytest.importorskip("sklearn.linear_model")
    x = np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [1.0, 0.0]] * 5)
    y = np.array([0, 1, 1, 0] * 5)
    clf = linear_model.LogisticRegression().fit(x, y)
    save_model(tmp_path / "labels", clf, input_example=x[:2])
    save_model(
        tmp_path / "proba", clf, predict_method="predict_proba", signature=infer_signature(x)
    )

    labels = load_model(tmp_path / "labels")
    assert labels.flavor == "sklearn"
    assert any(r.startswith("scikit-learn==") for r in labels.descriptor.requirements)
    assert labels.predict(x[:4]).tolist() == clf.predict(x[:4]).tolist()
    assert labels.predict([[1, 1]]).tolist() == [1]  # ints converted to the doubles it takes
    proba = load_model(tmp_path / "proba").predict(x[:3])
    assert proba.shape == (3, 2)
    np.testing.assert_allclose(proba, clf.predict_proba(x[:3]))

    frame = pd.DataFrame(x, columns=["a", "b"])
    named = linear_model.LogisticRegression().fit(frame, y)
    save_model(tmp_path / "named", named, input_example=frame.head(2))
    out = load_model(tmp_path / "named").predict({"a": [1.0], "b": [1.0]})
    assert out.tolist() == named.predict(frame.iloc[[1]]).tolist()

    with pytest.raises(InvalidParameterError, match="predict_method 'transform' is not one of"):
        save_model(tmp_path / "bad", clf, predict_method="transform")


@pytest.fixture
def clean_modules() -> Iterator[None]:
    before = set(sys.modules)
    path = list(sys.path)
    yield
    for name in set(sys.modules) - before:
        if name.startswith("acme_"):
            del sys.modules[name]
    sys.path[:] = path


def test_code_paths_are_copied_and_importable_at_load(
    tmp_path: Path, clean_modules: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    (src / "acme_rag").mkdir(parents=True)
    (src / "acme_rag" / "__init__.py").write_text(
        "def answer(df):\n    return ['acme:' + q for q in df['q']]\n", encoding="utf-8"
    )
    monkeypatch.syspath_prepend(str(src))
    import acme_rag  # type: ignore[import-not-found]

    descriptor = save_model(
        tmp_path / "m",
        acme_rag.answer,
        code_paths=[src / "acme_rag"],
        signature=ModelSignature(inputs=[ColSpec("q", "string")]),
    )
    assert descriptor.code_paths == ["code/acme_rag"]
    assert (tmp_path / "m" / "code" / "acme_rag" / "__init__.py").is_file()

    # A fresh interpreter state: the source folder is gone from sys.path and sys.modules.
    monkeypatch.undo()
    del sys.modules["acme_rag"]
    (src / "acme_rag" / "__init__.py").unlink()
    model = load_model(tmp_path / "m")
    assert model.predict("x") == ["acme:x"]
    assert sys.modules["acme_rag"].__file__.startswith(str((tmp_path / "m" / "code").resolve()))


def test_missing_module_at_load_says_what_to_do(tmp_path: Path, clean_modules: None) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "acme_gone.py").write_text("def f(df):\n    return 1\n", encoding="utf-8")
    sys.path.insert(0, str(src))
    import acme_gone  # type: ignore[import-not-found]

    save_model(tmp_path / "m", acme_gone.f)
    sys.path.remove(str(src))
    del sys.modules["acme_gone"]
    with pytest.raises(ModelLoadError, match=r"needs the module 'acme_gone'.*code_paths"):
        load_model(tmp_path / "m")


def test_refuses_to_overwrite_a_non_empty_folder(tmp_path: Path) -> None:
    save_model(tmp_path / "m", shout)
    before = (tmp_path / "m" / DESCRIPTOR_FILE).read_bytes()
    with pytest.raises(InvalidParameterError, match="already exists and is not an empty folder"):
        save_model(tmp_path / "m", shout)
    assert (tmp_path / "m" / DESCRIPTOR_FILE).read_bytes() == before
    (tmp_path / "empty").mkdir()
    save_model(tmp_path / "empty", shout)  # an empty folder is fine
    (tmp_path / "file").write_text("x", encoding="utf-8")
    with pytest.raises(InvalidParameterError, match="already exists"):
        save_model(tmp_path / "file", shout)


def test_numpy_values_in_an_example_stay_numbers(tmp_path: Path) -> None:
    save_model(
        tmp_path / "m", lambda d: d, input_example=[{"k": np.int64(3), "x": np.float32(0.5)}]
    )
    assert load_model(tmp_path / "m").load_input_example() == [{"k": 3, "x": 0.5}]
    with pytest.raises(InvalidParameterError, match="cannot be written as JSON"):
        save_model(tmp_path / "b", lambda d: d, input_example=[{"blob": b"x"}])


def test_a_failed_save_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="cannot be written as YAML"):
        save_model(tmp_path / "m", shout, metadata={"bad": object()})
    assert not (tmp_path / "m").exists()
    with pytest.raises(InvalidParameterError, match="does not match the signature"):
        save_model(
            tmp_path / "m",
            shout,
            signature=ModelSignature(inputs=[ColSpec("question", "string")]),
            input_example={"question": 3},
        )
    assert not (tmp_path / "m").exists()


def test_unknown_flavor_is_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="unknown flavor 'onnx'"):
        save_model(tmp_path / "m", shout, flavor="onnx")
    save_model(tmp_path / "m", shout)
    path = tmp_path / "m" / DESCRIPTOR_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("flavor: python", "flavor: onnx"))
    with pytest.raises(ModelLoadError, match="unknown model flavor 'onnx'"):
        load_model(tmp_path / "m")


def test_bad_folders_fail_clearly(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    with pytest.raises(ModelLoadError, match=f"not an llmtrace model folder: no {DESCRIPTOR_FILE}"):
        load_model(tmp_path / "plain")
    save_model(tmp_path / "new", shout)
    path = tmp_path / "new" / DESCRIPTOR_FILE
    path.write_text(
        path.read_text(encoding="utf-8").replace("format_version: 1", "format_version: 9")
    )
    with pytest.raises(ModelLoadError, match=r"format version 9.*upgrade llmtrace"):
        load_model(tmp_path / "new")
    save_model(tmp_path / "typo", shout, input_example={"question": "q"})
    path = tmp_path / "typo" / DESCRIPTOR_FILE
    path.write_text(path.read_text(encoding="utf-8").replace("type: string", "type: text"))
    with pytest.raises(ModelLoadError, match=r"is malformed: column 'question' has unknown type"):
        load_model(tmp_path / "typo")


def test_argument_errors(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterError, match="no model given"):
        save_model(tmp_path / "a")
    with pytest.raises(InvalidParameterError, match="either model or python_model"):
        save_model(tmp_path / "a", shout, python_model=shout)
    with pytest.raises(InvalidParameterError, match="python flavor takes a callable"):
        save_model(tmp_path / "a", 42, flavor="python")
    with pytest.raises(InvalidParameterError, match="sklearn flavor takes a scikit-learn"):
        save_model(tmp_path / "a", shout, flavor="sklearn")
    with pytest.raises(InvalidParameterError, match=r"code path .* does not exist"):
        save_model(tmp_path / "a", shout, code_paths=[tmp_path / "nope"])
    with pytest.raises(InvalidParameterError, match=r"artifact 'x'.*does not exist"):
        save_model(tmp_path / "a", python_model=Greeter("!"), artifacts={"x": tmp_path / "nope"})
    with pytest.raises(InvalidParameterError, match="cannot be serialised with cloudpickle"):
        import threading

        lock = threading.Lock()
        save_model(tmp_path / "a", lambda df: lock)
    assert not (tmp_path / "a").exists()


@pytest.mark.parametrize(
    "example",
    [
        pd.DataFrame({"question": ["a", "b"], "k": [1, 2]}),
        [{"question": "a"}, {"question": "b"}],
        {"question": "a"},
        "a",
        ["a", "b"],
        np.array([[1.0, 2.0]]),
        pd.Series(["x", "y"], name="text"),
    ],
    ids=["dataframe", "records", "dict", "str", "list", "ndarray", "series"],
)
def test_input_examples_round_trip(tmp_path: Path, example: Any) -> None:
    save_model(tmp_path / "m", lambda data: data, input_example=example)
    back = load_model(tmp_path / "m").load_input_example()
    if isinstance(example, pd.DataFrame):
        pd.testing.assert_frame_equal(back, example)
    elif isinstance(example, pd.Series):
        pd.testing.assert_series_equal(back, example)
    elif isinstance(example, np.ndarray):
        np.testing.assert_array_equal(back, example)
        assert back.dtype == example.dtype
    else:
        assert back == example
