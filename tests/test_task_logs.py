"""Task logs: what a task logs while an attempt runs is kept with that attempt."""

import asyncio
import logging

import pytest

import cloacina
from cloacina import RetryPolicy, UnifiedExecutor, task, workflow

log = logging.getLogger("tests.task_logs")


def described(entries):
    return [(entry.task_id, entry.attempt, entry.level, entry.logger, entry.message) for entry in entries]


def test_a_def_and_an_async_def_task_keep_their_records_per_attempt(executor, unique_name, caplog):
    calls = {"flaky": 0}

    @task
    def steady(context):
        log.info("steady at %d", 1)
        log.debug("too detailed for INFO")
        logging.getLogger().warning("the root logger too")

    @task(dependencies=[steady], retry=RetryPolicy(max_attempts=2, initial_delay=0.01))
    async def flaky(context):
        calls["flaky"] += 1
        await asyncio.sleep(0)
        log.info("attempt %d starting", calls["flaky"])
        if calls["flaky"] == 1:
            raise RuntimeError("first attempt fails")
        log.warning("second attempt done")

    workflow(name=unique_name, tasks=[steady, flaky])
    with caplog.at_level(logging.WARNING):
        result = executor.execute(unique_name)
    assert result.status == "Completed"
    assert described(result.task("steady").logs) == [
        ("steady", 1, "INFO", "tests.task_logs", "steady at 1"),
        ("steady", 1, "WARNING", "root", "the root logger too"),
    ]
    assert described(result.task("flaky").logs) == [
        ("flaky", 1, "INFO", "tests.task_logs", "attempt 1 starting"),
        ("flaky", 2, "INFO", "tests.task_logs", "attempt 2 starting"),
        ("flaky", 2, "WARNING", "tests.task_logs", "second attempt done"),
    ]
    # The process's own logging is unchanged: at WARNING, it saw only the warnings.
    assert sorted(record.getMessage() for record in caplog.records if record.name != "cloacina") == [
        "second attempt done",
        "the root logger too",
    ]
    entry = result.task("steady").logs[0]
    assert entry.levelno == logging.INFO
    assert result.task("steady").started_at <= entry.time <= result.task("steady").finished_at
    assert described(executor.logs(result.execution_id)) == described(result.task("flaky").logs) + described(
        result.task("steady").logs
    )
    assert described(executor.logs(str(result.execution_id), task_id="steady")) == described(result.task("steady").logs)
    assert "LogEntry(task_id='steady', attempt=1, level='INFO'" in repr(entry)


def test_records_made_in_a_task_carry_its_execution_task_and_attempt(executor, unique_name):
    seen = []

    class Collect(logging.Handler):
        def emit(self, record):
            seen.append(record)

    handler = Collect(level=logging.INFO)
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:

        @task
        def noted(context):
            log.info("inside")

        workflow(name=unique_name, tasks=[noted])
        result = executor.execute(unique_name)
        log.info("outside")
    finally:
        log.removeHandler(handler)
        log.setLevel(logging.NOTSET)
    inside, outside = seen
    assert (inside.execution_id, inside.workflow, inside.task_id, inside.attempt) == (
        str(result.execution_id),
        unique_name,
        "noted",
        1,
    )
    assert not hasattr(outside, "task_id")


def test_the_level_kept_is_the_task_s_or_the_executor_s(database_url, unique_name):
    @task
    def default(context):
        log.debug("debug")
        log.info("info")
        log.error("error")

    @task(log_level="DEBUG")
    def detailed(context):
        log.debug("debug")
        log.info("info")

    @task(log_level=logging.CRITICAL)
    def quiet(context):
        log.error("error")

    @task(log_level="off")
    def silent(context):
        log.critical("critical")

    workflow(name=unique_name, tasks=[default, detailed, quiet, silent])
    with UnifiedExecutor(database_url, task_log_level="ERROR") as executor:
        result = executor.execute(unique_name)
    messages = {name: [entry.message for entry in result.task(name).logs] for name in ("default", "detailed")}
    assert messages == {"default": ["error"], "detailed": ["debug", "info"]}
    assert result.task("quiet").logs == [] and result.task("silent").logs == []
    assert (detailed.log_level, quiet.log_level, default.log_level) == (10, 50, None)


