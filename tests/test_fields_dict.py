"""``_fields.fields_dict``: the to_dict of record types, written once."""

from __future__ import annotations

from dataclasses import dataclass, field

from claude_force._fields import fields_dict


@dataclass(frozen=True, slots=True)
class Inner:
    n: int


@dataclass(frozen=True, slots=True)
class Record:
    a: int
    b: str
    inner: Inner
    tags: list[str] = field(default_factory=list)


def test_every_field_in_declaration_order_not_copied() -> None:
    r = Record(1, "x", Inner(2), ["t"])
    d = fields_dict(r)
    assert list(d) == ["a", "b", "inner", "tags"]
    assert d["inner"] is r.inner and d["tags"] is r.tags  # shallow, unlike dataclasses.asdict


def test_a_value_replaces_its_field_in_place_others_come_after() -> None:
    d = fields_dict(Record(1, "x", Inner(2)), extra=True, b="y")
    assert list(d.items()) == [
        ("a", 1),
        ("b", "y"),
        ("inner", Inner(2)),
        ("tags", []),
        ("extra", True),
    ]


def test_omitted_fields_are_left_out_and_a_rename_goes_last() -> None:
    d = fields_dict(Record(1, "x", Inner(2)), omit=("inner", "b"), name="x")
    assert list(d) == ["a", "tags", "name"]


def test_record_types_keep_their_json_keys() -> None:
    from datetime import UTC, datetime

    from claude_force.memory.records import Session
    from claude_force.routing.classifier import Classification, Signal

    at = datetime(2026, 12, 1, tzinfo=UTC)
    s = Session("id1", "a", "t", "s", True, "m", at, metadata={"k": 1})
    assert s.to_dict() == {
        "id": "id1",
        "agent": "a",
        "task": "t",
        "summary": "s",
        "success": True,
        "model": "m",
        "created_at": "2026-12-01T00:00:00+00:00",
        "input_tokens": 0,
        "output_tokens": 0,
        "execution_time_ms": 0.0,
        "workflow": None,
        "simulated": False,
        "metadata": {"k": 1},
    }
    c = Classification("simple", 1, (Signal(-1, "short"),))
    assert c.to_dict() == {
        "complexity": "simple",
        "score": 1,
        "forced": False,
        "reasons": ["short (-1)"],
    }
