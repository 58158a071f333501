"""The one polling helper: returns what the check found, retries what it is told to, fails clearly."""

from __future__ import annotations

import itertools

import pytest

from tests.support.polling import WaitTimeout, wait_until, wait_until_async


def test_returns_the_first_truthy_value() -> None:
    calls = itertools.count()
    assert wait_until(lambda: next(calls) >= 3 and "done", timeout=5, every=0) == "done"


def test_listed_errors_mean_not_yet_and_the_last_one_is_chained() -> None:
    attempts = itertools.count()

    def flaky() -> int:
        if next(attempts) < 2:
            raise ConnectionRefusedError("starting")
        return 7

    assert wait_until(flaky, timeout=5, every=0, retry_on=(OSError,)) == 7
    with pytest.raises(WaitTimeout, match="waiting for the server; last=ConnectionRefusedError") as info:
        wait_until(
            lambda: (_ for _ in ()).throw(ConnectionRefusedError()), 0, "the server", retry_on=(OSError,)
        )
    assert isinstance(info.value.__cause__, ConnectionRefusedError)


def test_other_errors_are_not_swallowed() -> None:
    with pytest.raises(KeyError):
        wait_until(lambda: {}["missing"], timeout=5)


def test_a_timeout_is_a_test_failure_with_context() -> None:
    with pytest.raises(
        WaitTimeout, match=r"(?s)timed out after 0s waiting for rows; last=0\nlog tail"
    ) as info:
        wait_until(lambda: 0, 0, "rows", describe=lambda: "log tail")
    assert isinstance(info.value, AssertionError) and isinstance(info.value, TimeoutError)


async def test_async_checks_may_be_coroutines_or_plain_functions() -> None:
    calls = itertools.count()

    async def ready() -> bool:
        return next(calls) >= 2

    assert await wait_until_async(ready, timeout=5, every=0) is True
    assert await wait_until_async(lambda: "plain", timeout=5) == "plain"
    with pytest.raises(WaitTimeout, match="waiting for nothing"):
        await wait_until_async(lambda: None, 0, "nothing")
