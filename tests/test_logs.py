"""The server's log formatter: whatever a message or an exception carries, each record starts one
line at column 0 and no text inside it can start another (logs.py)."""

from __future__ import annotations

import io
import logging

from octopus_events.logs import FORMAT, EscapingFormatter, escape_controls

HOSTILE = "/x\n2000-01-01 00:00:00,000 INFO octopus: forged\r\x00\x1b[31m\x85\u2028end"


def record_lines(emit) -> list[str]:  # type: ignore[no-untyped-def]
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(EscapingFormatter(FORMAT))
    logger = logging.getLogger("test_logs.hostile")
    logger.propagate = False
    logger.addHandler(handler)
    try:
        emit(logger)
    finally:
        logger.removeHandler(handler)
    return stream.getvalue().split("\n")


def test_control_characters_in_messages_and_arguments_are_escaped() -> None:
    lines = record_lines(lambda log: (log.warning("refused %s", HOSTILE), log.warning(HOSTILE)))
    assert lines[-1] == ""
    assert len(lines) == 3, lines
    for line in lines[:2]:
        assert "\\x0a2000-01-01" in line and "\\x0d\\x00\\x1b[31m\\x85\\u2028end" in line, line
        assert "\r" not in line and "\x00" not in line


def test_a_traceback_keeps_its_lines_but_every_one_is_indented() -> None:
    def emit(log: logging.Logger) -> None:
        try:
            raise ValueError(HOSTILE)
        except ValueError:
            log.exception("unhandled ValueError on GET %s", HOSTILE)

    lines = [line for line in record_lines(emit) if line]
    assert lines[0].split()[2] == "ERROR" and "\\x0a" in lines[0]
    assert len(lines) > 3  # the traceback is still readable, a frame a line
    assert all(line.startswith("    ") for line in lines[1:]), lines
    assert any(line.strip().startswith("2000-01-01") for line in lines[1:])  # indented, not a record
    assert not any("\r" in line or "\x00" in line for line in lines)


def test_escape_controls_leaves_ordinary_text_alone() -> None:
    text = "Urlaub in Köln, 日本 — tab\there? no: tab is a control too"
    assert escape_controls(text) == text.replace("\t", "\\x09")
