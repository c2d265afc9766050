"""The operator's log: readable lines (the default) or one JSON object per line
(REDIGEST_LOG_FORMAT=json), with every secret of the settings masked in either."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

from bot.supervise import mask

TEXT_FORMAT = "%(levelname)s %(name)s: %(message)s"


class MaskingFormatter(logging.Formatter):
    """A line per record, secrets masked (an SDK's error may quote a token or a URL with a key)."""

    def __init__(self, secrets: Iterable[str], fmt: str = TEXT_FORMAT) -> None:
        super().__init__(fmt)
        self.secrets = tuple(secrets)

    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record), self.secrets)


def _entry(created: float, level: str, logger: str, message: str) -> dict[str, str]:
    return {
        "time": datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "logger": logger,
        "message": message,
    }


def json_line(message: str, secrets: Iterable[str] = (), logger: str = "redigest") -> str:
    """A line for the operator (start-up news) as one INFO record of the JSON log."""
    return json.dumps(
        _entry(datetime.now(UTC).timestamp(), "INFO", logger, mask(message, secrets)),
        ensure_ascii=False,
    )


class JsonFormatter(MaskingFormatter):
    """One JSON object per line: time, level, logger, message, and exc when there is one."""

    def format(self, record: logging.LogRecord) -> str:
        message = mask(record.getMessage(), self.secrets)
        entry = _entry(record.created, record.levelname, record.name, message)
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info), self.secrets)
        elif record.exc_text:
            entry["exc"] = mask(record.exc_text, self.secrets)
        if record.stack_info:
            entry["stack"] = mask(record.stack_info, self.secrets)
        return json.dumps(entry, ensure_ascii=False)


def configure(level: str, format: str, secrets: Iterable[str]) -> None:
    """The root logger's handler on stderr (none added when it has one: basicConfig's rule)."""
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter(secrets) if format == "json" else MaskingFormatter(secrets))
    logging.basicConfig(level=level, handlers=[handler])
