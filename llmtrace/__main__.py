"""`python -m llmtrace` runs the command-line interface."""

from llmtrace.cli import main

raise SystemExit(main())
