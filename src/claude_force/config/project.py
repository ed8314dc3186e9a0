"""A loaded ``.claude/`` project: settings, agent files, state directory and model catalog."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TypeVar, overload

from .._bounded import MAX_AGENT_FILE_BYTES, FileProblem, file_stat_problem, read_limited_stat
from .._once import warn_once
from ..catalog import ModelCatalog, builtin_catalog
from ..errors import (
    ConfigurationError,
    ProjectNotFoundError,
    UnknownAgentError,
    UnknownWorkflowError,
)
from ..workflows.spec import WorkflowSpec
from . import snapshot
from ._jsonpos import line_of
from ._locate import config_file
from ._paths import Resolver as _Resolver
from ._paths import reason as _reason
from ._paths import short as _short
from .environment import RunEnvironment
from .loader import ConfigWarning, find_config, load_settings
from .schema import AgentSettings, PriceOverride, ProjectSettings
from .tolerant import (
    Kind,
    Problem,
    agent_problem,
    announce,
    split_entries,
    without,
    workflow_problems,
)

FileCheck = Literal["read", "stat"]
"""How deeply an agent's files are checked: read (and decoded), or only stat-ed."""

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class AgentDocs:
    """The text of one agent: its definition and (optional) contract, as sent to the model."""

    name: str
    definition: str
    contract: str | None


def suggest(name: str, choices: list[str]) -> str:
    import difflib  # here: only an error message needs it, a run never does

    close = difflib.get_close_matches(name, choices, n=3, cutoff=0.5)
    if close:
        return "did you mean " + ", ".join(f"'{c}'" for c in close) + "?"
    shown = ", ".join(sorted(choices)[:8]) + (" …" if len(choices) > 8 else "")
    return f"available: {shown}" if choices else "the project defines none"


