"""The event loops a program run owns: created quiet about expected failures, and fully shut down."""

from __future__ import annotations

import asyncio
from typing import Any

from infra import pulumi_runtime


def new_loop() -> asyncio.AbstractEventLoop:
    """A fresh event loop that does not report failed futures nobody awaited."""
    loop = asyncio.new_event_loop()
    loop.set_exception_handler(_drop_unretrieved_failures)
    return loop


def _drop_unretrieved_failures(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """Skip asyncio's report of a failed future nobody awaited; report anything else as usual."""
    # After a failed run, every output that depended on the failure holds a copy of its exception. The
    # caller already has the first one, and logging each copy when the garbage collector finds it means
    # formatting tracebacks (so `ast.parse`) on arbitrary threads, which races with pytest's import
    # hook on CPython < 3.11.8 (gh-106905: "AST constructor recursion depth mismatch").
    future = context.get("future")
    failed = (
        isinstance(future, asyncio.Future)
        and future.done()
        and not future.cancelled()
        and future.exception() is not None
    )
    if not failed:
        loop.default_exception_handler(context)


def give_thread_a_loop(worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    """Executor initializer: give the thread its own loop, kept in `worker_loops` to close later."""
    worker_loop = new_loop()
    asyncio.set_event_loop(worker_loop)
    worker_loops.append(worker_loop)


def shut_down(loop: asyncio.AbstractEventLoop, worker_loops: list[asyncio.AbstractEventLoop]) -> None:
    """Stop callback servers, cancel what a failed program left behind, release executor and loops."""
    try:
        # Resource hooks and transforms start a gRPC callback server on this loop; stop it before its
        # tasks are cancelled below (the SDK only stops servers created on the current loop).
        loop.run_until_complete(pulumi_runtime.stop_callback_servers())
        pending = asyncio.all_tasks(loop)
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        loop.run_until_complete(loop.shutdown_default_executor())
    finally:
        asyncio.set_event_loop(None)
        loop.close()
        for worker_loop in worker_loops:
            worker_loop.close()
