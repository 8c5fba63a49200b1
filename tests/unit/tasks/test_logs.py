"""Logging (tasks/logs.py): the JSON formatter, secret masking, batched writes."""

from __future__ import annotations

import io
import json
import logging
import sys

from tasks.logs import (
    BatchingStreamHandler,
    JsonFormatter,
    log_direct,
    mask_secrets,
    request_id_var,
)
from tests.support.servers import wait_until


def test_json_formatter_fields_request_id_and_masking() -> None:
    formatter = JsonFormatter()
    record = logging.LogRecord("gateway.x", logging.INFO, __file__, 1,
                               "connect to %s", ("redis://:hunter2@h:6379/0",), None)
    record.job_id = "j1"
    token = request_id_var.set("rid-1")
    try:
        line = json.loads(formatter.format(record))
    finally:
        request_id_var.reset(token)
    assert line["message"] == "connect to redis://:***@h:6379/0"
    assert line["job_id"] == "j1" and line["request_id"] == "rid-1"
    assert line["level"] == "INFO" and line["logger"] == "gateway.x"
    assert "hunter2" not in formatter.format(record)


def test_json_formatter_masks_exceptions() -> None:
    try:
        raise RuntimeError("cannot reach amqp://guest:s3cret@host//")
    except RuntimeError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (),
                                   sys.exc_info())
    text = JsonFormatter().format(record)
    assert "s3cret" not in text and "amqp://guest:***@host//" in text


def test_mask_secrets_leaves_plain_text() -> None:
    assert mask_secrets("user@example.com at 10:30") == "user@example.com at 10:30"


def test_log_lines_are_written_in_batches_and_warnings_at_once() -> None:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger("test.batching")
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    logger.info("one")
    logger.info("two")
    assert stream.getvalue() == ""  # buffered...
    logger.warning("three")  # ...until a warning, which keeps the order
    assert stream.getvalue() == "INFO one\nINFO two\nWARNING three\n"
    logger.info("four")
    wait_until(lambda: stream.getvalue().endswith("INFO four\n"), 5, "the timed flush")
    for n in range(BatchingStreamHandler.MAX_LINES):
        logger.info("line %s", n)
    assert f"INFO line {BatchingStreamHandler.MAX_LINES - 1}\n" in stream.getvalue()


def _json_logger(name: str) -> tuple[logging.Logger, BatchingStreamHandler, io.StringIO]:
    stream = io.StringIO()
    handler = BatchingStreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger(name)
    logger.handlers, logger.propagate, logger.level = [handler], False, logging.INFO
    return logger, handler, stream


def test_a_direct_line_is_the_line_logging_writes() -> None:
    logger, handler, stream = _json_logger("test.direct")
    fields = {"method": "POST", "path": "/p", "status": 200, "duration_ms": 1.5}
    token = request_id_var.set("rid-2")
    try:
        logger.info("POST /p 200", extra=fields)
        log_direct(logger, logging.INFO, "POST /p 200", fields)
        log_direct(logger, logging.DEBUG, "not enabled", fields)
    finally:
        request_id_var.reset(token)
    handler.flush()
    by_logging, direct = (json.loads(line) for line in stream.getvalue().splitlines())
    assert by_logging.pop("time")[:16] == direct.pop("time")[:16]  # the same minute
    assert by_logging == direct == {"level": "INFO", "logger": "test.direct",
                                    "message": "POST /p 200", "request_id": "rid-2", **fields}


def test_a_filter_or_another_handler_gets_the_direct_line_as_a_record() -> None:
    logger, handler, stream = _json_logger("test.direct.capture")
    seen: list[logging.LogRecord] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record)

    logger.addHandler(Capture())  # as a test's log capture does
    log_direct(logger, logging.INFO, "captured", {"status": 200})
    assert [(r.getMessage(), r.status) for r in seen] == [("captured", 200)]
    logger.handlers = [handler]
    logger.addFilter(lambda record: False)
    log_direct(logger, logging.INFO, "filtered out", {})
    handler.flush()
    assert json.loads(stream.getvalue())["message"] == "captured"


def test_a_direct_line_that_cannot_be_written_does_not_fail_its_caller() -> None:
    class Broken(io.StringIO):
        def write(self, text: str) -> int:
            raise OSError("disk full")

    logger, handler, _ = _json_logger("test.direct.broken")
    handler.setStream(Broken())
    raise_exceptions, logging.raiseExceptions = logging.raiseExceptions, False
    try:
        log_direct(logger, logging.WARNING, "written at once", {"status": 500})
    finally:
        logging.raiseExceptions = raise_exceptions