def test_prints_are_kept_when_asked(executor, unique_name, capsys):
    @task(log_prints=True)
    def talks(context):
        print("hello", "there", sep=", ")
        print("to stderr, not kept", file=__import__("sys").stderr)

    @task
    def mute(context):
        print("not kept: the executor keeps no prints")

    workflow(name=unique_name, tasks=[talks, mute])
    result = executor.execute(unique_name)
    assert described(result.task("talks").logs) == [("talks", 1, "INFO", "print", "hello, there")]
    assert result.task("mute").logs == []
    # Still printed.
    assert "hello, there" in capsys.readouterr().out


def test_an_executor_can_keep_every_task_s_prints(unique_name):
    @task
    def talks(context):
        print("kept")

    @task(log_prints=False)
    def refuses(context):
        print("not kept")

    workflow(name=unique_name, tasks=[talks, refuses])
    with UnifiedExecutor("sqlite:///:memory:", log_prints=True) as executor:
        result = executor.execute(unique_name)
    assert [entry.message for entry in result.task("talks").logs] == ["kept"]
    assert result.task("refuses").logs == []


def test_a_logged_exception_keeps_its_traceback_and_a_bad_format_is_kept_as_such(executor, unique_name):
    @task
    def troubled(context):
        try:
            {}["missing"]
        except KeyError:
            log.exception("lookup failed")
        # INFO: kept, but not passed to the handlers (pytest's would fail the test on it).
        log.info("%d items", "not a number")

    workflow(name=unique_name, tasks=[troubled])
    result = executor.execute(unique_name)
    assert result.status == "Completed"
    exception, bad_format = result.task("troubled").logs
    assert exception.level == "ERROR"
    assert exception.message.startswith("lookup failed\nTraceback (most recent call last):")
    assert exception.message.endswith("KeyError: 'missing'")
    assert bad_format.message.startswith("'%d items' % ('not a number',) (cannot be formatted:")


def test_a_task_that_logs_too_much_keeps_the_first_records_and_says_how_many_were_left_out(executor, unique_name):
    @task
    def chatty(context):
        for index in range(1_050):
            log.info("record %d", index)

    workflow(name=unique_name, tasks=[chatty])
    logs = executor.execute(unique_name).task("chatty").logs
    assert len(logs) == 1_001
    assert logs[999].message == "record 999"
    assert (logs[-1].level, logs[-1].logger) == ("WARNING", "cloacina")
    assert logs[-1].message.startswith("50 more log records were left out")


async def test_an_awaited_execution_keeps_its_coroutines_records_without_touching_the_caller_s_context(
    executor, unique_name
):
    from cloacina import _logs

    @task
    async def awaited(context):
        await asyncio.sleep(0)
        log.info("on the caller's loop")

    workflow(name=unique_name, tasks=[awaited])
    result = await executor.execute(unique_name)
    assert [entry.message for entry in result.task("awaited").logs] == ["on the caller's loop"]
    assert _logs.CURRENT.get() is None


def test_bad_levels_are_refused_with_the_accepted_forms(unique_name):
    with pytest.raises(cloacina.ValidationError, match=r"task `loud`: log_level: unknown log level \"LOUD\""):

        @task(log_level="LOUD")
        def loud(context):
            pass

    with pytest.raises(cloacina.ValidationError, match="task_log_level is -1"):
        UnifiedExecutor("sqlite:///:memory:", task_log_level=-1)
    with pytest.raises(TypeError, match="task_log_level cannot be `list`"):
        UnifiedExecutor("sqlite:///:memory:", task_log_level=[])


def test_the_logs_of_an_unknown_execution_are_an_error(executor):
    with pytest.raises(cloacina.ExecutionNotFoundError):
        executor.logs("00000000-0000-0000-0000-000000000000")
    with pytest.raises(cloacina.ValidationError):
        executor.logs("not an id")


def test_a_rust_task_s_tracing_events_are_kept_per_attempt(executor, unique_name):
    rust_tasks = pytest.importorskip("cloacina_test_tasks", reason="build it with `make python-extensions`")
    workflow(name=unique_name, tasks=[rust_tasks.flaky])
    result = executor.execute(unique_name, {"flaky_key": unique_name})
    assert result.task("flaky").attempts == 3
    assert described(result.task("flaky").logs) == [
        ("flaky", 1, "INFO", "rust_tasks::flaky", "trying attempt=1"),
        ("flaky", 1, "WARNING", "rust_tasks::flaky", "failing this time"),
        ("flaky", 2, "INFO", "rust_tasks::flaky", "trying attempt=2"),
        ("flaky", 2, "WARNING", "rust_tasks::flaky", "failing this time"),
        ("flaky", 3, "INFO", "rust_tasks::flaky", "trying attempt=3"),
    ]
