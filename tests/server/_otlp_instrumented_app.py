"""A tiny "OpenTelemetry app" for the ingest tests, run in its own process (instrumentors patch
the `openai` package process-wide and read their settings once):

    python -m tests.server._otlp_instrumented_app <openinference|openai-v2> <openai base url> \
        <OTLP traces endpoint>

It instruments the real `openai` client with a third-party instrumentation, makes a chat call
and an embeddings call against the given OpenAI-compatible server inside a root span, exports
everything to the endpoint with the standard OTLP/HTTP exporter, and prints the trace id.
"""

from __future__ import annotations

import sys


def main(instrumentation: str, base_url: str, endpoint: str) -> None:
    import openai
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    resource = Resource.create({"service.name": f"app-{instrumentation}"})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if instrumentation == "openinference":
        from openinference.instrumentation.openai import OpenAIInstrumentor

        OpenAIInstrumentor().instrument(tracer_provider=provider)
    else:
        from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor as V2

        V2().instrument(tracer_provider=provider)
    client = openai.OpenAI(base_url=base_url, api_key="sk-test")
    tracer = provider.get_tracer("app")
    with tracer.start_as_current_span("answer-question") as root:
        client.chat.completions.create(
            model="gpt-4o-mini",
            messages=[
                {"role": "system", "content": "You are terse."},
                {"role": "user", "content": "Say hello."},
            ],
            temperature=0.1,
        )
        client.embeddings.create(model="text-embedding-3-small", input="hello")
        trace_id = root.get_span_context().trace_id
    provider.shutdown()  # flushes the exporter
    print(format(trace_id, "032x"))


if __name__ == "__main__":
    main(*sys.argv[1:4])
