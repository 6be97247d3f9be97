"""Codecs for the standard library's value types: datetimes, dates, times, durations, UUIDs and
decimals.

A datetime is stored as its ISO 8601 text (with its UTC offset when it is aware, so any reader
gets the instant); a `zoneinfo.ZoneInfo` zone also stores its key, so the value comes back in
the same zone, and a `fold` of 1 is kept. Other tzinfos come back as a fixed UTC offset.
"""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any, Callable, TypeVar

from cloacina._native import SerializationError

_MARKER = "$cloacina"

_Header = dict[str, Any]
_Encoded = tuple[_Header, Any]


def _zone_key(tzinfo: datetime.tzinfo | None) -> str | None:
    """The IANA key of a `zoneinfo.ZoneInfo` zone (None for any other tzinfo)."""
    try:
        import zoneinfo
    except ImportError:  # Python < 3.9 has no zoneinfo; the offset is kept.
        return None
    if isinstance(tzinfo, zoneinfo.ZoneInfo):
        return tzinfo.key
    return None


def _with_zone(header: _Header, tzinfo: datetime.tzinfo | None, fold: int) -> _Header:
    key = _zone_key(tzinfo)
    if key is not None:
        header["zone"] = key
    if fold:
        header["fold"] = fold
    return header


def _encode_datetime(value: datetime.datetime) -> _Encoded:
    return _with_zone({_MARKER: "datetime"}, value.tzinfo, value.fold), value.isoformat()


def _encode_time(value: datetime.time) -> _Encoded:
    return _with_zone({_MARKER: "time"}, value.tzinfo, value.fold), value.isoformat()


def _encode_timedelta(value: datetime.timedelta) -> _Encoded:
    return {_MARKER: "timedelta"}, [value.days, value.seconds, value.microseconds]


def _zone(key: str) -> datetime.tzinfo:
    import zoneinfo

    try:
        return zoneinfo.ZoneInfo(key)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise SerializationError(
            f"is a datetime in the time zone `{key}`, which this machine's time zone database does not "
            "have; install the `tzdata` package"
        ) from error


def _text(tag: str, payload: Any) -> str:
    if not isinstance(payload, str):
        raise SerializationError(f"is a `{tag}` whose stored value is not a str")
    return payload


_Clock = TypeVar("_Clock", datetime.datetime, datetime.time)


def _in_stored_zone(value: _Clock, header: _Header) -> _Clock:
    """A datetime or time with the zone and fold its header stored (the inverse of `_with_zone`):
    the stored wall time in the stored zone, exact even for a time a clock change skipped."""
    zone = header.get("zone")
    if zone is not None:
        value = value.replace(tzinfo=_zone(zone))
    return value.replace(fold=header.get("fold", 0))


def _decode_datetime(header: _Header, payload: Any) -> datetime.datetime:
    return _in_stored_zone(datetime.datetime.fromisoformat(_text("datetime", payload)), header)


def _decode_time(header: _Header, payload: Any) -> datetime.time:
    return _in_stored_zone(datetime.time.fromisoformat(_text("time", payload)), header)


def _decode_timedelta(header: _Header, payload: Any) -> datetime.timedelta:
    days, seconds, microseconds = payload
    return datetime.timedelta(days=days, seconds=seconds, microseconds=microseconds)


ENCODERS: dict[type, Callable[[Any], _Encoded]] = {
    datetime.datetime: _encode_datetime,
    datetime.date: lambda value: ({_MARKER: "date"}, value.isoformat()),
    datetime.time: _encode_time,
    datetime.timedelta: _encode_timedelta,
    uuid.UUID: lambda value: ({_MARKER: "uuid"}, str(value)),
    decimal.Decimal: lambda value: ({_MARKER: "decimal"}, str(value)),
}
"""Encoders by exact type."""

DECODERS: dict[str, Callable[[_Header, Any], Any]] = {
    "datetime": _decode_datetime,
    "date": lambda header, payload: datetime.date.fromisoformat(_text("date", payload)),
    "time": _decode_time,
    "timedelta": _decode_timedelta,
    "uuid": lambda header, payload: uuid.UUID(_text("uuid", payload)),
    "decimal": lambda header, payload: decimal.Decimal(_text("decimal", payload)),
}
"""Decoders by tag."""
