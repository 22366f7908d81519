"""The event catalogue: every event type with its version and fields, generated from the code.

`eventstore/catalogue.md` is this module's output; `tests/test_catalogue.py` fails when the file
and the code disagree. Regenerate with `uv run python -m octopus_events.catalogue --write`.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import typing
from pathlib import Path

import msgspec

from . import events as events_module
from .events import Event

# Modules that never define events and would pull in the web stack for nothing.
_SKIP = ("octopus_events.web", "octopus_events.cli", "octopus_events.catalogue")


def load_event_modules() -> None:
    """Import every module of the package so every event class is registered."""
    package = importlib.import_module("octopus_events")
    for info in pkgutil.walk_packages(package.__path__, "octopus_events."):
        if info.name.startswith(_SKIP) or info.name.endswith("__main__"):
            continue
        importlib.import_module(info.name)


def _type_name(tp: object) -> str:
    if tp is type(None):
        return "null"
    origin = typing.get_origin(tp)
    if origin is typing.Union or str(origin) == "<class 'types.UnionType'>":
        return " | ".join(_type_name(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    return getattr(tp, "__name__", str(tp))


def render() -> str:
    load_event_modules()
    lines = [
        "# Event catalogue",
        "",
        "Generated from the code by `uv run python -m octopus_events.catalogue --write`; do not edit.",
        "`tests/test_catalogue.py` fails when this file is stale. A `sealed` field holds the struct",
        "named beside it, encrypted under the keystore key named by `key_id` (see docs/crypto.md).",
        "",
    ]
    by_module: dict[str, list[type[Event]]] = {}
    for cls in events_module.event_types().values():
        # The registry is process-wide: event classes a test defines are not the product's.
        if not cls.__module__.startswith("octopus_events."):
            continue
        by_module.setdefault(cls.__module__, []).append(cls)
    for module in sorted(by_module):
        lines.append(f"## {module}")
        lines.append("")
        for cls in sorted(by_module[module], key=lambda c: c.__name__):
            doc = inspect.getdoc(cls) or ""
            if doc.startswith(("Base", "A base")) or "msgspec" in doc.split("\n")[0]:
                doc = ""
            lines.append(f"### {cls.__name__} (v{cls.version})")
            if doc and doc != inspect.getdoc(Event):
                lines.append("")
                lines.append(" ".join(doc.split()))
            lines.append("")
            lines.append("| field | type |")
            lines.append("|---|---|")
            hints = typing.get_type_hints(cls)
            sealed = getattr(cls, "sealed_struct", None)
            for field in msgspec.structs.fields(cls):
                kind = _type_name(hints.get(field.name, field.type))
                if field.name == "sealed" and sealed is not None:
                    inner = ", ".join(f.name for f in msgspec.structs.fields(sealed))
                    kind += f"` — sealed `{sealed.__name__}` ({inner})"
                    lines.append(f"| `{field.name}` | `{kind} |")
                    continue
                lines.append(f"| `{field.name}` | `{kind}` |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def catalogue_path() -> Path:
    return Path(__file__).resolve().parents[2] / "eventstore" / "catalogue.md"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--write" in args:
        catalogue_path().write_text(text, encoding="utf-8")
        print(f"wrote {catalogue_path()}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
