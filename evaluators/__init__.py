"""llmtrace's evaluation engine (scorers, runs, CI gates).

The engine lands with the evaluation issue; this package only reserves the import name in the
distribution so that the layout of the design card holds from the first release.
"""

__all__: list[str] = []
