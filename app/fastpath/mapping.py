"""JSON bodies built straight from rows, one mapper per response schema.

A mapper names, for every field of its schema (checked at import: the same fields in the same
order), the columns it is made of and how. It gives the labelled columns a statement selects,
and reads them back by label: positions are looked up from the statement's own labels once, when
the mapper is bound to it, never written by hand. The same mapper reads an ORM object by its
attributes, so a response's shape is written once for the fast path and the ORM path alike.
"""

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
from pydantic import BaseModel
from sqlalchemy import ColumnElement, Label, Select
from sqlalchemy.orm import QueryableAttribute

Column = ColumnElement[Any] | QueryableAttribute[Any]


class Row(Protocol):
    """An asyncpg Record or a SQLAlchemy Row: both index by position."""

    def __getitem__(self, index: int, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Source:
    """Where a field comes from: some columns (none for a value the caller gives) and a builder
    taking their values in order."""

    columns: tuple[Column, ...]
    build: Callable[..., Any]


def _same(value: Any) -> Any:
    return value


def column(source: Column, convert: Callable[[Any], Any] = _same) -> Source:
    """A field that is one column's value, converted."""
    return Source((source,), convert)


def columns(*sources: Column, build: Callable[..., Any]) -> Source:
    """A field built from several columns' values."""
    return Source(tuple(sources), build)


GIVEN = Source((), _same)
"""A field whose value the caller passes to `body()` (a nested list, say)."""


def _key(source: Column) -> str:
    key = getattr(source, "key", None)
    if not isinstance(key, str):
        raise TypeError(f"a mapped column needs a name: {source!r}")
    return key


class BodyMapper:
    def __init__(self, schema: type[BaseModel], /, **fields: Source) -> None:
        expected = list(schema.model_fields)
        if list(fields) != expected:
            raise TypeError(
                f"mapper for {schema.__name__} has fields {list(fields)}, "
                f"the schema has {expected} (same names, same order)"
            )
        self.schema = schema
        self.fields = fields

    def _sources(self) -> Iterable[Column]:
        seen: set[str] = set()
        for source in self.fields.values():
            for item in source.columns:
                if _key(item) not in seen:
                    seen.add(_key(item))
                    yield item

    def select(self, prefix: str = "") -> list[Label[Any]]:
        """The labelled columns a statement selects for this mapper (`<prefix><column key>`)."""
        return [item.label(prefix + _key(item)) for item in self._sources()]

    def bind(self, statement: Select[Any], prefix: str = "") -> "BoundMapper":
        """This mapper reading the rows of `statement`, whose labels it looks up now."""
        positions = label_positions(statement)
        plan = []
        for name, source in self.fields.items():
            labels = [prefix + _key(item) for item in source.columns]
            missing = [label for label in labels if label not in positions]
            if missing:
                raise LookupError(f"{self.schema.__name__}.{name}: statement lacks {missing}")
            plan.append((name, tuple(positions[label] for label in labels), source.build))
        return BoundMapper(tuple(plan))

    def body_of(self, obj: object, given: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The body of an ORM object, each column read as the attribute of its name."""
        body = {}
        for name, source in self.fields.items():
            if not source.columns:
                body[name] = (given or {})[name]
                continue
            body[name] = source.build(*(getattr(obj, _key(item)) for item in source.columns))
        return body


Plan = tuple[tuple[str, tuple[int, ...], Callable[..., Any]], ...]


class BoundMapper:
    """A mapper bound to one statement's rows: `body(row)` is a function written for that plan.

    The function is generated once, when the statement is built, the way dataclasses writes its
    methods: a dict literal reading each field's positions, so the hot paths pay for no loop, no
    lookup and no call per field beyond the field's own converter (a loop over the plan cost the
    own product list about 0.1 ms a request, bench/cpu.py).
    """

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        # The generated function itself, not a method wrapping it: a call less per row.
        self.body: Callable[..., dict[str, Any]] = _compile(plan)


def _compile(plan: Plan) -> Callable[..., dict[str, Any]]:
    namespace: dict[str, Any] = {}
    entries = []
    for number, (name, indexes, build) in enumerate(plan):
        if not indexes:
            value = f"given[{name!r}]"
        elif build is _same and len(indexes) == 1:
            value = f"row[{indexes[0]}]"
        else:
            namespace[f"build_{number}"] = build
            value = f"build_{number}({', '.join(f'row[{index}]' for index in indexes)})"
        entries.append(f"{name!r}: {value}")
    source = f"def body(row, given=None):\n    return {{{', '.join(entries)}}}\n"
    # Only field names (checked identifiers of a schema) and integers are written into the
    # source; nothing comes from a request.
    exec(source, namespace)  # noqa: S102
    body: Callable[..., dict[str, Any]] = namespace["body"]
    return body


def label_positions(statement: Select[Any]) -> dict[str, int]:
    """Each selected column's label and its position in the statement's rows."""
    return {key: index for index, key in enumerate(statement.selected_columns.keys())}


def position(statement: Select[Any], label: str) -> int:
    """Where the column labelled `label` is in the statement's rows."""
    return label_positions(statement)[label]


def encode(body: Any) -> bytes:
    """A mapped body as JSON bytes: what pydantic's `to_json` writes for it (UTC as `Z`), at a
    fraction of its cost on a 50-product page (bench/cpu.py)."""
    return orjson.dumps(body, option=orjson.OPT_UTC_Z)


class EncodedRows:
    """A JSON array of one body per row, each row's body kept by the row's own values.

    A vendor's list is read afresh on every request, and mostly the same rows come back; the
    same values make the same bytes, so a row already encoded is not mapped and encoded again
    (any change to the row, or to the page's total, makes it encoded again). Only rows of this
    request's read are answered. One body is kept per row identity (the column at `identity`,
    a product's id): a changed row replaces its old body rather than piling up beside it.
    Bounded in bytes per worker, all dropped at once past the budget (a vendor's 50 rows cost
    ~20 KB).
    """

    def __init__(self, mapper: BoundMapper, *, identity: int, budget_bytes: int) -> None:
        self._body = mapper.body
        self._identity = identity
        self._budget = budget_bytes
        self._size = 0
        # Row identity -> (the row, its body).
        self._kept: dict[Any, tuple[Row, bytes]] = {}

    def __len__(self) -> int:
        return len(self._kept)

    def encode(self, rows: Iterable[Row]) -> bytes:
        kept = self._kept
        identity = self._identity
        parts = []
        for row in rows:
            found = kept.get(row[identity])
            if found is not None and found[0] == row:
                part = found[1]
            else:
                part = encode(self._body(row))
                if found is not None:
                    self._size -= len(found[1])
                if self._size + len(part) > self._budget:
                    kept.clear()
                    self._size = 0
                kept[row[identity]] = (row, part)
                self._size += len(part)
            parts.append(part)
        return b"[" + b",".join(parts) + b"]"
