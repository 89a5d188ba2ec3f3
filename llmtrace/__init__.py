"""llmtrace: OpenTelemetry-native tracing, evaluation and tracking for LLM applications."""
