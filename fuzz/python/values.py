"""Fuzzing the conversion of Python values to their stored form and back (atheris).

    python fuzz/python/values.py -max_total_time=60 [libFuzzer options]

Each input is turned into a Python value: nested lists, tuples, sets, dicts (with keys of
several types, the tag key ``$cloacina`` among them), text, integers of any size, floats (NaN
and infinities too), bytes, datetimes with and without zones, dates, times, timedeltas, UUIDs
and decimals. The value is written into a ``cloacina.Context`` and read back: it must come back
equal and of the same type, or be refused with a ``cloacina.CloacinaError`` (a value nested too
deep, say). Anything else, a different value, another exception or a crash, is a finding.
"""

from __future__ import annotations

import datetime
import decimal
import math
import sys
import uuid

import atheris

with atheris.instrument_imports():
    import cloacina

MAX_DEPTH = 6
TAG_KEY = "$cloacina"
TAGS = ["datetime", "date", "time", "timedelta", "uuid", "decimal", "bytes", "tuple", "set", "dict", "nope"]


def make_text(data: atheris.FuzzedDataProvider) -> str:
    """Text, sometimes one of the stored form's own words."""
    choice = data.ConsumeIntInRange(0, 3)
    if choice == 0:
        return TAG_KEY
    if choice == 1:
        return data.PickValueInList(TAGS)
    return data.ConsumeUnicodeNoSurrogates(data.ConsumeIntInRange(0, 12))


def make_key(data: atheris.FuzzedDataProvider) -> object:
    """A dict key of one of the types a context keeps as keys."""
    choice = data.ConsumeIntInRange(0, 5)
    if choice == 0:
        return data.ConsumeInt(9)
    if choice == 1:
        return data.ConsumeBytes(data.ConsumeIntInRange(0, 6))
    if choice == 2:
        return (make_text(data), data.ConsumeInt(2))
    if choice == 3:
        return frozenset({data.ConsumeInt(1)})
    return make_text(data)


def make_moment(data: atheris.FuzzedDataProvider) -> object:
    """A date, time, datetime or timedelta, within the ranges Python allows."""
    choice = data.ConsumeIntInRange(0, 3)
    seconds = data.ConsumeIntInRange(-(10**10), 10**10)
    micros = data.ConsumeIntInRange(0, 999_999)
    if choice == 0:
        return datetime.timedelta(seconds=seconds, microseconds=micros)
    moment = datetime.datetime(2000, 1, 1) + datetime.timedelta(seconds=seconds, microseconds=micros)
    if choice == 1:
        return moment.date()
    if choice == 2:
        return moment.time()
    if data.ConsumeBool():
        offset = datetime.timedelta(minutes=data.ConsumeIntInRange(-1439, 1439))
        moment = moment.replace(tzinfo=datetime.timezone(offset), fold=data.ConsumeIntInRange(0, 1))
    return moment


def make_value(data: atheris.FuzzedDataProvider, depth: int = 0) -> object:
    """Any value a context holds, nested up to MAX_DEPTH."""
    leaf = depth >= MAX_DEPTH
    choice = data.ConsumeIntInRange(0, 9 if leaf else 14)
    if choice == 0:
        return None
    if choice == 1:
        return data.ConsumeBool()
    if choice == 2:
        return data.ConsumeInt(data.ConsumeIntInRange(1, 40))
    if choice == 3:
        return data.ConsumeRegularFloat() if data.ConsumeBool() else data.ConsumeFloat()
    if choice == 4:
        return make_text(data)
    if choice == 5:
        return data.ConsumeBytes(data.ConsumeIntInRange(0, 64))
    if choice == 6:
        return make_moment(data)
    if choice == 7:
        return uuid.UUID(bytes=data.ConsumeBytes(16).ljust(16, b"\0"))
    if choice == 8:
        text = data.PickValueInList(["0", "-0", "1.50", "NaN", "-Infinity", "1E+30", "sNaN"])
        return decimal.Decimal(text) if data.ConsumeBool() else decimal.Decimal(data.ConsumeInt(12)).scaleb(-4)
    if choice == 9:
        return bytearray(data.ConsumeBytes(data.ConsumeIntInRange(0, 8)))
    size = data.ConsumeIntInRange(0, 4)
    if choice == 10:
        return [make_value(data, depth + 1) for _ in range(size)]
    if choice == 11:
        return tuple(make_value(data, depth + 1) for _ in range(size))
    if choice == 12:
        return {make_key(data) for _ in range(size)}
    if choice == 13:
        return {make_text(data): make_value(data, depth + 1) for _ in range(size)}
    return {make_key(data): make_value(data, depth + 1) for _ in range(size)}


def same(left: object, right: object) -> bool:
    """Equal, of the same type all the way down, NaN equal to NaN."""
    if type(left) is not type(right):
        return False
    if isinstance(left, float):
        return left == right or (math.isnan(left) and math.isnan(right))
    if isinstance(left, decimal.Decimal):
        return str(left) == str(right)
    if isinstance(left, datetime.datetime):
        return left == right and left.tzinfo == right.tzinfo and left.fold == right.fold
    if isinstance(left, (list, tuple)):
        return len(left) == len(right) and all(same(a, b) for a, b in zip(left, right))
    if isinstance(left, dict):
        return list(left) == list(right) and all(same(left[key], right[key]) for key in left)
    return left == right


def test_one_input(raw: bytes) -> None:
    data = atheris.FuzzedDataProvider(raw)
    value = make_value(data)
    context = cloacina.Context()
    try:
        context["value"] = value
    except cloacina.CloacinaError:
        return
    back = context["value"]
    if not same(value, back):
        raise AssertionError(f"{value!r} came back as {back!r}; stored as {context.raw('value')!r}")


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
