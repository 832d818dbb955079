# lyrebird's Python runtime client: speaks the Lambda Runtime API (2018-06-01) at
# AWS_LAMBDA_RUNTIME_API and runs the handler named by _HANDLER ("pkg/module.function") from
# LAMBDA_TASK_ROOT, as the official python runtimes do; errors are posted as
# {errorMessage, errorType, requestId, stackTrace}.
import http.client
import importlib
import json
import logging
import os
import sys
import time
import traceback

API = os.environ["AWS_LAMBDA_RUNTIME_API"]
BASE = "/2018-06-01/runtime"
_conn = None
# The invocation in progress, for the root logger's records (AWS's LambdaLoggerFilter).
_request_id = ""


class LambdaLogHandler(logging.Handler):
    """What AWS's Python runtime puts on the root logger: records go to the function's log as
    `[LEVEL]\t<UTC time>.<ms>Z\t<request id>\t<message>`, so `logging` output reaches CloudWatch
    (without a handler, Python's last resort drops everything below WARNING)."""

    def emit(self, record):
        try:
            record.aws_request_id = _request_id
            text = self.format(record)
            # One record, one line of the log, as AWS keeps a multi-line record one event.
            sys.stdout.write(text.replace("\n", "\r") + "\n")
            sys.stdout.flush()
        except Exception:
            self.handleError(record)


def setup_logging():
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s",
        "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = LambdaLogHandler()
    handler.setFormatter(formatter)
    root = logging.getLogger()
    # The root logger keeps Python's WARNING unless Lambda's log level is set, as on AWS.
    level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
    if level and isinstance(logging.getLevelName(level), int):
        root.setLevel(level)
    root.addHandler(handler)


def call(method, path, body=None, headers=None):
    global _conn
    for attempt in range(2):
        if _conn is None:
            _conn = http.client.HTTPConnection(API)
        try:
            _conn.request(method, path, body=body, headers=headers or {})
            response = _conn.getresponse()
            return response.status, response.headers, response.read()
        except (http.client.HTTPException, OSError):
            _conn.close()
            _conn = None
            if attempt:
                raise


def error_document(exc, request_id=""):
    return {
        "errorMessage": str(exc),
        "errorType": type(exc).__name__,
        "requestId": request_id,
        "stackTrace": traceback.format_list(user_frames(exc.__traceback__)),
    }


def user_frames(tb):
    """The traceback without this client's own leading frames: AWS's runtime shows a handler's
    error from the handler's frame on (an import error from importlib's)."""
    frames = list(traceback.extract_tb(tb))
    own = os.path.abspath(__file__)
    while frames and os.path.abspath(frames[0].filename) == own:
        frames.pop(0)
    return frames


def log_error(document):
    lines = ["[ERROR] %s: %s" % (document["errorType"], document["errorMessage"])]
    if document.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.extend(line.rstrip("\n") for line in document["stackTrace"])
    print("\r".join(lines), flush=True)


def post_error(path, document):
    body = json.dumps(document).encode()
    call("POST", path, body, {"Content-Type": "application/json",
                              "Lambda-Runtime-Function-Error-Type": document["errorType"]})


def runtime_error(error_type, message):
    return {"errorMessage": message, "errorType": error_type, "requestId": "", "stackTrace": []}


def load_handler():
    handler = os.environ.get("_HANDLER", "")
    try:
        module_path, function_name = handler.rsplit(".", 1)
    except ValueError:
        return None, runtime_error("Runtime.MalformedHandlerName", "Bad handler '%s': not enough values to unpack (expected 2, got 1)" % handler)
    module_name = module_path.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return None, runtime_error("Runtime.ImportModuleError", "Unable to import module '%s': %s" % (module_path, exc))
    except SyntaxError as exc:
        return None, runtime_error("Runtime.UserCodeSyntaxError", "Syntax error in module '%s': %s" % (module_path, exc))
    except Exception as exc:  # the module raised while loading
        return None, error_document(exc)
    function = getattr(module, function_name, None)
    if function is None:
        return None, runtime_error("Runtime.HandlerNotFound", "Handler '%s' missing on module '%s'" % (function_name, module_path))
    return function, None


class Context:
    def __init__(self, headers):
        self.aws_request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        self.invoked_function_arn = headers.get("Lambda-Runtime-Invoked-Function-Arn")
        self._deadline_ms = int(headers.get("Lambda-Runtime-Deadline-Ms") or 0)
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = None
        self.client_context = None

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main():
    global _request_id
    task_root = os.environ.get("LAMBDA_TASK_ROOT", ".")
    if task_root not in sys.path:
        sys.path.insert(0, task_root)
    setup_logging()
    handler, init_error = load_handler()
    if init_error is not None:
        log_error(init_error)
        post_error(BASE + "/init/error", init_error)
        sys.exit(1)
    while True:
        status, headers, body = call("GET", BASE + "/invocation/next")
        if status != 200:
            raise RuntimeError("invocation/next answered %s: %r" % (status, body))
        request_id = headers.get("Lambda-Runtime-Aws-Request-Id")
        _request_id = request_id or ""
        os.environ["_X_AMZN_TRACE_ID"] = headers.get("Lambda-Runtime-Trace-Id") or ""
        try:
            event = json.loads(body) if body else {}
            result = handler(event, Context(headers))
        except Exception as exc:
            document = error_document(exc, request_id)
            log_error(document)
            sys.stdout.flush()
            post_error(BASE + "/invocation/%s/error" % request_id, document)
            continue
        try:
            payload = json.dumps(result).encode()
        except (TypeError, ValueError) as exc:
            document = runtime_error("Runtime.MarshalError", "Unable to marshal response: %s" % exc)
            document["requestId"] = request_id
            log_error(document)
            post_error(BASE + "/invocation/%s/error" % request_id, document)
            continue
        sys.stdout.flush()
        call("POST", BASE + "/invocation/%s/response" % request_id, payload,
             {"Content-Type": "application/json"})


if __name__ == "__main__":
    main()
