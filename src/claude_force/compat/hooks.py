"""How the 2.2 faces honour the hooks that 2.2 test suites patch — at the edge, never in the engine.

A face checks at the entry of each public call whether a hook was replaced (``mock.patch.object``
on the instance or the class, or a subclass override), compares that with what it last put into
its engine, and only on a change inserts an adapter: a replaced ``load_agent_definition`` becomes
the engine's system-prompt loader, a replaced ``_call_api_with_retry`` its transport (instead of
the pipeline, as in 2.2), a replaced ``async_client`` / assigned ``client`` a
:class:`~claude_force.providers.client.ClientProvider` in the engine's provider slot (below the
cache and resilience layers). The engine itself never looks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar, overload

from ..messages import MessageRequest, MessageResponse
from ..providers.base import Provider, ProviderWrapper
from ..providers.client import coerce_message

T = TypeVar("T")


def originals(cls: type, *names: str) -> dict[str, object]:
    """The hooks ``names`` of ``cls`` as defined (taken at import, before anything patches them)."""
    return {name: cls.__dict__[name] for name in names}


def replaced(obj: object, name: str, hooks: dict[str, object]) -> Any | None:
    """The replacement of the hook ``name`` on ``obj`` (patched on the instance or the class,
    or overridden by a subclass), or ``None`` while it is the original in ``hooks``."""
    own = vars(obj).get(name)
    if own is not None:
        return own
    original = hooks[name]
    # class access returns a function or a property object itself (no binding), so an identity
    # check finds a class-level patch or a subclass override without inspect's slower walk
    if getattr(type(obj), name, original) is original:
        return None
    return getattr(obj, name)


class HookCallProvider(ProviderWrapper):
    """Sends through a replaced ``_call_api_with_retry(model, max_tokens, temperature, messages)``
    and reads its answer (an SDK ``Message``, a look-alike or a ``MessageResponse``). Its name
    and ``simulated`` are the engine's provider's (``like``), as failures reported them in 2.2."""

    def __init__(self, call: Callable[..., Awaitable[Any]], like: Provider) -> None:
        super().__init__(like)
        self._call = call

    async def send(self, request: MessageRequest) -> MessageResponse:
        messages = [m.to_api() for m in request.messages]
        raw = await self._call(
            request.model, request.max_tokens, request.temperature, messages, request=request
        )
        return coerce_message(raw, request.model)

    async def aclose(self) -> None:
        return None  # the engine's provider is closed by the engine


class EngineAttribute(Generic[T]):
    """A face's attribute that is its engine's (``face.engine.<name>``), written through when
    ``writable`` — so a face adds names, not state."""

    def __init__(self, name: str = "", *, writable: bool = False) -> None:
        self.name = name
        self.writable = writable

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = self.name or name

    @overload
    def __get__(self, obj: None, owner: type) -> EngineAttribute[T]: ...
    @overload
    def __get__(self, obj: object, owner: type) -> T: ...
    def __get__(self, obj: object | None, owner: type) -> EngineAttribute[T] | T:
        if obj is None:
            return self
        value: T = getattr(obj.engine, self.name)  # type: ignore[attr-defined]
        return value

    def __set__(self, obj: object, value: T) -> None:
        if not self.writable:
            raise AttributeError(f"{self.name} is read-only")
        setattr(obj.engine, self.name, value)  # type: ignore[attr-defined]
