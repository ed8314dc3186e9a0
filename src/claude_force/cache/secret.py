"""Where the cache's signing secret comes from: environment, configuration, or a key file.

Order: ``CLAUDE_FORCE_CACHE_SECRET`` (the environment overrides files, as everywhere in
claude-force), then ``cache.secret`` in ``claude.json``, then ``<state dir>/cache.key``. The key
file is created once with 32 random bytes and mode 0600; two processes racing to create it agree
on one key (written to a temporary file, then hard-linked into place, which fails if it exists).
There is never a hard-coded default.
"""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
from dataclasses import dataclass, field
from pathlib import Path

from .errors import CacheBackendError, CacheConfigurationError

log = logging.getLogger(__name__)

SECRET_ENV = "CLAUDE_FORCE_CACHE_SECRET"
KEY_FILE_NAME = "cache.key"
DB_FILE_NAME = "cache.db"  # the SQLite backend's file, beside the key
MIN_SECRET_BYTES = 16


def check_secret(value: str, *, where: str, file: Path | None = None) -> bytes:
    """The secret's bytes; a configuration error when it is too short to protect anything."""
    raw = value.encode("utf-8")
    if len(raw) < MIN_SECRET_BYTES:
        raise CacheConfigurationError(
            f"the cache secret has {len(raw)} bytes; at least {MIN_SECRET_BYTES} are required",
            file=file,
            key=where,
            hint="use a long random value (e.g. `python -c 'import secrets; "
            "print(secrets.token_hex(32))'`) or remove it to have one generated",
        )
    return raw


@dataclass(frozen=True)
class SecretSource:
    """A configured secret, else a key file to read or create (I/O only in :meth:`load`)."""

    configured: bytes | None = field(default=None, repr=False)
    key_file: Path | None = None

    @classmethod
    def resolve(
        cls,
        *,
        config_secret: str | None,
        key_file: Path | None,
        env: dict[str, str] | None = None,
        config_file: Path | None = None,
    ) -> SecretSource:
        """Validate a configured secret now (no I/O); the key file is only touched by ``load``."""
        environ = os.environ if env is None else env
        from_env = environ.get(SECRET_ENV)
        if from_env:
            return cls(check_secret(from_env, where=SECRET_ENV), key_file)
        if config_secret:
            return cls(
                check_secret(config_secret, where="cache.secret", file=config_file), key_file
            )
        return cls(None, key_file)

    def load(self) -> bytes:
        """The secret (blocking file I/O when it lives in the key file: call it off the loop)."""
        if self.configured is not None:
            return self.configured
        if self.key_file is None:
            return secrets.token_bytes(32)  # an in-memory cache: a fresh key per process
        return load_or_create_key(self.key_file)


def load_or_create_key(path: Path) -> bytes:
    """Read the key file, creating it (mode 0600, 32 random bytes as hex) the first time."""
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(secrets.token_hex(32) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        with contextlib.suppress(FileExistsError):
            os.link(tmp, path)  # atomic and exclusive: the first process to get here wins
    finally:
        tmp.unlink(missing_ok=True)
    return _read_key(path)


def _read_key(path: Path) -> bytes:
    st = path.stat()
    if st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning("cache key file %s was readable by others; restricting it to mode 0600", path)
        os.chmod(path, 0o600)
    text = path.read_text("ascii", errors="replace").strip()
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) < MIN_SECRET_BYTES:
        raise CacheBackendError(
            f"cache key file {path} is damaged (expected at least {MIN_SECRET_BYTES} hex bytes)",
            hint=f"delete {path} and run `claude-force cache clear --yes`; a new key is created",
        )
    return key
