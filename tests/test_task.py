"""@task and cloacina.Task: ids, dependencies, settings, direct calls."""

import pytest

import cloacina
from cloacina import Context, RetryPolicy, Task, TriggerRule, ValidationError, task


def test_the_id_defaults_to_the_function_name():
    @task
    def extract(context):
        context.insert("rows", 3)

    @task()
    def load(context):
        return None

    assert (extract.id, load.id) == ("extract", "load")
    assert extract.dependencies == [] and isinstance(extract, Task)


def test_dependencies_may_be_ids_or_tasks():
    @task
    def first(context):
        pass

    @task(id="second", dependencies=[first, "elsewhere"])
    def second_function(context):
        pass

    assert second_function.id == "second"
    assert second_function.dependencies == ["first", "elsewhere"]


def test_a_task_can_still_be_called_directly():
    @task
    def double(context):
        context.set("n", context.get("n") * 2)
        return {"doubled": True}

    context = Context({"n": 21})
    assert double(context) == {"doubled": True}
    assert context["n"] == 42
    assert double.__wrapped__.__name__ == "double"


def test_settings_are_kept():
    policy = RetryPolicy(max_attempts=4, backoff="linear", initial_delay=0.5, max_delay=2.0, jitter=True)

    @task(retry=policy, timeout=1.5, trigger="any_failed")
    def cleanup(context):
        pass

    assert cleanup.retry is policy
    assert cleanup.timeout == 1.5
    assert cleanup.trigger == TriggerRule.any_failed()

    @task(retry=3)
    def flaky(context):
        pass

    assert flaky.retry.max_attempts == 3 and flaky.retry.backoff == "exponential"
    assert flaky.trigger == "all_succeeded"


def test_retry_policy_delays():
    policy = RetryPolicy(max_attempts=5, backoff="exponential", initial_delay=0.1, max_delay=0.3)
    assert [round(policy.delay_after(attempt), 3) for attempt in (1, 2, 3)] == [0.1, 0.2, 0.3]
    assert RetryPolicy(backoff="fixed", initial_delay=2).delay_after(3) == 2.0
    assert RetryPolicy(retry_on=(ValueError, KeyError)).retry_on == (ValueError, KeyError)
    assert "max_attempts=3" in repr(RetryPolicy())


def test_trigger_rules_combine():
    rule = TriggerRule.all_succeeded() & TriggerRule.context_greater_than("size", 10)
    assert "all" in repr(rule)
    assert (~TriggerRule.always()) != TriggerRule.always()
    assert TriggerRule.context_equals("mode", "full") == TriggerRule.context_equals("mode", "full")


def test_a_rule_name_combines_on_either_side():
    truthy = TriggerRule.context_truthy("ready")
    assert ("all_done" | truthy) == (TriggerRule.all_done() | truthy)
    assert ("none_failed" & truthy) == (TriggerRule.none_failed() & truthy)
    assert (truthy | "always") == (truthy | TriggerRule.always())
    with pytest.raises(ValidationError):
        "no_such_rule" | truthy


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"retry": "often"}, "retry must be a number of attempts or a cloacina.RetryPolicy, not `str`"),
        ({"retry": 0}, "max_attempts is 0; it must be at least 1"),
        ({"timeout": -1}, "timeout is -1"),
        ({"trigger": "sometimes"}, "unknown trigger rule `sometimes`; use one of: all_succeeded"),
        ({"dependencies": "first"}, "dependencies must be a list of ids, not a single str"),
        ({"dependencies": [42]}, "a dependency must be a task id or a Task, not `int`"),
    ],
)
def test_bad_settings_are_refused_with_the_reason(arguments, message):
    with pytest.raises(ValidationError, match=message.replace("[", r"\[").replace("(", r"\(")):
        task(**arguments)(lambda context: None)


def test_bad_retry_policies_are_refused():
    with pytest.raises(ValidationError, match="unknown backoff `random`"):
        RetryPolicy(backoff="random")
    with pytest.raises(ValidationError, match="retry_on takes exception classes; `3` is not one"):
        RetryPolicy(retry_on=(3,))
    with pytest.raises(ValidationError, match="initial_delay is -1"):
        RetryPolicy(initial_delay=-1)
    with pytest.raises(ValidationError, match=r"initial_delay is 120 s, longer than max_delay \(60 s\)"):
        RetryPolicy(backoff="fixed", initial_delay=120)


def test_task_needs_a_callable_and_an_id():
    with pytest.raises(ValidationError, match="the function must be callable, not `int`"):
        Task("x", [], 3)
    with pytest.raises(ValidationError, match="task id `` is empty"):
        Task("", [], lambda context: None)


def test_the_module_exports_what_it_documents():
    for name in cloacina.__all__:
        assert hasattr(cloacina, name), name


def test_a_function_that_cannot_take_the_context_is_refused_when_decorated():
    def load():
        return None

    with pytest.raises(TypeError) as raised:
        task(load)
    message = str(raised.value)
    assert message.startswith("task `load`: `load()` cannot take the context (too many positional arguments)")
    assert "def load(context): ..." in message

    def keyword_only(*, context):
        return None

    with pytest.raises(TypeError, match=r"task `custom`: `keyword_only\(\*, context\)` cannot take the context"):
        task(id="custom")(keyword_only)

    def two(context, other):
        return None

    with pytest.raises(TypeError, match="missing a required argument: 'other'"):
        task(two)


def test_functions_that_take_the_context_are_accepted():
    def with_default(context, scale=2):
        return None

    def varargs(*arguments):
        return None

    class Callable:
        def __call__(self, context):
            return None

    for function in (with_default, varargs, Callable(), lambda context: None, print):
        assert task(id="accepted")(function).id == "accepted"


def test_reprs_quote_like_python():
    made = task(id="it's", dependencies=["a"])(lambda context: None)
    assert repr(made) == """Task(id="it's", dependencies=['a'])"""