@dataclass
class Project:
    config_path: Path
    settings: ProjectSettings
    catalog: ModelCatalog
    text: str = field(repr=False, default="")
    environment: RunEnvironment = field(default_factory=RunEnvironment, repr=False)
    _docs_cache: dict[str, tuple[tuple[int, ...], AgentDocs, str, str | None]] = field(
        default_factory=dict, repr=False
    )
    _warned_contracts: set[str] = field(default_factory=set, repr=False)
    _paths: _Resolver | None = field(default=None, repr=False)
    #: agents and workflows set aside because they are broken (see config/tolerant.py)
    problems: list[Problem] = field(default_factory=list)
    #: raise the first broken agent or workflow instead of setting it aside
    strict: bool = False

    # --- locations -------------------------------------------------------------------------------

    @property
    def claude_dir(self) -> Path:
        return self.config_path.parent

    @property
    def root(self) -> Path:
        d = self.claude_dir
        return d.parent if d.name == ".claude" else d

    @property
    def state_dir(self) -> Path:
        p = Path(os.path.expanduser(self.settings.paths.state))
        return p if p.is_absolute() else (self.claude_dir / p)

    def ensure_state_dir(self) -> Path:
        self.state_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        return self.state_dir

    # --- agents and workflows ---------------------------------------------------------------------

    @property
    def agent_names(self) -> list[str]:
        return list(self.settings.agents)

    def problem(self, name: str, kind: str = "agent") -> Problem | None:
        """The problem that keeps agent (or workflow) ``name`` from being used, if any."""
        return next((p for p in self.problems if p.kind == kind and p.name == name), None)

    def workflow_names(self) -> list[str]:
        """Every workflow of ``claude.json``, usable or not, in the file's order."""
        broken = [p.name for p in self.problems if p.kind == "workflow"]
        names = [*self.settings.workflows, *broken]
        order = {n: i for i, n in enumerate(_json_keys(self.text, "workflows"))}
        return sorted(dict.fromkeys(names), key=lambda n: order.get(n, len(order)))

    def agent(self, name: str) -> AgentSettings:
        return self._usable(name, "agent", self.settings.agents, UnknownAgentError)

    def workflow(self, name: str) -> list[str] | WorkflowSpec:
        return self._usable(name, "workflow", self.settings.workflows, UnknownWorkflowError)

    def _usable(
        self, name: str, kind: Kind, table: Mapping[str, T], unknown: type[ConfigurationError]
    ) -> T:
        """The settings of agent or workflow ``name``: its problem's error when it is broken,
        ``unknown`` (with the nearest names) when there is none of that name."""
        broken = self.problem(name, kind)
        if broken is not None:
            raise broken.error
        try:
            return table[name]
        except KeyError:
            raise unknown(
                f"{kind} '{name}' not found",
                file=self.config_path,
                key=f"{kind}s",
                hint=suggest(name, list(table)),
            ) from None

    def agent_path(self, name: str, which: str = "file") -> Path | None:
        real = self._real_path(name, which)
        return None if real is None else Path(real)

    def _real_path(self, name: str, which: str) -> str | None:
        spec = self.agent(name)
        rel = spec.file if which == "file" else spec.contract
        if rel is None:
            return None
        paths = self._paths
        if paths is None or paths.config is not self.config_path:
            paths = self._paths = _Resolver(self.config_path)
        try:
            return paths.inside(rel)
        except FileProblem as exc:
            raise self._file_error(name, which, exc.message, exc.hint) from None

    def _line(self, name: str, which: str) -> int | None:
        """The line of ``agents.<name>.<which>`` in claude.json (for error messages)."""
        return line_of(self.text, ["agents", name, which]) if self.text else None

    def _file_error(
        self, name: str, which: str, message: str, hint: str, *, missing: bool = False
    ) -> ConfigurationError:
        """The error about an agent's file, located in claude.json (the line is found only now:
        looking lines up for every agent of a big project would cost more than loading it)."""
        cls = ProjectNotFoundError if missing else ConfigurationError
        return cls(
            message,
            file=self.config_path,
            key=f"agents.{name}.{which}",
            line=self._line(name, which),
            hint=hint,
        )

    def model_for(self, agent_name: str, override: str | None = None) -> str:
        """``override`` > agent's ``model`` > ``models.agents`` > ``models.default`` > catalog."""
        spec = self.agent(agent_name)
        chosen = (
            override
            or spec.model
            or self.settings.models.agents.get(agent_name)
            or self.catalog.default
        )
        return self.catalog.resolve(
            chosen, where=f"model for agent '{agent_name}'", file=self.config_path
        )

    def read_agent(self, name: str) -> AgentDocs:
        """The agent's text, re-read when its files change (blocking: call it off the loop)."""
        hit = self._docs_cache.get(name)
        # files unchanged: a stat of each path resolved when they were read, then the copy in
        # memory (a file replaced — by a link that leads elsewhere too — shows another inode,
        # and is then resolved and checked again; the links are not resolved on every read)
        if hit is not None and hit[0] == self._seen(name, hit[2], hit[3]):
            return hit[1]
        path = self._real_path(name, "file")
        assert path is not None
        contract_path = self._real_path(name, "contract")
        seen = self._seen(name, path, contract_path)  # before reading: a change during it shows
        definition, _ = self._read(name, "file", path)
        contract = None
        if contract_path is not None:
            found = self._read(name, "contract", contract_path, missing_ok=True)
            if found is None:
                self._warn_missing_contract(name, contract_path)
            else:
                contract = found[0]
        docs = AgentDocs(name, definition, contract)
        self._docs_cache[name] = (seen, docs, path, contract_path)
        return docs

    def _seen(self, name: str, path: str, contract_path: str | None) -> tuple[int, ...]:
        """What says an agent's files changed: each one's (mtime, size, inode); zeros for a
        missing contract."""
        st = self._stat(name, "file", path)
        assert st is not None
        cst = self._stat(name, "contract", contract_path) if contract_path else None
        c = (0, 0, 0) if cst is None else (cst.st_mtime_ns, cst.st_size, cst.st_ino)
        return (st.st_mtime_ns, st.st_size, st.st_ino, *c)

    def _stat_agent(self, name: str) -> None:
        """What the file system says of the agent's files, without reading them: inside
        ``.claude/``, present (a contract may be missing), a non-empty regular file within the
        size limit. Their text (UTF-8, not blank) is checked when the agent is read."""
        for which in ("file", "contract"):
            path = self._real_path(name, which)
            if path is None:
                continue
            st = self._stat(name, which, path)
            if st is None:  # a missing contract
                self._warn_missing_contract(name, path)
                continue
            problem = file_stat_problem(st, MAX_AGENT_FILE_BYTES)
            if problem is not None:
                message = f"cannot read '{path}': {problem.message}"
                raise self._file_error(name, which, message, problem.hint)
            if st.st_size == 0:
                message = f"agent file '{path}' is empty"
                raise self._file_error(name, which, message, "write the agent's instructions in it")

    def _warn_missing_contract(self, name: str, contract_path: str) -> None:
        # claude-force 2.2 ran an agent whose contract file was missing without one; keep that
        # (existing projects rely on it) but say so once.
        warn_once(
            self._warned_contracts,
            name,
            f"{self.config_path}: agents.{name}.contract: contract file "
            f"'{contract_path}' does not exist; running the agent without a contract",
            ConfigWarning,
            stacklevel=3,
        )

    def _stamp(self, name: str, which: str, path: str) -> tuple[int, int] | None:
        """The file's (mtime, size); None for a missing contract (2.2 ran without it)."""
        st = self._stat(name, which, path)
        return None if st is None else (st.st_mtime_ns, st.st_size)

    def _stat(self, name: str, which: str, path: str) -> os.stat_result | None:
        """The file's ``stat``; None for a missing contract; else the error naming the key."""
        try:
            return os.stat(path)
        except (OSError, ValueError) as exc:
            missing = isinstance(exc, FileNotFoundError)
            if missing and which == "contract":
                return None
            reason = "does not exist" if missing else f"cannot be read ({_reason(exc)})"
            hint = "create it or fix the path" if missing else "fix the path"
            raise self._file_error(
                name, which, f"file '{path}' {reason}", hint, missing=missing
            ) from None

    @overload
    def _read(
        self, name: str, which: str, path: str, *, missing_ok: Literal[False] = False
    ) -> tuple[str, tuple[int, int]]: ...

    @overload
    def _read(
        self, name: str, which: str, path: str, *, missing_ok: bool
    ) -> tuple[str, tuple[int, int]] | None: ...

    def _read(
        self, name: str, which: str, path: str, *, missing_ok: bool = False
    ) -> tuple[str, tuple[int, int]] | None:
        """An agent or contract file (a regular UTF-8 file of at most ``MAX_AGENT_FILE_BYTES``)
        and the (mtime, size) of what was read; ``missing_ok``: None if it does not exist."""
        try:
            text, st = read_limited_stat(path, MAX_AGENT_FILE_BYTES)
        except FileProblem as exc:
            if exc.missing and missing_ok:
                return None
            message = (
                f"file '{path}' {exc.message}"
                if exc.missing
                else f"cannot read '{path}': {exc.message}"
            )
            raise self._file_error(name, which, message, exc.hint, missing=exc.missing) from None
        if not text.strip():
            raise self._file_error(
                name, which, f"agent file '{path}' is empty", "write the agent's instructions in it"
            )
        return text, (st.st_mtime_ns, st.st_size)

    def check_files(self) -> None:
        """Check every agent's files (inside ``.claude/``, present, non-empty) and every workflow
        against the usable agents. What fails is set aside as a :class:`Problem` and warned about
        once; the rest of the project stays usable."""
        announce(self._check_files())

    def _check_files(self, depth: FileCheck = "read") -> list[Problem]:
        found: list[Problem] = []
        check = self.read_agent if depth == "read" else self._stat_agent
        for name in list(self.settings.agents):
            try:
                check(name)
            except ConfigurationError as exc:
                found.append(agent_problem(name, exc))
        broken = {p.name for p in [*self.problems, *found] if p.kind == "agent"}
        found += workflow_problems(self, list(self.settings.workflows), broken)
        self._set_aside(found)
        return found

    def _set_aside(self, found: list[Problem]) -> None:
        if found and self.strict:
            raise found[0].error
        if found:
            self.problems.extend(found)
            self.settings = without(self.settings, found)


