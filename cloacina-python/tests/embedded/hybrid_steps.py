"""Python tasks run by the Rust tests in `../embed.rs`: values handed to a Rust task and back."""

import datetime
import decimal
import uuid

import pyarrow

import cloacina

WHEN = datetime.datetime(2026, 12, 3, 18, 30, 15, 250000, tzinfo=datetime.timezone(datetime.timedelta(hours=2)))
ID = uuid.UUID("a8098c1a-f86e-11da-bd1a-00112444be1e")
AMOUNT = decimal.Decimal("1234.5678")
PAYLOAD = bytes(range(256)) * 300
"""76,800 bytes: more than the JSON keeps inline, so the Rust task reads it from beside the JSON."""


@cloacina.task(id="produce")
def produce(context):
    context["when"] = WHEN
    context["id"] = ID
    context["amount"] = AMOUNT
    context["payload"] = PAYLOAD
    context["small"] = b"\x00\x01\x02"
    context["table"] = pyarrow.table({"id": [1, 2, 3], "name": ["a", "b", "c"]})


@cloacina.task(id="check", dependencies=["transform"])
async def check(context):
    """Reads what the Rust task wrote, as Python types."""
    expected = {
        "next_day": WHEN + datetime.timedelta(days=1),
        "same_id": ID,
        "doubled": AMOUNT * 2,
        "reversed": PAYLOAD[::-1],
        "small_reversed": b"\x02\x01\x00",
        "day": datetime.date(2026, 12, 3),
    }
    for key, value in expected.items():
        found = context[key]
        assert type(found) is type(value), f"{key}: {type(found).__name__} is not {type(value).__name__}"
        assert found == value, f"{key}: {found!r} != {value!r}"
    assert context["next_day"].utcoffset() == datetime.timedelta(hours=2)
    scored = context["scored"]
    assert isinstance(scored, pyarrow.Table), type(scored)
    assert scored.column_names == ["id", "name", "score"], scored.column_names
    assert scored.column("score").to_pylist() == [1.5, 3.0, 4.5]
    context["checked"] = True


@cloacina.task(id="explode", retry=2)
def explode(context):
    raise ValueError(f"not a number: {context.get('input')!r}")


def plain(context):
    """A function without `@task`: loaded with the default settings."""
    context["plain"] = "ran"


NOT_A_TASK = 42
