"""The user's own codecs (`register_codec`) and pickles (`Pickled`)."""

from __future__ import annotations

import pickle
import threading
from dataclasses import dataclass
from typing import Any, Callable, Generic, TypeVar

from cloacina._native import SerializationError

_MARKER = "$cloacina"

_Header = dict[str, Any]

T = TypeVar("T")


@dataclass(frozen=True)
class Codec:
    """How values of one class are stored: a tag, a version, and the two conversions."""

    cls: type
    tag: str
    version: int
    encode_function: Callable[[Any], Any]
    decode_function: Callable[[Any, int], Any]

    def encode(self, value: Any) -> tuple[_Header, Any]:
        return {_MARKER: "codec", "tag": self.tag, "version": self.version}, self.encode_function(value)


_lock = threading.Lock()
_by_class: dict[type, Codec] = {}
_by_tag: dict[str, Codec] = {}
_found: dict[type, Codec | None] = {}
"""The codec of each class seen, through its base classes (None: no codec)."""


def register_codec(
    cls: type,
    *,
    tag: str,
    encode: Callable[[Any], Any],
    decode: Callable[[Any, int], Any],
    version: int = 1,
) -> None:
    """Stores values of a class of your own through two conversions of yours.

    A value of `cls` (or of a subclass) is stored as `encode(value)`, tagged with `tag` and
    `version`, and read back as `decode(stored, version)`. Every process that reads such values
    registers a codec with the same tag first; reading one whose tag is not registered raises
    `SerializationError`. Registering `cls` again replaces its codec.

    Args:
        cls: The class; its subclasses use the codec too, unless they have one of their own.
        tag: The name of the format in the stored JSON: a non-empty `str`, one class's only.
        encode: Takes a value of `cls` and returns any value a context can hold (converted in
            turn, so it may hold datetimes or other classes with a codec).
        decode: Takes what `encode` returned (read back) and the `version` it was stored with,
            and returns the value, so a codec can read what an older version of it wrote.
        version: The version of the format `encode` writes: an `int` of at least 1.

    Raises:
        TypeError: `cls` is not a class, `tag` is not a non-empty `str`, or `encode` or
            `decode` is not callable.
        ValueError: `version` is not an `int` of at least 1, or `tag` is registered for
            another class.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_codec takes a class, not `{type(cls).__qualname__}`")
    if not isinstance(tag, str) or not tag:
        raise TypeError("a codec's tag must be a non-empty str")
    if not callable(encode) or not callable(decode):
        raise TypeError("a codec's encode and decode must be callables")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ValueError(f"a codec's version must be an int of at least 1, not {version!r}")
    with _lock:
        existing = _by_tag.get(tag)
        if existing is not None and existing.cls is not cls:
            raise ValueError(f"the codec tag `{tag}` is already registered for `{existing.cls.__qualname__}`")
        codec = Codec(cls, tag, version, encode, decode)
        _by_class[cls] = codec
        _by_tag[tag] = codec
        _found.clear()


def find(cls: type) -> Codec | None:
    """The codec registered for `cls` or its nearest base class."""
    try:
        return _found[cls]
    except KeyError:
        pass
    if not _by_class:
        return None
    codec = next((_by_class[base] for base in cls.__mro__ if base in _by_class), None)
    _found[cls] = codec
    return codec


def decode(header: _Header, payload: Any) -> Any:
    tag = header.get("tag")
    codec = _by_tag.get(tag) if isinstance(tag, str) else None
    if codec is None:
        raise SerializationError(
            f"was stored by the codec `{tag}`, which this process has not registered; call "
            f"`cloacina.register_codec(..., tag={tag!r}, ...)` before reading it"
        )
    version = header.get("version", 1)
    return codec.decode_function(payload, version)


class Pickled(Generic[T]):
    """Stores `value` as a pickle, for a value no codec takes.

    Reading a pickle runs code named by the stored bytes, so anyone who can write the database
    could run code in the reader: an executor reads one only when created with
    `allow_pickle=True`, and raises `SerializationError` otherwise. Reading returns the value
    itself, not a `Pickled`. Writing one to a context raises `SerializationError` if `pickle`
    cannot store the value.

    Args:
        value: The value to store, with `pickle` (protocol 5).
    """

    __slots__ = ("value",)

    def __init__(self, value: T) -> None:
        self.value = value
        """The value to store."""

    def __repr__(self) -> str:
        return f"Pickled({self.value!r})"


def encode_pickled(value: Any) -> tuple[_Header, Any] | None:
    if not isinstance(value, Pickled):
        return None
    try:
        data = pickle.dumps(value.value, protocol=5)
    except Exception as error:
        raise SerializationError(f"is a Pickled value that pickle cannot store: {error}") from error
    return {_MARKER: "pickle"}, data


def decode_pickled(payload: Any, allow_pickle: bool) -> Any:
    if not allow_pickle:
        raise SerializationError(
            "is a pickle, and this executor does not read pickles: unpickling runs code named by the stored "
            "bytes, so anyone who can write the database could run code here. If you trust every writer of "
            "this database, create the executor with allow_pickle=True"
        )
    if not isinstance(payload, bytes):
        raise SerializationError("is a pickle whose stored value is not bytes")
    return pickle.loads(payload)