def _json_keys(text: str, section: str) -> list[str]:
    """The keys of a top-level object of ``claude.json``, in the file's order."""
    import json

    try:
        data = json.loads(text) if text else {}
    except ValueError:
        return []
    entries = data.get(section) if isinstance(data, dict) else None
    return list(entries) if isinstance(entries, dict) else []


def _check_new_model_prices(path: Path, text: str, prices: Mapping[str, PriceOverride]) -> None:
    """A price for a model without a built-in one (on that date) has nothing to inherit from:
    it needs input and output (cache prices are derived from input)."""
    builtin = builtin_catalog().prices
    for model, price in prices.items():
        if price.input is not None and price.output is not None:
            continue
        if builtin.price_for(model, price.effective_from or date.max) is None:
            missing = " and ".join(k for k in ("input", "output") if getattr(price, k) is None)
            raise ConfigurationError(
                f"'{model}' has no built-in price to inherit {missing} from",
                file=path,
                key=f"models.prices.{model}",
                line=line_of(text, ["models", "prices", model]),
                hint='give both "input" and "output" (USD per million tokens); cache write and '
                "read prices default to 1.25x / 2x / 0.1x the input price",
            )


def load_project(
    config_path: str | os.PathLike[str] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    check_files: bool | FileCheck = True,
    strict: bool = False,
) -> Project:
    """Load and validate a project. ``config_path`` may be ``claude.json`` or its folder.

    A project loads when ``claude.json`` and its project-wide sections are valid. An agent or a
    workflow that is broken (bad entry, missing file, retired model, unknown agent, cycle) is set
    aside with a warning and raised only when used (see ``Project.problems``); ``strict=True``
    raises the first one instead. ``check_files``: True (or ``"read"``) reads every agent's files;
    ``"stat"`` only asks the file system (present, regular, non-empty, within the size limit), for
    read-only listings of big projects; False checks none.
    """
    path = Path(config_path) if config_path is not None else find_config()
    try:
        path = config_file(path)
        exists = path.exists()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte …
        raise ConfigurationError(
            f"the configuration path cannot be used ({_reason(exc)})",
            file=_short(str(path)),
            hint="pass the path of claude.json (or of its folder)",
        ) from None
    if not exists:
        raise ProjectNotFoundError(
            "configuration file not found",
            file=path,
            hint="run 'claude-force init' to create a project, or pass --config PATH",
        )
    set_aside: list[Problem] = []

    def prepare(data: dict[str, Any], text: str) -> dict[str, Any]:
        kept, found = split_entries(data, text, path)
        set_aside.extend(found)
        return kept

    settings, text = load_settings(path, env, prepare=None if strict else prepare)
    m = settings.models
    _check_new_model_prices(path, text, m.prices)
    catalog = builtin_catalog().with_overrides(
        default=m.default,
        routing={str(k): v for k, v in m.routing.items()},
        aliases=m.aliases,
        prices={k: v.model_dump(exclude_none=True, mode="json") for k, v in m.prices.items()},
    )
    settings = _resolve_resilience(settings, catalog, path, text)
    project = Project(
        config_path=path,
        settings=settings,
        catalog=catalog,
        text=text,
        environment=RunEnvironment.read(env),
        strict=strict,
    )
    # Every configured model is checked now: a retired id is a configuration error (exit 2)
    # naming the setting, not a failure of each run.
    configured = [("models.default", m.default)]
    from_env = (os.environ if env is None else env).get("CLAUDE_FORCE_MODEL")
    for key, model in configured:
        if not model:
            continue
        if key == "models.default" and from_env is not None:
            catalog.resolve(model, where=f"{key} (environment variable CLAUDE_FORCE_MODEL)")
        else:
            catalog.resolve(model, where=key, file=path, line=line_of(text, key.split(".")))
    # an agent's own model, or a workflow step's, blocks only that agent or workflow
    owned: list[tuple[tuple[str | int, ...], str, Kind, str | None]]
    owned = [(("models", "agents", n), n, "agent", v) for n, v in m.agents.items()]
    owned += [(("agents", n, "model"), n, "agent", a.model) for n, a in settings.agents.items()]
    for where, model in _nested_models(settings):  # fallback chains and workflow steps too
        if where[0] == "workflows":
            owned.append((where, str(where[1]), "workflow", model))
            continue
        catalog.resolve(
            model, where=".".join(map(str, where)), file=path, line=line_of(text, where)
        )
    for where, name, kind, model in owned:
        if not model or any(p.kind == kind and p.name == name for p in set_aside):
            continue
        if kind == "agent" and name not in settings.agents:  # pinned for an agent defined
            catalog.resolve(  # elsewhere (2.2 suites patch load_agent_definition): fatal
                model, where=".".join(map(str, where)), file=path, line=line_of(text, list(where))
            )
            continue
        try:
            catalog.resolve(
                model, where=".".join(map(str, where)), file=path, line=line_of(text, list(where))
            )
        except ConfigurationError as exc:
            set_aside.append(Problem(kind, name, exc))
    project._set_aside(list({(p.kind, p.name): p for p in reversed(set_aside)}.values())[::-1])
    if check_files:
        project._check_files("stat" if check_files == "stat" else "read")
    announce(project.problems)  # once, all together: a broken agent names the workflows it blocks
    if env is None and snapshot.enabled():  # a command of the command line: see config/snapshot.py
        snapshot.record(project, files_checked=bool(check_files))
    return project


