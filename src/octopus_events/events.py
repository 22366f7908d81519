"""Event types: msgspec Structs in one tagged union, each with a version and its upcasters.

An event class declares `version` (default 1). When a class changes shape, bump `version` and
add `upcast_vN(data: dict) -> dict` turning a stored version-N payload into version N+1. Stored
events are never rewritten; `decode_event` upcasts old payloads when they are read.
"""

from __future__ import annotations

from typing import Any, Callable, ClassVar

import msgspec

from .errors import OctopusError


class UnknownEventType(OctopusError):
    title = "Unknown event type"


class Event(msgspec.Struct, tag_field="type", tag=True, kw_only=True, frozen=True, gc=False):
    """Base of every domain event. The tag (the class name) is the stored `type`."""

    version: ClassVar[int] = 1


_TYPES: dict[str, type[Event]] = {}
_DECODERS: dict[str, msgspec.json.Decoder[Any]] = {}
_ENCODER = msgspec.json.Encoder()


def _refresh() -> None:
    """Register every subclass of `Event` defined so far.

    msgspec finishes building a Struct class only after `__init_subclass__` has run, so classes
    are collected lazily, when a type name is first looked up.
    """
    pending = list(Event.__subclasses__())
    while pending:
        cls = pending.pop()
        pending.extend(cls.__subclasses__())
        if _TYPES.get(cls.__struct_config__.tag) is not cls:  # type: ignore[arg-type]
            register(cls)


def register(cls: type[Event]) -> None:
    """Add an event class to the union (normally done for you on first use)."""
    name = cls.__struct_config__.tag
    assert isinstance(name, str)
    if name in _TYPES and _TYPES[name] is not cls:
        existing = _TYPES[name]
        # Re-importing the same module (tests, reloads) must not count as a clash.
        if (existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
            raise TypeError(f"two event classes share the type name {name!r}")
    for step in range(1, cls.version):
        if not callable(getattr(cls, f"upcast_v{step}", None)):
            raise TypeError(f"{name} is version {cls.version} but has no upcast_v{step}")
    _TYPES[name] = cls
    _DECODERS[name] = msgspec.json.Decoder(cls)


def event_types() -> dict[str, type[Event]]:
    """Every registered event class by type name (the catalogue is generated from this)."""
    _refresh()
    return dict(sorted(_TYPES.items()))


def type_name(event: Event | type[Event]) -> str:
    cls = event if isinstance(event, type) else type(event)
    return cls.__struct_config__.tag  # type: ignore[return-value]


def encode_event(event: Event) -> bytes:
    return _ENCODER.encode(event)


def decode_event(type_: str, type_version: int, data: bytes | memoryview) -> Event:
    """Decode a stored payload into the current class, upcasting older versions on the way."""
    decoder = _DECODERS.get(type_)
    if decoder is None:
        _refresh()
        decoder = _DECODERS.get(type_)
    if decoder is None:
        raise UnknownEventType(f"event type {type_!r} is not known to this version of the server")
    cls = _TYPES[type_]
    if type_version == cls.version:
        return decoder.decode(data)
    return _upcast(cls, type_version, msgspec.json.decode(data))


def _upcast(cls: type[Event], from_version: int, payload: dict[str, Any]) -> Event:
    if from_version > cls.version:
        raise UnknownEventType(
            f"{type_name(cls)} v{from_version} was written by a newer server (this one knows v{cls.version})"
        )
    for step in range(from_version, cls.version):
        upcast: Callable[[dict[str, Any]], dict[str, Any]] = getattr(cls, f"upcast_v{step}")
        payload = upcast(payload)
    payload["type"] = type_name(cls)
    return msgspec.convert(payload, cls)
