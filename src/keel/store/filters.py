"""The run filter language: a small recursive-descent parser, never ``eval``.

Grammar (keywords are case-insensitive)::

    expr       := and_expr ("or" and_expr)*
    and_expr   := atom ("and" atom)*
    atom       := "(" expr ")" | comparison
    comparison := field op value | field ["not"] "in" "(" value ("," value)* ")"
                | field "is" ["not"] "null"
    field      := ("metrics" | "params" | "tags" | "attributes") "." key | attribute
    op         := "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" | "like" | "ilike"

``metric.``/``param.``/``tag.``/``attribute.`` prefixes are accepted too (MLflow spells
them both ways). Keys may be quoted with backticks or double quotes when they hold
spaces. Example: ``metrics.auc > 0.9 and params.model = 'rf' and tags.team = 'x'``.
``tags.note IS NULL`` matches objects without that tag (``IS NOT NULL``: with it).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from keel.exceptions import FilterSyntaxError

Entity = Literal["metric", "param", "tag", "attribute"]
Value = float | str

_PREFIXES: dict[str, Entity] = {
    "metrics": "metric",
    "metric": "metric",
    "params": "param",
    "param": "param",
    "parameters": "param",
    "tags": "tag",
    "tag": "tag",
    "attributes": "attribute",
    "attribute": "attribute",
    "attr": "attribute",
    "run": "attribute",
}
#: Attribute names and the column each maps to; numeric ones compare as numbers.
ATTRIBUTES: dict[str, str] = {
    "status": "status",
    "name": "name",
    "run_name": "name",
    "run_id": "id",
    "id": "id",
    "user": "user",
    "user_id": "user",
    "start_time": "start_time",
    "end_time": "end_time",
    "created": "start_time",
    "lifecycle": "lifecycle",
    "lifecycle_stage": "lifecycle",
    "experiment_id": "experiment_id",
    "parent_id": "parent_id",
}
NUMERIC_ATTRIBUTES = frozenset({"start_time", "end_time", "experiment_id"})


@dataclass(frozen=True, slots=True)
class Vocabulary:
    """The attributes one kind of object can be filtered on (runs by default).

    Other searches (model versions ...) reuse the grammar with their own attribute names;
    ``attributes`` maps each accepted spelling to a column, ``numeric`` lists the columns
    compared as numbers.
    """

    noun: str
    attributes: dict[str, str]
    numeric: frozenset[str]


RUNS = Vocabulary("run", ATTRIBUTES, NUMERIC_ATTRIBUTES)
_NUMERIC_OPS = frozenset({"=", "!=", "<", "<=", ">", ">="})
_STRING_OPS = frozenset({"=", "!=", "like", "ilike", "in", "not in"})
#: Presence tests, valid for every field: no value follows them.
NULL_OPS = frozenset({"is null", "is not null"})


@dataclass(frozen=True, slots=True)
class Comparison:
    entity: Entity
    key: str
    op: str
    value: Value | tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class And:
    terms: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    terms: tuple[Expr, ...]


Expr = Comparison | And | Or


@dataclass(frozen=True, slots=True)
class OrderBy:
    entity: Entity
    key: str
    ascending: bool = True


_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<op><=|>=|!=|<>|==|=|<|>)
  | (?P<string>'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")
  | (?P<number>[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|inf|nan)(?![\w.]))
  | (?P<field>[A-Za-z_][A-Za-z0-9_]*\.(?:`[^`]+`|"[^"]+"|[A-Za-z0-9_./:\-]+))
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str
    text: str
    pos: int


def _tokenize(source: str) -> list[_Tok]:
    tokens: list[_Tok] = []
    pos = 0
    while pos < len(source):
        m = _TOKEN.match(source, pos)
        if m is None:
            raise FilterSyntaxError(
                f"unexpected character {source[pos]!r} at position {pos} in filter {source!r}"
            )
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append(_Tok(kind, m.group(), pos))
        pos = m.end()
    return tokens


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        body = text[1:-1]
        if text[0] == "'":
            body = body.replace("''", "'")
        return re.sub(r"\\(.)", r"\1", body)
    return text


def _split_field(text: str, source: str, pos: int, vocab: Vocabulary = RUNS) -> tuple[Entity, str]:
    prefix, _, key = text.partition(".")
    entity = _PREFIXES.get(prefix.lower())
    if entity is None:
        raise FilterSyntaxError(
            f"unknown field {text!r} at position {pos} in filter {source!r}; start fields with "
            "metrics., params., tags. or attributes."
        )
    key = _unquote(key)
    if entity == "attribute":
        key = _attribute(key, source, pos, vocab)
    return entity, key


def _attribute(name: str, source: str, pos: int, vocab: Vocabulary = RUNS) -> str:
    column = vocab.attributes.get(name.lower())
    if column is None:
        known = ", ".join(sorted(vocab.attributes))
        raise FilterSyntaxError(
            f"unknown {vocab.noun} attribute {name!r} at position {pos} in filter {source!r}; "
            f"known attributes: {known}"
        )
    return column


class _Parser:
    def __init__(self, source: str, vocab: Vocabulary = RUNS) -> None:
        self.source = source
        self.vocab = vocab
        self.tokens = _tokenize(source)
        self.i = 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.i] if self.i < len(self.tokens) else None

    def next(self, what: str) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FilterSyntaxError(f"filter {self.source!r} ends early; expected {what}")
        self.i += 1
        return tok

    def keyword(self, word: str) -> bool:
        tok = self.peek()
        if tok is not None and tok.kind == "word" and tok.text.lower() == word:
            self.i += 1
            return True
        return False

    def fail(self, tok: _Tok, expected: str) -> FilterSyntaxError:
        return FilterSyntaxError(
            f"expected {expected} at position {tok.pos} in filter {self.source!r}, "
            f"found {tok.text!r}"
        )

    def parse(self) -> Expr:
        expr = self.expr()
        tok = self.peek()
        if tok is not None:
            raise self.fail(tok, "'and', 'or' or the end of the filter")
        return expr

    def expr(self) -> Expr:
        terms = [self.and_expr()]
        while self.keyword("or"):
            terms.append(self.and_expr())
        return terms[0] if len(terms) == 1 else Or(tuple(terms))

    def and_expr(self) -> Expr:
        terms = [self.atom()]
        while self.keyword("and"):
            terms.append(self.atom())
        # "a and (b and c)" is "a and b and c": the search sees every required metric
        flat = [u for t in terms for u in (t.terms if isinstance(t, And) else (t,))]
        return flat[0] if len(flat) == 1 else And(tuple(flat))

    def atom(self) -> Expr:
        tok = self.next("a comparison such as metrics.auc > 0.9")
        if tok.kind == "lparen":
            inner = self.expr()
            close = self.next("')'")
            if close.kind != "rparen":
                raise self.fail(close, "')'")
            return inner
        if tok.kind == "field":
            entity, key = _split_field(tok.text, self.source, tok.pos, self.vocab)
        elif tok.kind == "word" and tok.text.lower() in self.vocab.attributes:
            entity, key = "attribute", self.vocab.attributes[tok.text.lower()]
        else:
            raise self.fail(tok, "a field such as metrics.auc, params.model or tags.team")
        op = self.operator()
        if op in NULL_OPS:
            return Comparison(entity, key, op, "")
        value = self.values() if op in ("in", "not in") else self.value()
        return _checked(Comparison(entity, key, op, value), self.source, self.vocab)

    def operator(self) -> str:
        tok = self.next("a comparison operator")
        if tok.kind == "op":
            return {"==": "=", "<>": "!="}.get(tok.text, tok.text)
        if tok.kind == "word":
            word = tok.text.lower()
            if word in ("like", "ilike", "in"):
                return word
            if word == "not" and self.keyword("in"):
                return "not in"
            if word == "is":
                negated = self.keyword("not")
                if self.keyword("null"):
                    return "is not null" if negated else "is null"
        raise self.fail(
            tok, "an operator (=, !=, <, <=, >, >=, like, ilike, in, not in, is [not] null)"
        )

    def value(self) -> Value:
        tok = self.next("a value")
        if tok.kind == "string":
            return _unquote(tok.text)
        if tok.kind == "number":
            return float(tok.text)
        if tok.kind == "word" and tok.text.lower() in ("true", "false"):
            return tok.text.lower()
        raise self.fail(tok, "a number or a quoted string")

    def values(self) -> tuple[Value, ...]:
        tok = self.next("'(' and a list of values")
        if tok.kind != "lparen":
            raise self.fail(tok, "'(' to open a list of values")
        items = [self.value()]
        while True:
            sep = self.next("',' or ')'")
            if sep.kind == "rparen":
                return tuple(items)
            if sep.kind != "comma":
                raise self.fail(sep, "',' or ')'")
            items.append(self.value())


def _checked(cmp: Comparison, source: str, vocab: Vocabulary = RUNS) -> Comparison:
    numeric = cmp.entity == "metric" or (cmp.entity == "attribute" and cmp.key in vocab.numeric)
    allowed = _NUMERIC_OPS if numeric else _STRING_OPS
    if cmp.op not in allowed:
        kind = "numbers" if numeric else "strings"
        raise FilterSyntaxError(
            f"operator {cmp.op!r} does not apply to {cmp.entity} {cmp.key!r} ({kind}) in filter "
            f"{source!r}; use one of {', '.join(sorted(allowed))}"
        )
    values = cmp.value if isinstance(cmp.value, tuple) else (cmp.value,)
    for v in values:
        if numeric and not isinstance(v, float):
            raise FilterSyntaxError(
                f"{cmp.entity} {cmp.key!r} is compared with {v!r} in filter {source!r}; "
                "compare it with a number"
            )
        if not numeric and isinstance(v, float):
            raise FilterSyntaxError(
                f"{cmp.entity} {cmp.key!r} holds text; quote the value {_fmt(v)!s} as "
                f"'{_fmt(v)}' in filter {source!r}"
            )
    return cmp


def _fmt(v: float) -> str:
    return str(int(v)) if v.is_integer() else repr(v)


#: What model versions can be filtered on, besides metrics., params. and tags.
VERSION_ATTRIBUTES = Vocabulary(
    "model version",
    {
        "name": "name",
        "model": "name",
        "version": "version",
        "semver": "semver",
        "framework": "flavor",
        "flavor": "flavor",
        "task": "task",
        "dataset": "dataset",
        "run_id": "run_id",
        "source": "source",
        "signer": "signer",
        "created": "created_at",
        "created_at": "created_at",
    },
    frozenset({"version", "created_at"}),
)


def parse_filter(source: str | None, vocabulary: Vocabulary = RUNS) -> Expr | None:
    """Parse a filter string; ``None`` or blank means no filter."""
    if source is None or not source.strip():
        return None
    return _Parser(source, vocabulary).parse()


def parse_order_by(clauses: Sequence[str] | str | None) -> list[OrderBy]:
    """Parse ``["metrics.auc DESC", "start_time"]`` into :class:`OrderBy` items."""
    if clauses is None:
        return []
    if isinstance(clauses, str):
        clauses = [clauses]
    out: list[OrderBy] = []
    for clause in clauses:
        text = clause.strip()
        ascending = True
        m = re.match(r"^(.*?)\s+(asc|desc)$", text, re.IGNORECASE)
        if m:
            text, ascending = m.group(1).strip(), m.group(2).lower() == "asc"
        else:
            trailing = re.match(r"^(.*[^\s`])\s+(\S+)$", text)
            if trailing and not trailing.group(2).endswith("`"):
                raise FilterSyntaxError(
                    f"unknown sort direction {trailing.group(2)!r} in {clause!r}; "
                    "use ASC or DESC (a key with spaces goes in backticks)"
                )
        if "." in text:
            entity, key = _split_field(text, clause, 0)
        elif text.lower() in ATTRIBUTES:
            entity, key = "attribute", ATTRIBUTES[text.lower()]
        else:
            raise FilterSyntaxError(
                f"cannot order by {clause!r}; use e.g. 'metrics.auc DESC', 'params.lr' or "
                "'start_time'"
            )
        out.append(OrderBy(entity, key, ascending))
    return out


__all__ = [
    "ATTRIBUTES",
    "And",
    "Comparison",
    "Expr",
    "Or",
    "OrderBy",
    "Vocabulary",
    "parse_filter",
    "parse_order_by",
]
