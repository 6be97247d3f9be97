"""Values that are not JSON, as tagged JSON objects: what the engine calls for every such value.

The engine converts plain JSON values (and tuples, sets, bytes, big ints, non-finite floats and
dicts with other keys than str) itself; for any other value it calls `encode`, and for a tagged
object whose tag it does not know it calls `decode`. The format is described in
`docs/content/reference/value-format.md`.

`encode(value)` returns `(header, payload)`: the header holds the tag under the marker key and
any other fields, and the payload is a value the engine converts in turn (so a dataclass field
may itself be a datetime) and stores under `"value"`. It returns None for a value no codec takes.
`decode(header, payload, allow_pickle)` is the inverse; the header and payload it gets are
already decoded.
"""

from __future__ import annotations

from typing import Any

from cloacina._native import SerializationError
from cloacina._values import _arrays, _classes, _codecs, _frames, _standard

MARKER = "$cloacina"
"""The key that marks a JSON object as a tagged value."""

_Header = dict[str, Any]


def encode(value: Any) -> tuple[_Header, Any] | None:
    """The tagged form of a value that is not JSON, or None when no codec takes it."""
    kind = type(value)
    custom = _codecs.find(kind)
    if custom is not None:
        return custom.encode(value)
    standard = _standard.ENCODERS.get(kind)
    if standard is not None:
        return standard(value)
    for encoder in (_codecs.encode_pickled, _classes.encode, _arrays.encode, _frames.encode):
        encoded = encoder(value)
        if encoded is not None:
            return encoded
    return None


def decode(header: _Header, payload: Any, allow_pickle: bool) -> Any:
    """The value of a tagged object (the marker's tag in `header`) whose payload is `payload`."""
    tag = header[MARKER]
    if tag == "codec":
        return _codecs.decode(header, payload)
    if tag == "pickle":
        return _codecs.decode_pickled(payload, allow_pickle)
    decoder = (
        _standard.DECODERS.get(tag)
        or _classes.DECODERS.get(tag)
        or _arrays.DECODERS.get(tag)
        or _frames.DECODERS.get(tag)
    )
    if decoder is None:
        raise SerializationError(
            f"is tagged `{tag}`, a kind of value this version of cloacina does not know; read it with "
            "`context.raw(key)` or upgrade cloacina"
        )
    return decoder(header, payload)


__all__ = ["MARKER", "decode", "encode"]
