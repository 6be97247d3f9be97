"""Values of the user's own classes: `enum.Enum` members, dataclasses and Pydantic models.

A stored value names its class as `module:qualname`. Reading finds the class among the classes
registered with `register_type` and the modules the reading process has already imported; it
never imports a module and never runs code of a class other than the one named (a Pydantic
model's validation, an Enum's lookup).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import sys
from typing import Any, Callable

from cloacina._native import SerializationError

_MARKER = "$cloacina"

_Header = dict[str, Any]

_names: dict[type, str] = {}
"""The stored name of each class registered under a name of its own."""
_registered: dict[str, type] = {}
"""Registered classes by stored name."""


def register_type(cls: type, *, name: str | None = None) -> type:
    """Lets stored values of `cls` be read back, whether or not its module is imported.

    Reading never imports a module: without this, an Enum member, dataclass or Pydantic model
    is read back only where its module is already imported. Usable as a decorator.

    Args:
        cls: An `enum.Enum`, a dataclass or a Pydantic model class.
        name: A name of its own to store the class under (by default its `module:qualname`),
            for a class defined in `__main__` or inside a function, or one that moved. Every
            process that reads such values registers the class under the same name.

    Returns:
        `cls` itself.

    Raises:
        TypeError: `cls` is not an Enum, dataclass or Pydantic model class, or `name` is not a
            non-empty `str`.
        ValueError: `name` (or `module:qualname`) is registered for another class.
    """
    if not isinstance(cls, type):
        raise TypeError(f"register_type takes a class, not `{type(cls).__qualname__}`")
    if not (issubclass(cls, enum.Enum) or dataclasses.is_dataclass(cls) or _is_pydantic_model(cls)):
        raise TypeError(
            f"register_type takes an Enum, a dataclass or a Pydantic model, not `{class_name(cls)}`; "
            "for another class use cloacina.register_codec"
        )
    stored = class_name(cls) if name is None else name
    if not isinstance(stored, str) or not stored:
        raise TypeError("the name of a registered class must be a non-empty str")
    previous = _registered.get(stored)
    if previous is not None and previous is not cls:
        raise ValueError(f"the name `{stored}` is already registered for `{class_name(previous)}`")
    _registered[stored] = cls
    if name is not None:
        _names[cls] = stored
    return cls


def class_name(cls: type) -> str:
    """`module:qualname`, how a stored value names its class."""
    return f"{cls.__module__}:{cls.__qualname__}"


def _stored_name(cls: type) -> str:
    return _names.get(cls) or class_name(cls)


def resolve(name: Any, kind: str, check: Callable[[type], bool]) -> type:
    """The class a stored value names, found among registered classes and imported modules."""
    if not isinstance(name, str):
        raise SerializationError(f"is a stored {kind} whose class name is not a str")
    found = _registered.get(name)
    if found is None:
        found = _imported(name)
    if found is None or not check(found):
        module, _, qualname = name.partition(":")
        raise SerializationError(
            f"is a {kind} of class `{name}`, which this process cannot find: cloacina never imports a module "
            f"to read a value. Import `{module}` before reading it, or call "
            f"`cloacina.register_type({qualname.rsplit('.', 1)[-1]})`; `context.raw(key)` shows the stored value"
        )
    return found


def _imported(name: str) -> type | None:
    module_name, _, qualname = name.partition(":")
    found: Any = sys.modules.get(module_name)
    if found is None or "<locals>" in qualname:
        return None
    for part in qualname.split("."):
        found = getattr(found, part, None)
        if found is None:
            return None
    return found if isinstance(found, type) else None


def _pydantic_base() -> type | None:
    pydantic = sys.modules.get("pydantic")
    return getattr(pydantic, "BaseModel", None) if pydantic is not None else None


def _is_pydantic_model(cls: type) -> bool:
    base = _pydantic_base()
    return base is not None and issubclass(cls, base)


def encode(value: Any) -> tuple[_Header, Any] | None:
    """The tagged form of an Enum member, dataclass instance or Pydantic model, or None."""
    cls = type(value)
    if isinstance(value, enum.Enum):
        return {_MARKER: "enum", "class": _stored_name(cls)}, value.value
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {field.name: getattr(value, field.name) for field in dataclasses.fields(value)}
        return {_MARKER: "dataclass", "class": _stored_name(cls)}, fields
    if _is_pydantic_model(cls):
        return {_MARKER: "pydantic", "class": _stored_name(cls)}, value.model_dump(mode="json")
    return None


def _decode_enum(header: _Header, payload: Any) -> Any:
    cls = resolve(header.get("class"), "Enum member", lambda found: issubclass(found, enum.Enum))
    return cls(payload)


def _decode_dataclass(header: _Header, payload: Any) -> Any:
    cls = resolve(header.get("class"), "dataclass", dataclasses.is_dataclass)
    if not isinstance(payload, dict):
        raise SerializationError(f"is a stored dataclass `{header['class']}` whose fields are not a dict")
    # The fields as they were, without running __init__ or __post_init__ a second time.
    instance: Any = object.__new__(cls)
    for name, field in payload.items():
        object.__setattr__(instance, name, field)
    return instance


def _decode_pydantic(header: _Header, payload: Any) -> Any:
    cls = resolve(header.get("class"), "Pydantic model", _is_pydantic_model)
    # The inverse of `model_dump(mode="json")` is validation in JSON mode, which takes ISO
    # datetimes and the like as text even for a strict model.
    return cls.model_validate_json(json.dumps(payload))  # type: ignore[attr-defined]


DECODERS: dict[str, Callable[[_Header, Any], Any]] = {
    "enum": _decode_enum,
    "dataclass": _decode_dataclass,
    "pydantic": _decode_pydantic,
}
"""Decoders by tag."""
