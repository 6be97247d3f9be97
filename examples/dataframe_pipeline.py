"""A pandas and NumPy pipeline: generate sales, clean them, analyse each region in a task of its
own, combine the analyses and report. DataFrames, arrays, dates and decimals flow between the
tasks as themselves, and the whole run is kept in a SQLite file that a new executor reads back.

Needs `pip install cloacina[dataframes]`.
"""

import datetime
import decimal
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from cloacina import UnifiedExecutor, task, workflow

REGIONS = ("north", "south", "east", "west")
START = datetime.date(2026, 1, 1)


@task
def generate(context):
    """Raw sales as a source would deliver them: some amounts missing, some negative."""
    rows = 50_000
    rng = np.random.default_rng(seed=17)
    amounts = rng.gamma(shape=2.0, scale=40.0, size=rows).round(2)
    amounts[rng.random(rows) < 0.01] = np.nan
    amounts[rng.random(rows) < 0.005] *= -1
    context["raw"] = pd.DataFrame(
        {
            "day": pd.Timestamp(START) + pd.to_timedelta(rng.integers(0, 90, rows), unit="D"),
            "region": pd.Categorical(rng.choice(REGIONS, rows), categories=REGIONS),
            "product": rng.choice([f"sku-{n:03}" for n in range(40)], rows),
            "amount": amounts,
        }
    )


@task(dependencies=[generate])
def clean(context):
    """Drops rows without an amount, turns refunds into positive returns, records what it did."""
    raw = context["raw"]
    cleaned = raw.dropna(subset=["amount"]).assign(returned=lambda frame: frame["amount"] < 0)
    cleaned["amount"] = cleaned["amount"].abs()
    context["sales"] = cleaned.reset_index(drop=True)
    context["dropped_rows"] = len(raw) - len(cleaned)


def analyse(region: str):
    @task(id=f"analyse_{region}", dependencies=[clean])
    def analysis(context):
        sales = context["sales"]
        mine = sales[sales["region"] == region]
        daily = mine.groupby("day")["amount"].sum()
        return {
            f"daily_{region}": daily,
            f"percentiles_{region}": np.percentile(mine["amount"], [50, 90, 99]),
            f"top_product_{region}": mine.groupby("product")["amount"].sum().idxmax(),
        }

    return analysis


analyses = [analyse(region) for region in REGIONS]


@task(dependencies=analyses)
def combine(context):
    daily = pd.DataFrame({region: context[f"daily_{region}"] for region in REGIONS}).fillna(0.0)
    context["daily"] = daily
    context["best_day"] = daily.sum(axis=1).idxmax().date()
    context["revenue"] = decimal.Decimal(str(round(daily.to_numpy().sum(), 2)))


@task(dependencies=[combine])
def report(context):
    daily, percentiles = context["daily"], {region: context[f"percentiles_{region}"] for region in REGIONS}
    lines = [f"revenue {context['revenue']} over {len(daily)} days; best day {context['best_day']}"]
    for region in REGIONS:
        p50, p90, p99 = percentiles[region]
        lines.append(
            f"{region:>5}: {daily[region].sum():>12,.2f}  p50 {p50:6.2f}  p90 {p90:6.2f}  p99 {p99:7.2f}  "
            f"top {context[f'top_product_{region}']}"
        )
    context["report"] = "\n".join(lines)


workflow(name="dataframe_pipeline", tasks=[generate, clean, *analyses, combine, report])


def main() -> None:
    with tempfile.TemporaryDirectory() as directory:
        url = f"sqlite:///{Path(directory) / 'sales.db'}"
        with UnifiedExecutor(url) as executor:
            result = executor.execute("dataframe_pipeline")
        result.raise_for_status()
        # Another executor (or another process) reads the same values back from the file.
        with UnifiedExecutor(url, run_tasks=False) as reader:
            stored = reader.get_execution(result.execution_id).context
        print(stored["report"])
        print(f"{stored['dropped_rows']} rows dropped; daily revenue frame {stored['daily'].shape}")
        assert isinstance(stored["best_day"], datetime.date)
        assert isinstance(stored["revenue"], decimal.Decimal)
        pd.testing.assert_frame_equal(stored["daily"], result.context["daily"])


if __name__ == "__main__":
    main()
