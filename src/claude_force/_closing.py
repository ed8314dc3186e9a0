"""``with``/``async with`` support for the objects that own resources.

:class:`Closing` gives a class with a ``close()`` method ``__enter__`` (returns the object) and
``__exit__`` (calls ``close()``, never swallows the exception); :class:`AsyncClosing` does the
same for ``async close()``. ``contextlib.AbstractContextManager`` would do the ``__enter__`` half
only, so the few lines are written here once.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self


class Closing(ABC):
    @abstractmethod
    def close(self) -> None:
        """Release what the object holds; safe to call more than once."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncClosing(ABC):
    """``async with`` support for a class with an ``async close()``: the same, asynchronously."""

    @abstractmethod
    async def close(self) -> None:
        """Release what the object holds; safe to call more than once."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
