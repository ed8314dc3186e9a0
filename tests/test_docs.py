"""The documentation stays true to the code: links resolve, every setting and command is documented.

* Every relative link in ``README.md``, ``CONTRIBUTING.md`` and ``docs/*.md`` points at an existing
  file, and every ``#anchor`` at a heading of that file (GitHub's slug rules).
* Every section and key of ``config/schema.py`` appears in ``docs/configuration.md``; every
  performance-related key also in ``docs/tuning.md``.
* Every command, sub-command and long option registered in ``cli/app.py`` appears in
  ``docs/cli.md``.
* ``docs/README.md`` indexes every guide.
"""

from __future__ import annotations

import re
import types
import typing
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer
from pydantic import BaseModel

from claude_force.cli.app import app
from claude_force.config.schema import ProjectSettings
from claude_force.workflows.spec import StepSpec, WorkflowSpec

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *DOCS.glob("*.md")])

_LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.M | re.S)
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.M)
_CODE_SPAN = re.compile(r"`([^`\n]+)`")


def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def _prose(text: str) -> str:
    """The markdown without fenced code blocks (links and headings inside them do not count)."""
    return _FENCE.sub("", text)


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link in a heading: its text
    text = re.sub(r"[^\w\- ]", "", text.lower())
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    out: set[str] = set()
    for heading in _HEADING.findall(_prose(_text(path))):
        base = slug(heading)
        n = seen.get(base, 0)
        seen[base] = n + 1
        out.add(base if n == 0 else f"{base}-{n}")
    return out


def test_slug_follows_github_rules() -> None:
    assert slug("`init [DIR] [--force]`") == "init-dir---force"
    assert slug("Part 1 — the foundation") == "part-1--the-foundation"
    assert slug("Old spellings kept from 2.2") == "old-spellings-kept-from-22"
    assert slug("`analytics …`") == "analytics-"


def _links() -> Iterator[tuple[Path, str]]:
    for page in PAGES:
        for target in _LINK.findall(_prose(_text(page))):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto: …
                continue
            yield page, target


LINKS = list(_links())


def test_the_pages_have_links() -> None:
    assert len(LINKS) > 100  # the parser finds them (a broken regex would pass everything)


@pytest.mark.parametrize(("page", "target"), LINKS, ids=[f"{p.name}->{t}" for p, t in LINKS])
def test_relative_links_resolve(page: Path, target: str) -> None:
    file_part, _, anchor = target.partition("#")
    dest = (page.parent / file_part).resolve() if file_part else page
    assert dest.exists(), f"{page.relative_to(ROOT)}: link to missing file {target}"
    if anchor and dest.suffix == ".md":
        found = anchors(dest)
        assert anchor in found, (
            f"{page.relative_to(ROOT)}: no heading for #{anchor} in {dest.relative_to(ROOT)}"
        )


# --- configuration ------------------------------------------------------------------------------

# Sections that claude-force carries from older projects without interpreting them.
_UNINTERPRETED = {"governance", "rules", "skills_integration"}


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The pydantic model inside ``annotation`` (``M``, ``M | None``, ``dict[str, M]``)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType, dict):
        for arg in typing.get_args(annotation):
            found = _model_of(arg)
            if found is not None:
                return found
    return None


def keys_of(model: type[BaseModel], prefix: str = "") -> list[str]:
    """Dotted paths of every key of ``model``, nested models included."""
    out: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        out.append(path)
        inner = _model_of(field.annotation)
        if inner is not None:
            out += keys_of(inner, path + ".")
    return out


def _documented(key: str, text: str) -> bool:
    """The key's last part appears inside an inline code span (`key`, `a.key`, `key: …`)."""
    leaf = key.rsplit(".", 1)[-1]
    return any(
        re.search(rf"(?<![\w-]){re.escape(leaf)}(?![\w-])", s) for s in _CODE_SPAN.findall(text)
    )


SECTIONS = [n for n in ProjectSettings.model_fields if n not in _UNINTERPRETED]
# Sections that are objects (a model, or a map of models/values) get a heading of their own.
OBJECT_SECTIONS = [
    n
    for n in SECTIONS
    if _model_of(ProjectSettings.model_fields[n].annotation) is not None
    or typing.get_origin(ProjectSettings.model_fields[n].annotation) is dict
]


