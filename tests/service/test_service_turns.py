"""Turns (``jdm_cds.service.turns``): first come, first served, one turn at a time, the event
loop's iteration (and so its poll) between two turns, and no turn lost to a cancelled or
failed call. Run on asyncio's loop and on uvloop's, which the service uses."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any

import pytest

from jdm_cds.service.turns import Turns

LOOPS: list[Callable[[], asyncio.AbstractEventLoop]] = [asyncio.new_event_loop]
try:
    import uvloop
except ImportError:  # pragma: no cover - uvloop is not built for Windows
    pass
else:
    LOOPS.append(uvloop.new_event_loop)


@pytest.fixture(params=LOOPS, ids=lambda factory: factory.__module__.split(".")[0])
def run(request: pytest.FixtureRequest) -> Callable[[Coroutine[Any, Any, Any]], Any]:
    def run(main: Coroutine[Any, Any, Any]) -> Any:
        with asyncio.Runner(loop_factory=request.param) as runner:
            return runner.run(main)
    return run


async def _settle(iterations: int = 10) -> None:
    for _ in range(iterations):
        await asyncio.sleep(0)


def test_calls_take_turns_in_arrival_order_one_at_a_time(run: Any) -> None:
    async def main() -> tuple[list[int], int]:
        turns = Turns()
        order: list[int] = []
        inside = most = 0

        async def call(number: int) -> None:
            nonlocal inside, most
            async with turns:
                inside += 1
                most = max(most, inside)
                order.append(number)
                await asyncio.sleep(0)  # a turn may wait on something small
                inside -= 1

        tasks = []
        for number in range(8):
            tasks.append(asyncio.create_task(call(number)))
            if number % 3 == 0:
                await asyncio.sleep(0)  # arrivals spread over several iterations
        await asyncio.gather(*tasks)
        return order, most

    order, most = run(main())
    assert order == list(range(8))
    assert most == 1


def test_the_loop_runs_a_whole_iteration_between_two_turns(run: Any) -> None:
    """What arrived during a turn is handled before the next turn starts: a callback made
    ready during turn A runs before turn B. B and C start in A's iteration, after A's turn
    (which never yields): back to back, B ran right after A, before the callback."""
    async def main() -> list[str]:
        turns = Turns()
        events: list[str] = []
        loop = asyncio.get_running_loop()

        async def call(name: str) -> None:
            async with turns:
                events.append(name)
                loop.call_soon(events.append, f"ready during {name}")

        await asyncio.gather(call("A"), call("B"), call("C"))
        await _settle()
        return events

    assert run(main()) == ["A", "ready during A", "B", "ready during B", "C", "ready during C"]


def test_a_failed_call_gives_its_turn_up(run: Any) -> None:
    async def main() -> list[str]:
        turns = Turns()
        events: list[str] = []

        async def failing() -> None:
            async with turns:
                raise ValueError("no")

        async def next_call() -> None:
            async with turns:
                events.append("next")

        results = await asyncio.gather(failing(), next_call(), return_exceptions=True)
        events.append(type(results[0]).__name__)
        return events

    assert run(main()) == ["next", "ValueError"]


def test_a_call_cancelled_while_waiting_does_not_take_a_turn(run: Any) -> None:
    async def main() -> list[str]:
        turns = Turns()
        events: list[str] = []
        release = asyncio.Event()

        async def holder() -> None:
            async with turns:
                await release.wait()
                events.append("holder")

        async def call(name: str) -> None:
            async with turns:
                events.append(name)

        first = asyncio.create_task(holder())
        await _settle()
        waiting = asyncio.create_task(call("cancelled"))
        after = asyncio.create_task(call("after"))
        await _settle()
        waiting.cancel()
        release.set()
        await asyncio.gather(first, after)
        with pytest.raises(asyncio.CancelledError):
            await waiting
        return events

    assert run(main()) == ["holder", "after"]


def test_a_call_cancelled_once_given_the_turn_passes_it_on(run: Any) -> None:
    """Cancelled after the turn was handed to it, before its task resumed."""
    async def main() -> list[str]:
        turns = Turns()
        events: list[str] = []

        async def call(name: str) -> None:
            async with turns:
                events.append(name)

        await turns.__aenter__()
        waiting = asyncio.create_task(call("cancelled"))
        after = asyncio.create_task(call("after"))
        await _settle()  # both queue behind this turn
        await turns.__aexit__(None, None, None)  # handed to "cancelled"
        waiting.cancel()
        results = await asyncio.gather(waiting, after, return_exceptions=True)
        events.append(type(results[0]).__name__)
        return events

    assert run(main()) == ["after", "CancelledError"]


def test_away_lets_the_others_go_on_and_comes_back_behind_them(run: Any) -> None:
    async def main() -> list[str]:
        turns = Turns()
        events: list[str] = []
        answer = asyncio.Event()

        async def fetching() -> None:
            async with turns:
                events.append("fetch: asks")
                async with turns.away():
                    await answer.wait()
                events.append("fetch: answered")

        async def call(name: str) -> None:
            async with turns:
                events.append(name)
                if name == "B":
                    answer.set()  # the answer comes while B has the turn

        fetch = asyncio.create_task(fetching())
        await _settle()
        others = [asyncio.create_task(call(name)) for name in ("B", "C")]
        await asyncio.gather(fetch, *others)
        return events

    # The fetch comes back behind C, which was waiting when the answer arrived.
    assert run(main()) == ["fetch: asks", "B", "C", "fetch: answered"]


def test_turns_end_free(run: Any) -> None:
    """After the last turn (and one iteration), a call takes its turn at once."""
    async def main() -> bool:
        turns = Turns()
        async with turns:
            pass
        await _settle()
        task = asyncio.ensure_future(turns.__aenter__())
        await asyncio.sleep(0)
        taken = task.done()
        await turns.__aexit__(None, None, None)
        return taken

    assert run(main()) is True
