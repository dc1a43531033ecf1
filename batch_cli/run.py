"""Fill every planned hole: requests in flight together (the daemon batches them into shared
forward passes), each file composed and handed on as soon as its last answer is in."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from engine.protocol import EngineError
from batch_cli.plan import ENGINE_ERROR, FilePlan, compose, record_answer


async def fill_all(engine, plans: list[FilePlan], *, jobs: int, min_confidence: float,
                   allow_parse_errors: bool, on_answer: Callable[[], None],
                   on_file: Callable[[int, FilePlan], None], trace: bool = False) -> None:
    """Fill the holes of `plans`, at most `jobs` requests in flight; with `trace`, each answer brings
    what the model saw.

    An unreachable engine ends the run (other requests are cancelled); any other engine error leaves
    its hole unfilled. `on_file(index, plan)` runs once per file, after it is composed.
    """
    limit = asyncio.Semaphore(jobs)

    async def ask(file_plan: FilePlan, index: int) -> str | None:
        request = file_plan.requests[index]
        outcome = file_plan.outcomes[index]
        async with limit:
            try:
                # Each hole has a document key of its own: the daemon lets a request supersede an
                # older one with the same key, and holes of one file must be batched, not dropped.
                result = await engine.infill(request.prefix, request.suffix, max_tokens=request.max_tokens,
                                             max_lines=request.max_lines, doc=f"{file_plan.uri}#hole{index}",
                                             gate=min_confidence, word_ends=request.word_ends, trace=trace)
            except EngineError as exc:
                if exc.unreachable:
                    raise
                outcome.status, outcome.message = ENGINE_ERROR, f"{exc} ({exc.code})"
                on_answer()
                return None
        record_answer(outcome, result)
        on_answer()
        return result.text

    async def fill_file(position: int, file_plan: FilePlan) -> None:
        indices = [i for i, request in enumerate(file_plan.requests) if request is not None]
        async with asyncio.TaskGroup() as group:
            asked = {i: group.create_task(ask(file_plan, i)) for i in indices}
        answers = {i: task.result() for i, task in asked.items() if task.result() is not None}
        compose(file_plan, answers, min_confidence=min_confidence, allow_parse_errors=allow_parse_errors)
        on_file(position, file_plan)

    async with asyncio.TaskGroup() as group:
        for position, file_plan in enumerate(plans):
            group.create_task(fill_file(position, file_plan))
