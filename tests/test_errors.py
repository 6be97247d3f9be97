"""One exception hierarchy under cloacina.CloacinaError, each class where a Python user looks."""

import uuid

import pytest

import cloacina
from cloacina import UnifiedExecutor, task, workflow

HIERARCHY = {
    "CloacinaError": (Exception,),
    "ValidationError": (cloacina.CloacinaError, ValueError),
    "WorkflowValidationError": (cloacina.ValidationError, ValueError),
    "SerializationError": (cloacina.CloacinaError, TypeError),
    "ContextKeyError": (cloacina.CloacinaError, KeyError, ValueError),
    "DatabaseError": (cloacina.CloacinaError,),
    "WorkflowNotFoundError": (cloacina.CloacinaError, LookupError),
    "ExecutionNotFoundError": (cloacina.CloacinaError, LookupError),
    "ExecutionFailedError": (cloacina.CloacinaError,),
    "ExecutionCancelledError": (cloacina.CloacinaError,),
    "ExecutionTimeoutError": (cloacina.CloacinaError, TimeoutError),
    "ExecutorShutdownError": (cloacina.CloacinaError, RuntimeError),
}


@pytest.mark.parametrize(("name", "bases"), sorted(HIERARCHY.items()))
def test_each_class_derives_from_what_a_user_catches(name, bases):
    error_class = getattr(cloacina, name)
    assert error_class.__module__ == "cloacina"
    assert error_class.__doc__
    for base in bases:
        assert issubclass(error_class, base), f"{name} is not a {base.__name__}"


@pytest.mark.parametrize(
    "url",
    ["mysql://localhost/db", "sqlite://relative.db", "no scheme at all", "sqlite:///runs.db?mode=ro"],
)
def test_a_malformed_url_names_the_accepted_forms(url):
    with pytest.raises(cloacina.ValidationError) as raised:
        UnifiedExecutor(url)
    assert "accepted forms: `sqlite:///:memory:`" in str(raised.value)


def test_an_unreachable_database_names_host_and_port():
    with pytest.raises(cloacina.DatabaseError, match=r"cannot connect to PostgreSQL at 127\.0\.0\.1:1") as raised:
        UnifiedExecutor("postgresql://postgres:secret@127.0.0.1:1/nowhere")
    assert "secret" not in str(raised.value)


def test_a_sqlite_file_in_a_missing_folder_names_the_folder(tmp_path):
    missing = tmp_path / "no" / "such"
    with pytest.raises(cloacina.DatabaseError) as raised:
        UnifiedExecutor(f"sqlite:///{missing / 'runs.db'}")
    assert str(raised.value) == (
        f"cannot connect to the SQLite file `{missing / 'runs.db'}`: Unable to open the database file: the folder "
        f"`{missing}` does not exist; create it first (SQLite creates the database file, not its folder)"
    )
    assert not missing.exists()


@pytest.mark.parametrize(
    "url",
    [
        "postgresql://postgres:pa%ss-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres:pa/ss-hidden@127.0.0.1:1/nowhere",
        "postgresql:postgres:pass-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres:pa%00ss-hidden@127.0.0.1:1/nowhere",
        "postgresql://postgres@127.0.0.1:1/nowhere?password=pass-hidden",
        "postgresql://postgres:pass-hidden@127.0.0.1:1/nowhere?sslmode=bogus",
        "mysql://postgres:pass-hidden@127.0.0.1:1/nowhere",
    ],
)
def test_no_error_shows_the_password(url):
    with pytest.raises(cloacina.CloacinaError) as raised:
        UnifiedExecutor(url)
    assert "hidden" not in str(raised.value)
    assert "hidden" not in repr(raised.value)


def test_an_unknown_workflow_lists_the_registered_ones(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="a")(lambda context: None)])
    with pytest.raises(cloacina.WorkflowNotFoundError) as raised:
        executor.execute(unique_name + "_typo")
    message = str(raised.value)
    assert f"workflow `{unique_name}_typo` is not registered; registered workflows:" in message
    assert f"`{unique_name}`" in message


def test_an_unknown_execution_is_not_found(executor):
    missing = uuid.uuid4()
    for call in (executor.get_execution, executor.wait, executor.cancel):
        with pytest.raises(cloacina.ExecutionNotFoundError, match=f"execution `{missing}` does not exist"):
            call(missing)
    with pytest.raises(cloacina.ValidationError, match="`not-an-id` is not an execution id"):
        executor.get_execution("not-an-id")


def test_a_non_json_context_is_refused_before_anything_is_stored(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="a")(lambda context: None)])
    with pytest.raises(cloacina.SerializationError, match="context key `when`: the value has type `object`"):
        executor.execute(unique_name, {"when": object()})
    with pytest.raises(cloacina.SerializationError, match="not `list`"):
        executor.execute(unique_name, [1])
    assert executor.list_executions() == []


def test_a_task_writing_an_unsupported_value_fails_with_the_reason(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="writer")(lambda context: context.set("when", [1, object()]))])
    result = executor.execute(unique_name)
    assert result.status == "Failed"
    failed = result.task("writer")
    assert failed.error_type == "cloacina.SerializationError"
    assert "context key `when`: the value at `when[1]` has type `object`" in failed.error_message


def test_a_bad_workflow_argument_is_a_validation_error(executor):
    with pytest.raises(cloacina.ValidationError, match=r"expected a workflow name or a cloacina\.Workflow, not `int`"):
        executor.execute(42)