def _resolve_resilience(
    settings: ProjectSettings, catalog: ModelCatalog, path: Path, text: str
) -> ProjectSettings:
    """Alias-resolve the model keys of ``resilience.rate_limits.models`` (the limiter looks
    models up by id) and warn about fallback chains for agents the project does not define."""
    rl = settings.resilience.rate_limits
    resolved: dict[str, str] = {}  # model id -> the key that named it
    for key in rl.models:
        where = ("resilience", "rate_limits", "models", key)
        model = catalog.resolve(
            key, where=".".join(where), file=path, line=line_of(text, list(where))
        )
        if model in resolved:
            raise ConfigurationError(
                f"'{resolved[model]}' and '{key}' are the same model ({model})",
                file=path,
                key="resilience.rate_limits.models",
                line=line_of(text, list(where)),
                hint="keep one entry per model",
            )
        resolved[model] = key
    for agent in settings.resilience.fallback.agents:
        if agent not in settings.agents:
            line = line_of(text, ["resilience", "fallback", "agents", agent])
            located = f"{path}:{line}" if line else str(path)
            warnings.warn(
                f"{located}: resilience.fallback.agents.{agent}: no agent '{agent}' is defined, "
                f"so this chain is never used ({suggest(agent, list(settings.agents))})",
                ConfigWarning,
                stacklevel=3,
            )
    if all(model == key for model, key in resolved.items()):
        return settings
    limits = rl.model_copy(update={"models": {m: rl.models[k] for m, k in resolved.items()}})
    resilience = settings.resilience.model_copy(update={"rate_limits": limits})
    return settings.model_copy(update={"resilience": resilience})


def _nested_models(settings: ProjectSettings) -> list[tuple[tuple[str | int, ...], str]]:
    """Models named inside lists (``resilience.fallback``, DAG workflow steps), with their paths."""
    found: list[tuple[tuple[str | int, ...], str]] = []
    fb = settings.resilience.fallback
    found += [(("resilience", "fallback", "models", i), m) for i, m in enumerate(fb.models)]
    for agent, chain in fb.agents.items():
        found += [(("resilience", "fallback", "agents", agent, i), m) for i, m in enumerate(chain)]
    for name, entry in settings.workflows.items():
        if isinstance(entry, WorkflowSpec):
            found += [
                (("workflows", name, "steps", i, "model"), step.model)
                for i, step in enumerate(entry.steps)
                if step.model
            ]
    return found
