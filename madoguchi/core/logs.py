"""JSON log lines with a request id, and nothing about the person behind the request.

`RequestIdMiddleware` takes the id a trusted proxy sent in X-Request-ID (forwarded headers from
others never arrive: core.middleware.TrustedProxyMiddleware) or makes one, answers with it, and
every log line written while the request runs carries it, so a line in the proxy's log, ours and
a worker's can be put side by side. `JsonFormatter` writes the time, level, logger, message,
request id and exception type and traceback, never the request's parameters or body.
"""

import contextvars
import json
import logging
import re
import uuid

request_id = contextvars.ContextVar("request_id", default="")
_VALID_ID = re.compile(r"[A-Za-z0-9._-]{8,64}")


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        given = request.META.get("HTTP_X_REQUEST_ID", "")
        rid = given if _VALID_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        try:
            response = self.get_response(request)
        finally:
            request_id.reset(token)
        response["X-Request-ID"] = rid
        return response


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"), "level": record.levelname,
                "logger": record.name, "message": record.getMessage()}
        rid = request_id.get()
        if rid:
            line["request_id"] = rid
        if record.exc_info and record.exc_info[0] is not None:
            line["exception"] = record.exc_info[0].__name__
            line["traceback"] = self.formatException(record.exc_info)
        return json.dumps(line, ensure_ascii=False)
