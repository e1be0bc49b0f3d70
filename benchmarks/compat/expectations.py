"""Which of MLflow's REST tests keel fails on purpose, and why (README.md explains each)."""

from __future__ import annotations

#: test function name -> the reason keel fails it on purpose.
KNOWN_FAILURES: dict[str, str] = {}
