"""Reading keel's YAML files (sweep spaces, parameter files, deployment specs): one parser
call and one error style for all of them."""

from __future__ import annotations

from typing import Any

from keel.exceptions import InvalidArgumentError


def load_yaml(text: str, what: str) -> Any:
    """``text`` parsed as YAML (safe loader). A parse error is one line naming ``what``, the
    problem and where it is (``parameter file 'p.yaml' is not valid YAML: expected ',' or
    ']', but got '<stream end>' at line 2, column 1``), not PyYAML's excerpt with a caret."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidArgumentError(f"{what} is not valid YAML: {_problem(exc)}") from exc


def _problem(exc: BaseException) -> str:
    problem = getattr(exc, "problem", None)
    if not problem:
        return " ".join(str(exc).split())
    mark = getattr(exc, "problem_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    return f"{problem}{where}"


__all__ = ["load_yaml"]
