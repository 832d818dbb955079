#!/usr/bin/env python3
"""The Lambda scenario through the AWS CLI (`aws lambda ...`): the steps and check names of
lambda_scenario.py, typed as a user types them (the zip is a file, `fileb://`; invoke writes
the payload to a file; CLI v1 sends --payload as is, v2 would need
--cli-binary-format raw-in-base64-out).

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import base64
import json
import os
import shutil
import re
import tempfile
import uuid

import checks
from checks import ACCOUNT, REGION, check, eq, step, wait_for
from cli_scenario import aws, aws_error

ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


def main():
    name = f"lamcli{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"
    work = tempfile.mkdtemp(prefix="lyrebird-cli-lambda-")
    zip_path, out_path = os.path.join(work, "fn.zip"), os.path.join(work, "out.json")
    with open(zip_path, "wb") as f:
        f.write(checks.handler_zip())
    try:
        scenario(name, arn, zip_path, out_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def scenario(name, arn, zip_path, out_path):
    def invoke(payload, *extra):
        r = aws("lambda", "invoke", "--function-name", name, "--payload", json.dumps(payload), *extra, out_path)
        with open(out_path) as f:
            return r, json.load(f)

    r = step("create function", lambda: aws("lambda", "create-function", "--function-name", name, "--runtime", "nodejs20.x", "--role", ROLE, "--handler", "index.handler", "--zip-file", f"fileb://{zip_path}", "--timeout", "10"))
    if not r:
        return
    eq("create function: FunctionArn", r.get("FunctionArn"), arn)
    eq("create function: Runtime", r.get("Runtime"), "nodejs20.x")
    state = wait_for(lambda: aws("lambda", "get-function", "--function-name", name)["Configuration"].get("State") == "Active" and "Active")
    eq("function becomes Active", state, "Active")

    r = step("get function", lambda: aws("lambda", "get-function", "--function-name", name))
    if r:
        eq("get function: Handler", r["Configuration"].get("Handler"), "index.handler")
        eq("get function: Role", r["Configuration"].get("Role"), ROLE)
        check("get function: Code.Location", bool(r.get("Code", {}).get("Location")), repr(r.get("Code")))
    r = step("list functions", lambda: aws("lambda", "list-functions"))
    check("list functions: includes it", name in [f.get("FunctionName") for f in (r or {}).get("Functions", [])], repr(r))

    r = step("invoke", lambda: invoke({"order": 7}, "--log-type", "Tail"))
    if r:
        meta, payload = r
        eq("invoke: StatusCode", meta.get("StatusCode"), 200)
        eq("invoke: no FunctionError", meta.get("FunctionError"), None)
        eq("invoke: ExecutedVersion", meta.get("ExecutedVersion"), "$LATEST")
        eq("invoke: Payload", payload, {"echo": {"order": 7}, "fn": name})
        log = base64.b64decode(meta.get("LogResult", "")).decode("utf-8", "replace")
        check("invoke: LogResult tail", re.match(checks.log_tail_pattern(name), log), repr(log))

    r = step("invoke handler error", lambda: invoke({"fail": "7"}))
    if r:
        meta, err = r
        eq("invoke handler error: StatusCode", meta.get("StatusCode"), 200)
        eq("invoke handler error: FunctionError", meta.get("FunctionError"), "Unhandled")
        eq("invoke handler error: errorType/errorMessage", (err.get("errorType"), err.get("errorMessage")), ("TypeError", "bad order 7"))

    r = step("invoke Event", lambda: aws("lambda", "invoke", "--function-name", name, "--invocation-type", "Event", "--payload", '{"order": 8}', out_path))
    if r:
        eq("invoke Event: StatusCode", r.get("StatusCode"), 202)
        with open(out_path, "rb") as f:
            eq("invoke Event: empty Payload", f.read(), b"")

    url = aws("sqs", "create-queue", "--queue-name", f"{name}-jobs")["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]
    r = step("create event source mapping", lambda: aws("lambda", "create-event-source-mapping", "--event-source-arn", queue_arn, "--function-name", name, "--batch-size", "1"))
    uid = (r or {}).get("UUID")
    if r:
        eq("create event source mapping: FunctionArn", r.get("FunctionArn"), arn)
        eq("create event source mapping: State", r.get("State"), "Creating")
    aws("sqs", "send-message", "--queue-url", url, "--message-body", "job 1")
    consumed = wait_for(lambda: [i for i in checks.invocations(name) if i.get("source") == "aws:sqs"])
    eq("mapping invokes with the message", [(i.get("outcome"), i.get("batch_size")) for i in consumed], [("success", 1)])
    counts = ("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible")
    left = wait_for(lambda: aws(*counts)["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"})
    check("mapping deletes the consumed message", left)

    if uid:
        r = step("disable mapping", lambda: aws("lambda", "update-event-source-mapping", "--uuid", uid, "--no-enabled"))
        eq("disable mapping: State", (r or {}).get("State"), "Disabling")
        state = wait_for(lambda: aws("lambda", "get-event-source-mapping", "--uuid", uid).get("State") == "Disabled" and "Disabled")
        eq("mapping becomes Disabled", state, "Disabled")
        step("delete mapping", lambda: aws("lambda", "delete-event-source-mapping", "--uuid", uid))

    step("delete function", lambda: aws("lambda", "delete-function", "--function-name", name))
    eq("unknown function: ResourceNotFoundException", aws_error("lambda", "get-function", "--function-name", name), ("ResourceNotFoundException", f"Function not found: {arn}"))
    aws("sqs", "delete-queue", "--queue-url", url)


if __name__ == "__main__":
    checks.run(main)
