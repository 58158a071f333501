"""The one way tests and benches wait for a condition: poll it until it holds or a deadline passes.

Waiting on a condition (never a fixed sleep) keeps tests fast on a quiet machine and correct on a busy
one; the timeout only bounds how long a broken run hangs. ``check`` returns something truthy when done
(that value is returned). Exceptions listed in ``retry_on`` mean "not yet" (a server still starting); the
last one is chained to the timeout. ``describe`` adds context to the failure (a process's log tail).
"""

from __future__ import annotations

import asyncio
import inspect
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError, TimeoutError):
    """A condition that did not hold in time: a test failure (AssertionError) and a TimeoutError."""


def _timed_out(timeout: float, what: str, last: object, describe: Callable[[], str] | None) -> WaitTimeout:
    message = f"timed out after {timeout:g}s waiting for {what}; last={last!r}"
    if describe is not None:
        message += f"\n{describe()}"
    return WaitTimeout(message)


def wait_until(
    check: Callable[[], T],
    timeout: float = 30.0,
    what: str = "condition",
    *,
    every: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (),
    describe: Callable[[], str] | None = None,
) -> T:
    """Call ``check`` every ``every`` seconds until it returns a truthy value, which is returned."""
    deadline = time.monotonic() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            last = check()
            if last:
                return last
        except retry_on as exc:
            last, error = exc, exc
        if time.monotonic() >= deadline:
            raise _timed_out(timeout, what, last, describe) from error
        time.sleep(every)


async def wait_until_async(
    check: Callable[[], Awaitable[T] | T],
    timeout: float = 30.0,
    what: str = "condition",
    *,
    every: float = 0.1,
    retry_on: tuple[type[BaseException], ...] = (),
    describe: Callable[[], str] | None = None,
) -> T:
    """``wait_until`` for the event loop: ``check`` may be a coroutine function or a plain one."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    last: Any = None
    error: BaseException | None = None
    while True:
        try:
            result = check()
            last = await result if inspect.isawaitable(result) else result
            if last:
                return last  # type: ignore[no-any-return]
        except retry_on as exc:
            last, error = exc, exc
        if loop.time() >= deadline:
            raise _timed_out(timeout, what, last, describe) from error
        await asyncio.sleep(every)
