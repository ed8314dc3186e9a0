"""One error hierarchy for claude-force.

``ClaudeForceError`` is the root. Configuration errors carry the file, the key and the fix; the
CLI maps them to exit code 2. Run errors (provider failures, open breakers, workflow cycles …)
map to exit code 1. Configuration errors also subclass the built-in exceptions that claude-force
1.x/2.2 raised (``FileNotFoundError``, ``ValueError``) so existing ``except`` clauses keep working.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path


class ClaudeForceError(Exception):
    """Base class of every error claude-force raises on purpose."""

    exit_code: int = 1

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} ({hint})")

    def one_line(self) -> str:
        """The message shown to a CLI user: what went wrong and how to fix it."""
        return str(self)


# --- configuration: the fix is in the user's files ----------------------------------------------


class ConfigurationError(ClaudeForceError, ValueError):
    """Something in the project's files or settings is wrong; the fix is in the user's hands."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        file: Path | str | None = None,
        key: str | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.file = Path(file) if file is not None else None
        self.key = key
        self.line = line
        where = ""
        if self.file is not None:
            where = str(self.file)
            if line is not None:
                where += f":{line}"
            where += ": "
        if key:
            where += f"{key}: "
        super().__init__(where + message, hint=hint)


class ProjectNotFoundError(ConfigurationError, FileNotFoundError):
    """The project's ``claude.json`` (or a file it names) does not exist."""


class UnknownAgentError(ConfigurationError):
    """An agent name that the project does not define."""


class UnknownWorkflowError(ConfigurationError):
    """A workflow name that the project does not define."""


class ModelError(ConfigurationError):
    """A retired or malformed model id."""


class InvalidInputError(ClaudeForceError, ValueError):
    """An argument that claude-force refuses before reading or sending anything (exit code 2).

    A ``ValueError``, as claude-force 2.2's input checks raised.
    """

    exit_code = 2


class InvalidAgentNameError(InvalidInputError):
    """An agent name with characters other than letters, digits, ``-`` and ``_``."""


class TaskTooLargeError(InvalidInputError):
    """A task longer than claude-force 2.2's limit (100,000 characters)."""


# --- run errors: something failed while running ------------------------------------------------


class RunError(ClaudeForceError):
    """A failure while running an agent or workflow."""


class ProviderError(RunError):
    """The model provider answered with an error, or could not be reached."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        request_id: str | None = None,
        retry_after: float | None = None,
        error_type: str | None = None,
        should_retry: bool | None = None,
        headers: tuple[tuple[str, str], ...] = (),
    ) -> None:
        self.status = status
        self.request_id = request_id
        self.retry_after = retry_after
        self.error_type = error_type
        self.should_retry = should_retry
        # the error response's ``anthropic-ratelimit-*`` headers (the rate limiter adapts to them)
        self.headers = headers
        parts = [message]
        if status is not None:
            parts.append(f"status {status}")
        if request_id:
            parts.append(f"request-id {request_id}")
        if retry_after is not None:
            parts.append(f"retry after {retry_after:g}s")
        super().__init__(" · ".join(parts))

    @property
    def retryable(self) -> bool:
        """Whether a retry can succeed: the server's ``x-should-retry`` wins, then the status."""
        if self.should_retry is not None:
            return self.should_retry
        if self.status is None:  # connection errors and timeouts
            return True
        return self.status in (408, 409, 429) or self.status >= 500


class AuthenticationError(ProviderError):
    """401: the API key is missing or wrong. Not retried."""


class PermissionDeniedError(ProviderError):
    """403: the key may not use this resource. Not retried."""


class NotFoundError(ProviderError):
    """404: usually an unknown model id. Not retried."""


class InvalidRequestError(ProviderError):
    """400/413/422: the request itself is wrong. Not retried."""


class RateLimitError(ProviderError):
    """429: too many requests or tokens; honour ``retry_after``."""


class OverloadedError(ProviderError):
    """529: the API is overloaded."""


class ServerError(ProviderError):
    """5xx other than 529."""


class ProviderConnectionError(ProviderError):
    """The connection failed or was dropped before a response arrived."""


class ProviderTimeoutError(ProviderConnectionError):
    """No response within the configured timeout."""


class StreamInterruptedError(ProviderError):
    """A streamed answer broke off after part of it was shown (see ``claude_force.streaming``).

    Never retried and never answered by a fallback model: a second attempt would show its text
    again after the part already shown. ``shown_chars`` is how much of the answer was shown.
    """

    def __init__(self, cause: BaseException, shown_chars: int) -> None:
        self.shown_chars = shown_chars
        status = cause.status if isinstance(cause, ProviderError) else None
        super().__init__(
            f"the answer broke off after {shown_chars} characters ({cause}); "
            "not retried, so that no text is shown twice",
            status=status,
            request_id=cause.request_id if isinstance(cause, ProviderError) else None,
            should_retry=False,
        )


class CircuitOpenError(RunError):
    """The circuit breaker for a (provider, model) is open; no request was sent."""

    def __init__(self, name: str, until: datetime) -> None:
        self.name = name
        self.until = until
        super().__init__(f"circuit {name} is open; next probe allowed at {until.isoformat()}")


CYCLE_SHOWN = 10
"""Steps of a dependency cycle named in its message (the whole cycle is in ``.cycle``)."""


class WorkflowCycleError(ConfigurationError):
    """A workflow's dependencies form a cycle."""

    def __init__(
        self, cycle: list[str], *, file: Path | str | None = None, key: str | None = None
    ) -> None:
        self.cycle = cycle
        shown = cycle
        if len(cycle) > CYCLE_SHOWN + 1:  # a 10,000-step cycle is not a 99 KB message
            head, tail = cycle[: CYCLE_SHOWN - 3], cycle[-3:]
            shown = [*head, f"… {len(cycle) - 1 - len(head) - 2:,} more …", *tail]
        size = f" of {len(cycle) - 1:,} steps" if len(cycle) > CYCLE_SHOWN + 1 else ""
        super().__init__(
            f"dependency cycle{size} " + " → ".join(shown),
            file=file,
            key=key,
            hint="remove one of these depends_on edges",
        )


class BudgetExceededError(RunError):
    """A configured cost or token budget would be exceeded."""


def status_error(
    status: int,
    message: str,
    *,
    request_id: str | None = None,
    retry_after: float | None = None,
    error_type: str | None = None,
    should_retry: bool | None = None,
    headers: tuple[tuple[str, str], ...] = (),
) -> ProviderError:
    """Build the typed error for an HTTP status (pure: used by providers and the emulator tests)."""
    cls: type[ProviderError]
    if status == 401:
        cls = AuthenticationError
    elif status == 403:
        cls = PermissionDeniedError
    elif status == 404:
        cls = NotFoundError
    elif status == 429:
        cls = RateLimitError
    elif status == 529:
        cls = OverloadedError
    elif status >= 500:
        cls = ServerError
    else:
        cls = InvalidRequestError
    return cls(
        message,
        status=status,
        request_id=request_id,
        retry_after=retry_after,
        error_type=error_type,
        should_retry=should_retry,
        headers=headers,
    )
