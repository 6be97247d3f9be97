"""Fan-out and fan-in: one task splits the work, many run at once, one task joins the results."""

from cloacina import UnifiedExecutor, task, workflow

SHARDS = 20


@task
def split(context):
    context.insert("numbers", list(range(1, 1001)))


def make_worker(shard: int):
    @task(id=f"square_{shard:02}", dependencies=[split])
    def square(context):
        numbers = context["numbers"][shard::SHARDS]
        return {f"partial_{shard:02}": sum(n * n for n in numbers)}

    return square


workers = [make_worker(shard) for shard in range(SHARDS)]


@task(dependencies=workers)
def join(context):
    total = sum(context[f"partial_{shard:02}"] for shard in range(SHARDS))
    context.insert("sum_of_squares", total)


workflow(name="fan_out_example", tasks=[split, *workers, join])


def main() -> None:
    with UnifiedExecutor("sqlite:///:memory:") as executor:
        result = executor.execute("fan_out_example")
    result.raise_for_status()
    print(f"{len(result.task_results)} tasks {result.status} in {(result.duration or 0) * 1000:.1f} ms")
    print(f"sum of squares 1..1000 = {result.context['sum_of_squares']}")
    assert result.context["sum_of_squares"] == sum(n * n for n in range(1, 1001))


if __name__ == "__main__":
    main()
