"""The llmtrace model format: save a model as a folder with a descriptor, log it to a run,
load it back from a path, a run or the registry, and score with `predict` or on Spark.

A model folder holds `llmtrace-model.yaml` (flavor, signature, requirements, uuid, run,
prompts, metadata), `requirements.txt`, the serialised model and optionally an input
example, artifacts and code. See docs/models.md.

Example:
    >>> from llmtrace import models
    >>> info = models.log_model(answer, "rag", prompts=["prompts:/qa/3"],
    ...                         input_example={"question": "What is RAG?"})
    >>> models.load_model(info.model_uri).predict(["What is RAG?", "Who made it?"])
"""

from __future__ import annotations

from llmtrace.models._descriptor import DESCRIPTOR_FILE, ModelDescriptor
from llmtrace.models._errors import ModelInputError, ModelLoadError
from llmtrace.models._llm_pipeline import (
    MODEL_FLAVOR_ATTRIBUTE,
    MODEL_NAME_ATTRIBUTE,
    MODEL_PROMPTS_ATTRIBUTE,
    MODEL_URI_ATTRIBUTE,
    MODEL_UUID_ATTRIBUTE,
    MODEL_VERSION_ATTRIBUTE,
)
from llmtrace.models._load import LoadedModel, load_model
from llmtrace.models._python_model import ModelContext, PythonModel
from llmtrace.models._save import ModelInfo, log_model, save_model
from llmtrace.models._signature import ColSpec, ModelSignature, ParamSpec, infer_signature
from llmtrace.models._spark import spark_udf
from llmtrace.models._uri import ResolvedModelUri, resolve_model_uri

__all__ = [  # noqa: RUF022 (plain sorted order, as tests/test_public_api.py checks)
    "ColSpec",
    "DESCRIPTOR_FILE",
    "LoadedModel",
    "MODEL_FLAVOR_ATTRIBUTE",
    "MODEL_NAME_ATTRIBUTE",
    "MODEL_PROMPTS_ATTRIBUTE",
    "MODEL_URI_ATTRIBUTE",
    "MODEL_UUID_ATTRIBUTE",
    "MODEL_VERSION_ATTRIBUTE",
    "ModelContext",
    "ModelDescriptor",
    "ModelInfo",
    "ModelInputError",
    "ModelLoadError",
    "ModelSignature",
    "ParamSpec",
    "PythonModel",
    "ResolvedModelUri",
    "infer_signature",
    "load_model",
    "log_model",
    "resolve_model_uri",
    "save_model",
    "spark_udf",
]
