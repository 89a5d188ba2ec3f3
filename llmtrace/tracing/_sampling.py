"""Head sampling on the trace id, with an option to keep sampled-out traces that fail.

Sampled-out traces are still *recorded* (not exported) when `keep_errors` is on, so that the
export processor can keep the whole trace if any span of it ends with an error.
"""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.context import Context
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import Link, SpanKind, get_current_span
from opentelemetry.util.types import Attributes

_MAX_ID = (1 << 64) - 1


class RatioSampler(Sampler):
    """Keep `rate` of traces, decided on the low 64 bits of the trace id (so every process
    decides the same for one trace); children follow their parent's decision."""

    def __init__(self, rate: float, keep_errors: bool) -> None:
        self.rate = rate
        self.keep_errors = keep_errors
        self._bound = round(rate * (_MAX_ID + 1))
        self._unsampled = Decision.RECORD_ONLY if keep_errors else Decision.DROP

    def should_sample(
        self,
        parent_context: Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        trace_state: object = None,
    ) -> SamplingResult:
        parent = get_current_span(parent_context).get_span_context()
        if parent.is_valid:
            sampled = parent.trace_flags.sampled
        else:
            sampled = (trace_id & _MAX_ID) < self._bound
        decision = Decision.RECORD_AND_SAMPLE if sampled else self._unsampled
        return SamplingResult(decision, attributes, parent.trace_state if parent.is_valid else None)

    def get_description(self) -> str:
        return f"llmtrace.RatioSampler{{{self.rate}, keep_errors={self.keep_errors}}}"


__all__ = ["RatioSampler"]
