"""The server's log: one record a line, and nothing a client sends can start a line of its own.

Log messages carry client text (paths, names, header values). Written raw, a `%0a` in a URL would
let a client append a line that looks like the server's own ("... admin signed in"). So the
formatter escapes every control character in a record's message, and indents the lines of a
traceback: a line that starts in the first column is always the start of a real record.
"""

from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

# C0 and C1 controls, DEL, and the two Unicode line breaks that str.splitlines() honours.
_ESCAPES = {code: f"\\x{code:02x}" for code in [*range(0x00, 0x20), *range(0x7F, 0xA0)]}
_ESCAPES[0x2028] = "\\u2028"
_ESCAPES[0x2029] = "\\u2029"


def escape_controls(text: str) -> str:
    """`text` with each control character written as its `\\xNN` escape."""
    return text.translate(_ESCAPES)


class EscapingFormatter(logging.Formatter):
    """A `logging.Formatter` whose output cannot be split into forged lines by what it logs."""

    def format(self, record: logging.LogRecord) -> str:
        # Like logging.Formatter.format, but the traceback is formatted here every time: a text
        # cached on the record by another handler's formatter would carry raw newlines.
        record.message = escape_controls(record.getMessage())
        if self.usesTime():
            record.asctime = self.formatTime(record, self.datefmt)
        text = self._style.format(record)
        if record.exc_info:
            text += "\n" + self.formatException(record.exc_info)
        elif record.exc_text:
            text += "\n" + _indent(record.exc_text)
        if record.stack_info:
            text += "\n" + self.formatStack(record.stack_info)
        return text

    def formatException(self, ei: object) -> str:  # type: ignore[override]
        return _indent(super().formatException(ei))  # type: ignore[arg-type]

    def formatStack(self, stack_info: str) -> str:
        return _indent(super().formatStack(stack_info))


def _indent(text: str) -> str:
    # An exception's message may hold client text with its own newlines: indenting every line
    # keeps them all inside this record.
    return "\n".join("    " + line.translate(_ESCAPES) for line in text.split("\n"))


def configure_logging(level: str) -> None:
    """Send every logger (ours, uvicorn's, Litestar's) to stderr through `EscapingFormatter`."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EscapingFormatter(FORMAT))
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())
