"""The engine's log records reach Python's `logging`, under the logger `cloacina`."""

import logging
import subprocess
import sys
import textwrap
import time

from cloacina import UnifiedExecutor

CHILD = textwrap.dedent(
    """
    import sys
    from cloacina import UnifiedExecutor, task, workflow

    @task
    def only(context):
        pass

    workflow(name="registered_elsewhere", tasks=[only])
    with UnifiedExecutor(sys.argv[1], run_tasks=False) as executor:
        executor.start("registered_elsewhere")
    """
)


def records_about(caplog, text: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if text in record.getMessage()]


def test_engine_warnings_reach_the_cloacina_logger(tmp_path, caplog):
    url = f"sqlite:///{tmp_path / 'runs.db'}"
    # Another process leaves an execution of a workflow this one never registers.
    subprocess.run([sys.executable, "-c", CHILD, url], check=True, timeout=60)
    with caplog.at_level(logging.WARNING, logger="cloacina"), UnifiedExecutor(url, poll_interval=0.05) as executor:
        deadline = time.monotonic() + 10
        while not records_about(caplog, "registered_elsewhere") and time.monotonic() < deadline:
            time.sleep(0.01)
        # Left alone: several polls later its task is still waiting, unclaimed.
        time.sleep(0.3)
        [execution] = executor.list_executions()
        snapshot = executor.get_execution(execution.execution_id)
        assert execution.status == "Pending"
        assert (snapshot.task("only").status, snapshot.task("only").attempts) == ("Ready", 0)
    [record] = records_about(caplog, "registered_elsewhere")
    assert record.name == "cloacina"
    assert record.levelno == logging.WARNING
    assert record.getMessage().startswith("unfinished executions of a workflow this executor has not registered")
    assert "count=1" in record.getMessage()
    assert record.engine_target.startswith("cloacina")
    # Every engine record names the execution, workflow, task and attempt it is about: here a
    # workflow only.
    assert (record.execution_id, record.workflow, record.task_id, record.attempt) == (
        None,
        "registered_elsewhere",
        None,
        None,
    )


def test_an_unknown_workflow_logs_nothing(caplog):
    import cloacina

    with caplog.at_level(logging.WARNING, logger="cloacina"), UnifiedExecutor("sqlite:///:memory:") as executor:
        for _ in range(3):
            try:
                executor.execute("no_such_workflow")
            except cloacina.WorkflowNotFoundError:
                pass
        # The engine's records reach `logging` from a thread of their own: give them time.
        time.sleep(0.5)
    assert [record.getMessage() for record in caplog.records if record.name == "cloacina"] == []
