"""The plan's validation snippets, verbatim: the public contract."""


def test_phase_1_validation_snippet():
    from cloacina_python import PyContext, PyTask

    # Test context operations
    ctx = PyContext()
    ctx.insert("key", "value")
    assert ctx.get("key") == "value"

    # Test basic task creation
    def simple_task(context):
        context.insert("result", "success")

    task = PyTask("test_task", [], simple_task)
    assert task.id == "test_task"


def test_phase_2_validation_snippet():
    from cloacina import task, workflow, UnifiedExecutor

    @task(id="extract_data", dependencies=[])
    def extract_data(context):
        context.insert("raw_data", [1, 2, 3, 4, 5])

    @task(id="transform_data", dependencies=["extract_data"])
    def transform_data(context):
        data = context.get("raw_data")
        context.insert("processed_data", [x * 2 for x in data])

    pipeline = workflow(
        name="sync_pipeline",
        tasks=[extract_data, transform_data]
    )

    executor = UnifiedExecutor("sqlite:///:memory:")
    result = executor.execute("sync_pipeline", {})
    assert result.status == "Completed"
    # Beyond the snippet: the pipeline really ran.
    assert result.context["processed_data"] == [2, 4, 6, 8, 10]
    assert pipeline.name == "sync_pipeline"
    executor.shutdown()
