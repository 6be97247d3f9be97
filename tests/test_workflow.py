"""cloacina.workflow: validation with the engine's messages, and registration by name."""

import threading

import pytest

from cloacina import Workflow, WorkflowValidationError, task, workflow


def make(task_id, dependencies=()):
    return task(id=task_id, dependencies=list(dependencies))(lambda context: None)


def test_a_workflow_is_validated_ordered_and_versioned(unique_name):
    built = workflow(
        name=unique_name,
        tasks=[make("join", ["left", "right"]), make("left", ["root"]), make("right", ["root"]), make("root")],
        description="a diamond",
    )
    assert isinstance(built, Workflow)
    assert (built.name, built.description, len(built)) == (unique_name, "a diamond", 4)
    assert built.task_ids == ["root", "left", "right", "join"]
    assert len(built.version) == 64
    same = workflow(
        name=unique_name,
        tasks=[make("root"), make("left", ["root"]), make("right", ["root"]), make("join", ["right", "left"])],
    )
    assert same.version == built.version


def test_registering_a_name_again_replaces_the_workflow(executor, unique_name):
    workflow(name=unique_name, tasks=[task(id="old")(lambda context: context.set("which", "old"))])
    workflow(name=unique_name, tasks=[task(id="new")(lambda context: context.set("which", "new"))])
    result = executor.execute(unique_name)
    assert result.context["which"] == "new"


def test_a_running_execution_keeps_the_definition_it_started_with(executor, unique_name):
    gate = threading.Event()

    @task(id="first")
    def first(context):
        assert gate.wait(20)
        return {"which": "old"}

    @task(id="second", dependencies=[first])
    def second(context):
        return {"second": True}

    original = workflow(name=unique_name, tasks=[first, second])
    handle = executor.start(unique_name)
    # The notebook cell is run again with other tasks while the execution runs.
    replacement = workflow(name=unique_name, tasks=[task(id="new")(lambda context: {"which": "new"})])
    gate.set()
    result = handle.wait(timeout=30)
    assert result.status == "Completed", result.error
    assert (result.context["which"], result.context["second"]) == ("old", True)
    assert result.workflow_version == original.version
    assert executor.execute(unique_name).workflow_version == replacement.version


@pytest.mark.parametrize(
    ("tasks", "message"),
    [
        ([], "has no tasks; add at least one task"),
        ([make("a"), make("a")], "has two tasks with the id `a`; task ids must be unique"),
        (
            [make("extract"), make("load", ["extrct"])],
            "task `load` depends on `extrct`, which is not a task of workflow `{name}`; did you mean `extract`?",
        ),
        ([make("a", ["c"]), make("b", ["a"]), make("c", ["b"])], "has a dependency cycle: a -> b -> c -> a"),
    ],
)
def test_invalid_workflows_raise_the_engines_message(unique_name, tasks, message):
    with pytest.raises(WorkflowValidationError) as raised:
        workflow(name=unique_name, tasks=tasks)
    assert message.format(name=unique_name) in str(raised.value)
    assert isinstance(raised.value, ValueError)


def test_only_tasks_are_accepted(unique_name):
    expected = r"workflow tasks must be made with @task \(or be Rust tasks a module exports\); got `function`"
    with pytest.raises(WorkflowValidationError, match=expected):
        workflow(name=unique_name, tasks=[lambda context: None])


NAME_RULE = "1 to 255 printable characters"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("bad\x00name", "contains the control character \\u{0}"),
        ("two\nlines", "contains the control character \\u{a}"),
        ("x" * 256, "is 256 characters long; the limit is 255"),
        ("lone \udc80 surrogate", "is not valid Unicode: it contains a lone surrogate"),
        ("   ", "is empty"),
    ],
)
def test_workflow_names_are_checked_when_defined(name, problem):
    with pytest.raises(WorkflowValidationError) as raised:
        workflow(name=name, tasks=[make("a")])
    message = str(raised.value)
    assert problem in message and NAME_RULE in message, message


@pytest.mark.parametrize(
    ("task_id", "problem"),
    [
        ("nul\x00id", "contains the control character \\u{0}"),
        ("y" * 300, "is 300 characters long; the limit is 255"),
        ("\ud800", "is not valid Unicode: it contains a lone surrogate"),
    ],
)
def test_task_ids_are_checked_when_defined(task_id, problem):
    with pytest.raises(WorkflowValidationError) as raised:
        task(id=task_id)(lambda context: None)
    message = str(raised.value)
    assert problem in message and NAME_RULE in message, message
    with pytest.raises(WorkflowValidationError):
        task(id="fine", dependencies=[task_id])(lambda context: None)


def test_the_longest_names_run_on_every_backend(executor):
    name = "w" * 254 + "\u00e9"
    longest = task(id="t" * 254 + "\u00e9")(lambda context: {"ran": True})
    workflow(name=name, tasks=[longest, task(id="after", dependencies=[longest])(lambda context: None)])
    result = executor.execute(name)
    assert result.status == "Completed", result.error
    assert result.context["ran"] is True
    assert [summary.workflow_name for summary in executor.list_executions(workflow=name)] == [name]
