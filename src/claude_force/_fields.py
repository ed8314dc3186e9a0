"""A record's fields as a JSON-ready dict, without writing each name three times.

Many record types had a ``to_dict`` of the shape ``{"agent": self.agent, "model": self.model,
…}``, one line per field: a field added later was easily left out of the JSON, and the lines
read alike across a dozen modules. :func:`fields_dict` gives every field under its own name, in
declaration order, and the caller writes only what differs — a conversion, a field left out, an
entry added. ``dataclasses.asdict`` is not the same: it copies deeply and recurses into nested
records, which is neither needed nor cheap for JSON output.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import fields
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def fields_dict(
    record: DataclassInstance, /, *, omit: Collection[str] = (), **values: Any
) -> dict[str, Any]:
    """The fields of ``record`` (a dataclass instance) as a dict, in declaration order, except
    those in ``omit``. Each of ``values`` replaces the entry of the field of that name where it
    stands, or, when no field has that name, is added after the fields (in the order given)."""
    out = {f.name: getattr(record, f.name) for f in fields(record) if f.name not in omit}
    out.update(values)
    return out
