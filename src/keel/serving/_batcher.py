"""Admission control and adaptive micro-batching for one served model version.

:class:`Gate` admits at most ``concurrency`` requests at once and lets ``queue`` more wait
in line; past that a request is refused at once (HTTP 429 with a Retry-After estimated
from the current latency), so an overloaded model sheds load instead of piling it up.

:class:`MicroBatcher` gathers admitted requests into one ``predict`` call, as Triton's
dynamic batcher and BentoML's adaptive batching do: a batch starts as soon as the model is
free, taking every request already waiting (up to ``max_batch_size``). It waits up to
``max_wait_ms`` for more only when the recent arrival rate says more will come before the
model would finish anyway; at low load nobody waits. Each request carries a deadline; one
that expires in the queue is dropped before it costs model time.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from typing import Any

from keel.serving._codec import HttpError
from keel.serving._schema import Rows


@dataclass(frozen=True)
class BatchSettings:
    max_batch_size: int = 64
    max_wait_ms: float = 2.0
    adaptive: bool = True


class Gate:
    """At most ``concurrency`` requests in, ``queue`` waiting; the rest get 429."""

    def __init__(self, name: str, concurrency: int, queue: int) -> None:
        self.name = name
        self.concurrency = max(1, concurrency)
        self.queue_limit = max(0, queue)
        self.in_flight = 0
        self._waiters: deque[asyncio.Future[None]] = deque()
        self.latency_ewma_s = 0.005

    @property
    def waiting(self) -> int:
        return len(self._waiters)

    async def enter(self) -> None:
        if self.in_flight < self.concurrency and not self._waiters:
            self.in_flight += 1
            return
        if len(self._waiters) >= self.queue_limit:
            raise HttpError(
                429,
                f"model {self.name} is at its limit ({self.concurrency} requests in flight, "
                f"{self.queue_limit} queued); retry after the Retry-After seconds",
                {"Retry-After": str(self.retry_after())},
            )
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(fut)
        try:
            await fut  # the slot is handed over by leave(); in_flight already counts us
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.leave()  # we were handed a slot but will not use it
            else:
                self._waiters.remove(fut)
            raise

    def leave(self, latency_s: float | None = None) -> None:
        if latency_s is not None:
            self.latency_ewma_s += 0.05 * (latency_s - self.latency_ewma_s)
        while self._waiters:
            fut = self._waiters.popleft()
            if not fut.done():
                fut.set_result(None)  # hand our slot over
                return
        self.in_flight -= 1

    def retry_after(self) -> int:
        """Seconds until the queue ahead should have drained, rounded up (at least 1)."""
        backlog = self.in_flight + len(self._waiters)
        return max(1, math.ceil(backlog * self.latency_ewma_s / self.concurrency))


@dataclass
class _Item:
    rows: Rows
    future: asyncio.Future[Any]
    deadline: float


class MicroBatcher:
    """Runs ``predict_batch(rows) -> outputs`` on batches of requests, in ``executor``."""

    def __init__(
        self,
        name: str,
        predict_batch: Callable[[Rows], Any],
        *,
        settings: BatchSettings,
        executor: Executor | None,
        threads: int = 1,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self.name = name
        self._predict = predict_batch
        self._settings = settings
        self._executor = executor
        self._slots = max(1, threads)
        self._on_batch = on_batch
        self._queue: deque[_Item] = deque()
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._running = 0
        self._idle: asyncio.Event | None = None
        self._closing = False
        self._arrival_gap_s = 1.0  # EWMA of the time between requests
        self._last_arrival = 0.0
        self._batch_s = 0.001  # EWMA of one predict call
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def depth(self) -> int:
        return len(self._queue)

    def start(self) -> None:
        self._wake = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name=self.name)

    async def submit(self, rows: Rows, timeout_s: float) -> Any:
        """Queue ``rows`` and wait for their share of a batch's outputs."""
        if self._closing or self._wake is None:
            raise HttpError(503, f"model {self.name} is shutting down; retry")
        loop = asyncio.get_running_loop()
        now = loop.time()
        if self._last_arrival:
            self._arrival_gap_s += 0.1 * (now - self._last_arrival - self._arrival_gap_s)
        self._last_arrival = now
        fut: asyncio.Future[Any] = loop.create_future()
        self._queue.append(_Item(rows, fut, now + timeout_s))
        assert self._idle is not None
        self._idle.clear()
        self._wake.set()
        timer = loop.call_later(timeout_s, _expire, fut, self.name, timeout_s)
        try:
            return await fut
        finally:
            timer.cancel()

    async def close(self, timeout_s: float = 30.0) -> None:
        """Stop taking requests, finish what is queued or running, then stop the loop."""
        self._closing = True
        if self._idle is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._idle.wait(), timeout_s)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        assert self._wake is not None and self._idle is not None
        free = asyncio.Semaphore(self._slots)
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._running == 0:
                    self._idle.set()
                self._wake.clear()
                await self._wake.wait()
                continue
            await free.acquire()
            if self._should_wait():
                await asyncio.sleep(self._settings.max_wait_ms / 1000)
            batch = self._take(loop.time())
            if not batch:
                free.release()
                continue
            self._running += 1
            task = loop.create_task(self._run(batch, free))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    def _should_wait(self) -> bool:
        s = self._settings
        if s.max_wait_ms <= 0 or len(self._queue) >= s.max_batch_size:
            return False
        if not s.adaptive:
            return True
        # Wait only if, at the current arrival rate, at least one more request lands
        # within the wait and the wait is small next to a predict call.
        wait_s = s.max_wait_ms / 1000
        return self._arrival_gap_s < wait_s and wait_s < 2 * self._batch_s

    def _take(self, now: float) -> list[_Item]:
        batch: list[_Item] = []
        n = 0
        limit = self._settings.max_batch_size
        while self._queue and (n == 0 or n + self._queue[0].rows.n <= limit):
            item = self._queue.popleft()
            if item.future.done():  # expired or cancelled while waiting
                continue
            batch.append(item)
            n += item.rows.n
        return batch

    async def _run(self, batch: list[_Item], free: asyncio.Semaphore) -> None:
        loop = asyncio.get_running_loop()
        rows = Rows.concat([b.rows for b in batch])
        start = time.perf_counter()
        try:
            if self._executor is None:
                result = self._predict(rows)
            else:
                result = await loop.run_in_executor(self._executor, self._predict, rows)
        except Exception as exc:
            await self._isolate(batch, exc)
        else:
            offset = 0
            for item in batch:
                if not item.future.done():
                    item.future.set_result((result, offset, offset + item.rows.n))
                offset += item.rows.n
        finally:
            elapsed = time.perf_counter() - start
            self._batch_s += 0.1 * (elapsed - self._batch_s)
            if self._on_batch is not None:
                self._on_batch(rows.n, elapsed)
            self._running -= 1
            free.release()
            if self._wake is not None:
                self._wake.set()

    async def _isolate(self, batch: list[_Item], exc: Exception) -> None:
        """A failed batch of several requests is retried one by one, so a single bad
        request fails alone and the others still get their answers."""
        if len(batch) == 1:
            if not batch[0].future.done():
                batch[0].future.set_exception(exc)
            return
        loop = asyncio.get_running_loop()
        for item in batch:
            if item.future.done():
                continue
            try:
                if self._executor is None:
                    result = self._predict(item.rows)
                else:
                    result = await loop.run_in_executor(self._executor, self._predict, item.rows)
            except Exception as one:
                if not item.future.done():
                    item.future.set_exception(one)
            else:
                if not item.future.done():
                    item.future.set_result((result, 0, item.rows.n))


def _expire(fut: asyncio.Future[Any], name: str, timeout_s: float) -> None:
    if not fut.done():
        fut.set_exception(
            HttpError(504, f"model {name} did not answer within {timeout_s * 1000:.0f} ms")
        )


__all__ = ["BatchSettings", "Gate", "MicroBatcher"]
