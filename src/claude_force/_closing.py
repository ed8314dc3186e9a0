"""``with``-statement support for the synchronous facades that own resources.

:class:`Closing` gives a class with a ``close()`` method ``__enter__`` (returns the object) and
``__exit__`` (calls ``close()``, never swallows the exception). ``contextlib.AbstractContextManager``
would do the ``__enter__`` half only, so the few lines are written here once.
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
