"""Testing workflows: run one (or some of its tasks) on the calling thread, and check its tasks.

`run` runs a workflow with the same semantics as `UnifiedExecutor.execute` (retries, trigger
rules, timeouts, stored values), on a private in-memory database unless given an executor, with
every task function called on the calling thread where it can be: `breakpoint()` in a task stops
there, and the tracebacks of failures point into the task. The pytest plugin
(`cloacina.testing.plugin`, loaded by pytest when the package is installed) provides an
`executor` fixture.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from typing import Any

from cloacina import ExecutionResult, TaskResult, UnifiedExecutor, Workflow, get_workflow

__all__ = ["assert_completed", "assert_task", "run", "run_async"]

PRIVATE_DATABASE = "sqlite:///:memory:"
"""The database `run` uses without an executor: private to it, gone when it returns."""


def _selected(workflow: str | Workflow, tasks: Iterable[str] | None) -> Workflow:
    chosen = get_workflow(workflow) if isinstance(workflow, str) else workflow
    if tasks is None:
        return chosen
    if isinstance(tasks, str):
        raise TypeError(f"tasks must be a list of task ids, not the string {tasks!r}; write tasks=[{tasks!r}]")
    return chosen.subset(list(tasks))


def run(
    workflow: str | Workflow,
    context: Mapping[str, Any] | None = None,
    *,
    tasks: Iterable[str] | None = None,
    executor: UnifiedExecutor | None = None,
    timeout: float | None = None,
) -> ExecutionResult:
    """Runs a workflow, or some of its tasks, to its end on the calling thread.

    Args:
        workflow: A `Workflow`, or the name of a registered one.
        context: The initial context. With `tasks`, it also holds what the tasks left out would
            have written.
        tasks: Run only these tasks (ids), each depending only on those of its dependencies
            among them (see `Workflow.subset`).
        executor: Run on this executor (its database and settings); by default on a fresh
            executor with a private in-memory database, shut down before returning.
        timeout: Seconds the execution may take; past that it is cancelled and
            `ExecutionTimeoutError` raised.

    Returns:
        The `ExecutionResult`, whatever its status: check it with `assert_completed` or
        `assert_task`.

    Raises:
        RuntimeError: An event loop runs in this thread: use `await run_async(...)`.
        WorkflowNotFoundError: No workflow is registered under that name.
        WorkflowValidationError: A task id in `tasks` is not the workflow's.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError("an event loop runs in this thread: use `await cloacina.testing.run_async(...)` instead")
    chosen = _selected(workflow, tasks)
    own = executor is None
    runner = UnifiedExecutor(PRIVATE_DATABASE) if executor is None else executor
    try:
        return asyncio.run(_execute_here(runner, chosen, context, timeout))
    finally:
        if own:
            runner.shutdown()


async def _execute_here(
    executor: UnifiedExecutor, workflow: Workflow, context: Mapping[str, Any] | None, timeout: float | None
) -> ExecutionResult:
    return await executor._execute_here(workflow, dict(context) if context is not None else None, timeout=timeout)


async def run_async(
    workflow: str | Workflow,
    context: Mapping[str, Any] | None = None,
    *,
    tasks: Iterable[str] | None = None,
    executor: UnifiedExecutor | None = None,
    timeout: float | None = None,
) -> ExecutionResult:
    """Runs a workflow, or some of its tasks, to its end on the running event loop.

    Like `run`, for asyncio tests: every task function (plain or `async def`) is called on the
    loop's thread.

    Args:
        workflow: A `Workflow`, or the name of a registered one.
        context: The initial context.
        tasks: Run only these tasks (ids).
        executor: Run on this executor; by default on a fresh one with a private in-memory
            database, shut down before returning.
        timeout: Seconds the execution may take.

    Returns:
        The `ExecutionResult`, whatever its status.
    """
    chosen = _selected(workflow, tasks)
    own = executor is None
    runner = UnifiedExecutor(PRIVATE_DATABASE) if executor is None else executor
    try:
        return await _execute_here(runner, chosen, context, timeout)
    finally:
        if own:
            await runner.shutdown_async()


def _failure_text(task: TaskResult) -> str:
    return task.traceback or task.error or "(no error recorded)"


def assert_completed(result: ExecutionResult) -> ExecutionResult:
    """Checks that the execution completed; the assertion names each task that did not, with
    its error and traceback.

    Args:
        result: An `ExecutionResult`.

    Returns:
        The result, for chaining.

    Raises:
        AssertionError: The execution did not complete.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    if result.status == "Completed":
        return result
    lines = [f"execution of {result.workflow_name!r} is {result.status}, not Completed"]
    if result.error:
        lines.append(f"error: {result.error.splitlines()[0]}")
    for task in result.task_results:
        if task.status != "Completed":
            lines.append(f"task {task.task_id!r} is {task.status}")
            if task.error:
                lines.append(_failure_text(task))
    raise AssertionError("\n".join(lines))


def assert_task(
    result: ExecutionResult,
    task_id: str,
    status: str = "Completed",
    *,
    outputs: Mapping[str, Any] | None = None,
    attempts: int | None = None,
) -> TaskResult:
    """Checks one task of an execution: its status, and optionally what it wrote and how many
    attempts it took.

    Args:
        result: An `ExecutionResult`.
        task_id: The task's id.
        status: The `TaskStatus` it must have (`"Completed"` by default).
        outputs: Keys it must have written, with their values (it may have written others).
        attempts: The number of attempts it must have taken.

    Returns:
        The task's `TaskResult`.

    Raises:
        AssertionError: The task is not in the result, or differs; the message says how, with
            the task's error and traceback.
    """
    __tracebackhide__ = True  # pytest shows the caller's line, not this function's
    task = result.task(task_id)
    if task is None:
        known = ", ".join(repr(known.task_id) for known in result.task_results)
        raise AssertionError(f"workflow {result.workflow_name!r} has no task {task_id!r}; its tasks: {known}")
    if task.status != status:
        detail = f"\n{_failure_text(task)}" if task.error else ""
        raise AssertionError(f"task {task_id!r} is {task.status}, not {status}{detail}")
    if attempts is not None and task.attempts != attempts:
        raise AssertionError(f"task {task_id!r} took {task.attempts} attempts, not {attempts}")
    if outputs is not None:
        written = task.output.to_dict() if task.output is not None else {}
        problems = [
            f"{key!r}: not written" if key not in written else f"{key!r}: wrote {written[key]!r}, not {value!r}"
            for key, value in outputs.items()
            if key not in written or written[key] != value
        ]
        if problems:
            raise AssertionError(f"task {task_id!r} outputs differ:\n  " + "\n  ".join(problems))
    return task
