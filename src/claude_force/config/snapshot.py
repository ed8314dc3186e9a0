"""The validated-settings snapshot: read-only commands start without pydantic.

Validating ``claude.json`` needs pydantic and the settings models (about half of the start-up of
``list agents``, ``cache stats``, ``analytics summary`` or ``memory stats``). So when a command
has validated a project through the normal path, it keeps what those commands read — the agents
(with their resolved models), the cache, metrics and memory settings, the model overrides — as
plain JSON in the state directory (``settings-snapshot.json``, written atomically). A read-only
command reads ``claude.json``'s bytes, and uses the snapshot only when its digest matches:

* the bytes of ``claude.json`` and its path (any edit, even a space, changes it),
* the environment variables that override settings (:data:`ENV_OVERRIDES`; of those that may hold
  a password only whether they are set, and their URL scheme) and ``HOME`` (paths may start with ``~``),
* claude-force's version and the files that define the settings and the model catalog (size and
  modification time: an edited checkout invalidates it too).

Otherwise (no snapshot, another digest, an unreadable snapshot) the command loads and validates as
always, so an invalid file is reported exactly as before, and a valid one writes a fresh snapshot.

A snapshot is written only for a project that loads *cleanly*: no agent or workflow set aside, no
unknown key, no unknown model, no fallback chain for a missing agent — every case in which the
normal load prints a warning. The agents' files (which ``claude.json``'s digest does not cover) are
checked again on each use; anything unexpected falls back to the normal load, which reports it.

Secrets never go in: not the API key (not a setting), nor ``cache.secret``, ``cache.redis_url`` or
``cluster.database_url`` (only whether they are set: the fast path is then not taken). Deleting the
file is always safe; it is also rewritten whenever it no longer matches.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import stat
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Literal

from .._bounded import MAX_CONFIG_BYTES, FileProblem, decode
from .._version import __version__
from ._locate import config_file
from ._paths import Resolver
from .environment import ENV_OVERRIDES

if TYPE_CHECKING:
    from ..catalog import ModelCatalog
    from .project import Project

SNAPSHOT_FILE = "settings-snapshot.json"
FORMAT = 1
_HEAD_BYTES = 64 * 1024  # the first line: format, digest, state directory, files checked
_MAX_BYTES = 256 * 1024 * 1024  # the rest (a project of 20,000 agents: about 6 MB)

PRESENCE_ONLY = frozenset({"CLAUDE_FORCE_REDIS_URL", "CLAUDE_FORCE_DATABASE_URL"})
"""Settings from the environment that may hold a password: the digest takes only whether they are
set, and their URL scheme (no snapshot field depends on the rest; ``cluster.database_url`` is
refused unless it is PostgreSQL's, so a changed scheme must be validated again)."""

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")


def _presence(value: str) -> str:
    """What the digest takes of a variable that may hold a password: set or not, and the URL's
    scheme (never a password: a scheme has no ``:`` or ``@``)."""
    text = value.strip()
    if not text:
        return ""
    scheme, sep, _ = text.partition("://")
    return f"set:{scheme}" if sep and _SCHEME.fullmatch(scheme) else "set:?"


_PACKAGE = Path(__file__).resolve().parent.parent
_DEFINITIONS = (
    "_bounded.py",  # the size and nesting limits of claude.json and of the agents' files
    "_ordered.py",  # validators of the resilience and anomaly settings
    "config/schema.py",
    "config/loader.py",
    "config/project.py",
    "config/tolerant.py",
    "config/environment.py",
    "config/snapshot.py",
    "catalog.py",
    "pricing.py",
    "data/models.json",
    "workflows/spec.py",
    "cluster/settings.py",
    "memory/settings.py",
    "metrics/settings.py",
    "monitoring/settings.py",
    "resilience/config.py",
    "routing/settings.py",
    "server/settings.py",
    "telemetry/settings.py",
)
"""The files that define the settings and the catalog (relative to the package)."""


@dataclass(frozen=True, slots=True)
class AgentView:
    """One agent as ``list agents`` shows it; ``model``: resolved as ``Project.model_for``."""

    name: str
    file: str
    contract: str | None
    domains: tuple[str, ...]
    priority: int
    description: str | None
    model: str


@dataclass(frozen=True, slots=True)
class CacheView:
    """What ``cache stats`` reads of ``cache`` (no secret, no Redis URL: only whether set)."""

    enabled: bool
    backend: str
    ttl_hours: float
    max_size_mb: float
    semantic_enabled: bool
    semantic_threshold: float
    secret_set: bool


@dataclass(frozen=True, slots=True)
class MetricsView:
    """The ``metrics`` section, as validated (the fields of ``MetricsSettings``)."""

    enabled: bool
    backend: str
    path: str
    raw_retention_days: int
    daily_retention_days: int | None
    auto_rollup: bool
    rollup_interval_hours: float
    batch_size: int
    flush_interval_seconds: float
    max_pending: int
    record_simulated: bool
    keep_text: bool
    text_max_chars: int


@dataclass(frozen=True, slots=True)
class MemoryView:
    """The ``memory`` section, as validated (the fields of ``MemorySettings``)."""

    enabled: bool
    path: str
    query_cache_size: int
    query_cache_max_mb: float
    retention_days: int
    context_token_budget: int
    context_max_sessions: int
    summary_max_chars: int


@dataclass(frozen=True, slots=True)
class SettingsView:
    """The validated settings a read-only command needs, from a matching snapshot."""

    config_path: Path
    state_dir: Path
    files_checked: bool  # written by a load that checked the agents' files and the workflows
    clustered: bool  # cluster.database_url is set (the shared stores: not read from here)
    agents: tuple[AgentView, ...]
    cache: CacheView
    metrics: MetricsView
    memory: MemoryView
    prompt_cache_ttl: Literal["5m", "1h"]
    models: Mapping[str, Any]  # the catalog's overrides: default, routing, aliases, prices

    def catalog(self) -> ModelCatalog:
        """The project's model catalog (the built-in one with ``models`` applied)."""
        from ..catalog import builtin_catalog

        m = self.models
        return builtin_catalog().with_overrides(
            default=m["default"], routing=m["routing"], aliases=m["aliases"], prices=m["prices"]
        )

    def agents_usable(self) -> bool:
        """Every agent's files are where the normal load found them: inside ``.claude/``, regular,
        non-empty, within the size limit (a contract present). Else the caller loads normally,
        which reports what changed."""
        from .._bounded import MAX_AGENT_FILE_BYTES, FileProblem, file_stat_problem

        paths = Resolver(self.config_path)
        try:
            for agent in self.agents:
                for rel in (agent.file, agent.contract):
                    if rel is None:
                        continue
                    st = os.stat(paths.inside(rel))
                    if file_stat_problem(st, MAX_AGENT_FILE_BYTES) or st.st_size == 0:
                        return False
        except (OSError, ValueError, FileProblem):
            return False
        return True


# --- reading ---------------------------------------------------------------------------------------


def read(config: str | os.PathLike[str] | None) -> SettingsView | None:
    """The settings of the project at ``config`` (as ``load_project`` finds it) from its snapshot;
    ``None`` when there is none that matches (the caller then loads the project normally)."""
    try:
        path = config_file(config)
        raw = _read_bytes(path)
        if raw is None:
            return None
        state_dir = _state_dir(path, raw)
        if state_dir is None:
            return None
        with _open(state_dir / SNAPSHOT_FILE) as fh:
            head = _head(fh.readline(_HEAD_BYTES))
            if head is None or head["digest"] != digest(path, raw):
                return None
            if head["state_dir"] != str(state_dir):
                return None
            body = json.loads(fh.read(_MAX_BYTES))
        if not isinstance(body, dict):
            return None
        return _view(path, state_dir, {**body, **head})
    except (OSError, ValueError, TypeError, KeyError, AttributeError, RecursionError, FileProblem):
        return None  # (JSON nested too deep, not UTF-8 …: the loader reports it)


def _open(path: Path) -> BinaryIO:
    """The snapshot, opened to read: a regular file (a FIFO put in its place would block the
    command; ``OSError`` for anything else)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(f"{path} is not a regular file")
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _read_bytes(path: Path) -> bytes | None:
    """The bytes of a regular ``claude.json`` within the size limit (else ``None``)."""
    fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_size > MAX_CONFIG_BYTES:
            return None
        chunks = []
        while chunk := os.read(fd, 1 << 20):
            chunks.append(chunk)
    finally:
        os.close(fd)
    data = b"".join(chunks)
    return data if len(data) <= MAX_CONFIG_BYTES else None


def _state_dir(path: Path, raw: bytes) -> Path | None:
    """Where the state directory is, as the validated settings will say (``paths.state``, or
    ``CLAUDE_FORCE_STATE_DIR``); the snapshot names the one it was written for."""
    state = os.environ.get("CLAUDE_FORCE_STATE_DIR")
    if state is not None:
        state = state.strip()
    else:
        data = json.loads(decode(raw))
        paths = data.get("paths") if isinstance(data, dict) else None
        state = paths.get("state", "state") if isinstance(paths, dict) else "state"
    if not isinstance(state, str):
        return None
    p = Path(os.path.expanduser(state))
    return p if p.is_absolute() else path.parent / p


def digest(path: Path, raw: bytes) -> str:
    """What a snapshot must match: see the module's documentation."""
    h = hashlib.sha256()
    h.update(f"{FORMAT}\0{__version__}\0{path}\0".encode("utf-8", "surrogateescape"))
    for rel in _DEFINITIONS:
        try:
            st = os.stat(_PACKAGE / rel)
            h.update(f"{rel}:{st.st_mtime_ns}:{st.st_size}\0".encode())
        except OSError:
            h.update(f"{rel}:-\0".encode())
    for name in (*sorted(ENV_OVERRIDES), "HOME"):
        value = os.environ.get(name)
        if name in PRESENCE_ONLY and value is not None:
            value = _presence(value)
        h.update(f"{name}={value!r}\0".encode("utf-8", "surrogateescape"))
    h.update(raw)
    return h.hexdigest()


def _view(path: Path, state_dir: Path, doc: dict[str, Any]) -> SettingsView:
    agents = tuple(
        AgentView(
            name=_str(a["name"]),
            file=_str(a["file"]),
            contract=_opt_str(a["contract"]),
            domains=tuple(_str(d) for d in a["domains"]),
            priority=_int(a["priority"]),
            description=_opt_str(a["description"]),
            model=_str(a["model"]),
        )
        for a in doc["agents"]
    )
    models = doc["models"]
    if not isinstance(models, dict):
        raise TypeError("models")
    return SettingsView(
        config_path=path,
        state_dir=state_dir,
        files_checked=doc["files_checked"] is True,
        clustered=doc["clustered"] is not False,
        agents=agents,
        cache=CacheView(**doc["cache"]),
        metrics=MetricsView(**doc["metrics"]),
        memory=MemoryView(**doc["memory"]),
        prompt_cache_ttl=_ttl(doc["prompt_cache_ttl"]),
        models=models,
    )


def _str(value: object) -> str:
    if not isinstance(value, str):
        raise TypeError("not a string")
    return value


def _ttl(value: object) -> Literal["5m", "1h"]:
    if value == "5m":
        return "5m"
    if value == "1h":
        return "1h"
    raise ValueError("prompt_cache_ttl")


def _opt_str(value: object) -> str | None:
    return None if value is None else _str(value)


def _int(value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError("not an integer")
    return value


# --- writing ---------------------------------------------------------------------------------------

_writing: ContextVar[bool] = ContextVar("claude_force_settings_snapshot", default=False)


@contextlib.contextmanager
def writing() -> Iterator[None]:
    """Within: every clean load of a project writes its snapshot (the command line's commands;
    the Python API leaves the state directory alone)."""
    token = _writing.set(True)
    try:
        yield
    finally:
        _writing.reset(token)


def enabled() -> bool:
    return _writing.get()


def record(project: Project, *, files_checked: bool) -> bool:
    """Write ``project``'s snapshot if it loaded cleanly, its state directory exists (a snapshot
    never creates it) and the file still holds what was validated. Whether it was written; never
    raises for a write that fails (the snapshot only saves time)."""
    from ..errors import ClaudeForceError

    try:
        raw = _read_bytes(project.config_path)
        if raw is None or not project.text or decode(raw) != project.text:
            return False  # edited since it was validated (or a project built in code)
        key = digest(project.config_path, raw)
        target = project.state_dir / SNAPSHOT_FILE
        old = _old(target)
        same = old is not None and old.get("digest") == key
        if same and (not files_checked or (old or {}).get("files_checked") is True):
            return False  # there already, as good as this one
        doc = _document(project, raw, key, files_checked=files_checked)
        if doc is None:
            return False
        head = {
            k: doc.pop(k) for k in ("format", "digest", "version", "state_dir", "files_checked")
        }
        text = json.dumps(head, ensure_ascii=False, sort_keys=True) + "\n"
        text += json.dumps(doc, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
        _atomic_write(target, text)
        return True
    except (OSError, ClaudeForceError, FileProblem):  # (replaced by a file that is not UTF-8)
        return False


def _head(line: bytes) -> dict[str, Any] | None:
    """The first line of a snapshot: its format, digest, state directory and whether the agents'
    files were checked (read alone: a command that loads the project checks only that)."""
    head = json.loads(line)
    if not isinstance(head, dict) or head.get("format") != FORMAT:
        return None
    return head


def _old(target: Path) -> dict[str, Any] | None:
    try:
        with _open(target) as fh:
            return _head(fh.readline(_HEAD_BYTES))
    except (OSError, ValueError):
        return None


def _document(
    project: Project, raw: bytes, key: str, *, files_checked: bool
) -> dict[str, Any] | None:
    """The snapshot of a cleanly loaded ``project``; ``None`` when it is not clean."""
    from .schema import unknown_keys

    s = project.settings
    state_dir = project.state_dir
    if project.problems or not state_dir.is_dir() or unknown_keys(s):
        return None
    if any(agent not in s.agents for agent in s.resilience.fallback.agents):
        return None
    if _state_dir(project.config_path, raw) != state_dir:
        return None
    agents = [
        {
            "name": name,
            "file": spec.file,
            "contract": spec.contract,
            "domains": list(spec.domains),
            "priority": spec.priority,
            "description": spec.description,
            "model": project.model_for(name),
        }
        for name, spec in s.agents.items()
    ]
    if project.catalog._warned:
        return None  # an unknown model: the normal load warns about it
    m = s.models
    c = s.cache
    return {
        "format": FORMAT,
        "digest": key,
        "version": __version__,
        "state_dir": str(state_dir),
        "files_checked": files_checked,
        "clustered": s.cluster.database_url is not None,
        "agents": agents,
        "cache": {
            "enabled": c.enabled,
            "backend": c.backend,
            "ttl_hours": c.ttl_hours,
            "max_size_mb": c.max_size_mb,
            "semantic_enabled": c.semantic.enabled,
            "semantic_threshold": c.semantic.threshold,
            "secret_set": c.secret is not None,
        },
        "metrics": _fields(MetricsView, s.metrics.model_dump()),
        "memory": _fields(MemoryView, s.memory.model_dump()),
        "prompt_cache_ttl": m.prompt_cache_ttl,
        "models": {
            "default": m.default,
            "routing": {str(k): v for k, v in m.routing.items()},
            "aliases": dict(m.aliases),
            "prices": {
                k: v.model_dump(exclude_none=True, mode="json") for k, v in m.prices.items()
            },
        },
    }


def _fields(view: type, values: Mapping[str, Any]) -> dict[str, Any]:
    return {f.name: values[f.name] for f in fields(view)}


def _atomic_write(target: Path, text: str) -> None:
    import tempfile

    fd, tmp = tempfile.mkstemp(prefix=".settings-snapshot.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