def test_keys_of_sees_nested_settings() -> None:
    keys = keys_of(ProjectSettings)
    assert "resilience.rate_limits.default.requests_per_minute" in keys
    assert "models.prices.cache_write_1h" in keys
    assert "memory.context_token_budget" in keys


@pytest.mark.parametrize("section", OBJECT_SECTIONS)
def test_every_section_has_a_heading_in_configuration_md(section: str) -> None:
    text = _text(DOCS / "configuration.md")
    assert re.search(rf"^#{{2,4}} .*`{section}`", text, re.M), (
        f"docs/configuration.md has no heading for the '{section}' section"
    )


CONFIG_KEYS = (
    [
        k
        for k in keys_of(ProjectSettings)
        if k.split(".")[0] in SECTIONS and k.split(".")[0] != "workflows"
    ]
    + [f"workflows.{k}" for k in keys_of(WorkflowSpec)]
    + [f"workflows.steps.{k}" for k in keys_of(StepSpec)]
)


@pytest.mark.parametrize("key", CONFIG_KEYS)
def test_every_setting_is_in_configuration_md(key: str) -> None:
    assert _documented(key, _text(DOCS / "configuration.md")), (
        f"docs/configuration.md does not mention '{key}' (add it with its default and meaning)"
    )


_TUNING_SECTIONS = ("performance", "cache", "features", "memory", "metrics", "resilience")
TUNING_KEYS = [k for k in keys_of(ProjectSettings) if k.split(".")[0] in _TUNING_SECTIONS]


@pytest.mark.parametrize(
    "key",
    [
        *TUNING_KEYS,
        "provider.timeout_seconds",
        "models.routing",
        "models.prompt_cache_ttl",
        "routing.prefer_cheaper",
        "routing.cost_threshold_usd",
        "routing.over_budget",
        "routing.output_ratio",
    ],
)
def test_every_performance_knob_is_in_tuning_md(key: str) -> None:
    assert _documented(key, _text(DOCS / "tuning.md")), (
        f"docs/tuning.md does not mention '{key}' (say its default and when to change it)"
    )


# --- command line -------------------------------------------------------------------------------


def _commands() -> list[tuple[str, list[str]]]:
    """(command path, its long options) for the root, every group and every command."""
    root = typer.main.get_command(app)
    found: list[tuple[str, list[str]]] = []

    def walk(cmd: Any, path: str) -> None:
        opts = [
            o
            for p in cmd.params
            if p.param_type_name == "option"
            for o in (*p.opts, *p.secondary_opts)
            if o.startswith("--") and o != "--help"
        ]
        found.append((path, opts))
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            walk(sub, f"{path} {name}".strip())

    walk(root, "")
    return found


COMMANDS = _commands()


def test_the_cli_tree_is_walked() -> None:
    paths = {p for p, _ in COMMANDS}
    assert {"execute", "cache stats", "analytics summary", "memory search"} <= paths


@pytest.mark.parametrize(("path", "options"), COMMANDS, ids=[p or "(root)" for p, _ in COMMANDS])
def test_every_command_and_option_is_in_cli_md(path: str, options: list[str]) -> None:
    text = _text(DOCS / "cli.md")
    if path:
        assert re.search(rf"(?<![\w-]){re.escape(path)}(?![\w-])", text), (
            f"docs/cli.md does not document the command '{path}'"
        )
    missing = [o for o in options if not re.search(rf"{re.escape(o)}(?![\w-])", text)]
    assert not missing, f"docs/cli.md does not document {missing} of '{path or 'claude-force'}'"


# --- the index ----------------------------------------------------------------------------------


def test_docs_readme_indexes_every_guide() -> None:
    index = _text(DOCS / "README.md")
    linked = {t.partition("#")[0] for t in _LINK.findall(index)}
    guides = {p.name for p in DOCS.glob("*.md") if p.name != "README.md"}
    missing = sorted(guides - linked)
    assert not missing, f"docs/README.md does not link {missing}"
    assert "../CONTRIBUTING.md" in linked
