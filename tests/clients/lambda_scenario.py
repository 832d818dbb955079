#!/usr/bin/env python3
"""The Lambda scenario through boto3: CreateFunction from a zip of a tiny Node handler,
Get/ListFunctions, Invoke (RequestResponse with a log tail, a handler error, Event), an SQS
event source mapping consuming a message, disabling it, DeleteFunction and an unknown
function. The same steps and check names are in cli_lambda_scenario.py and
js/lambda_scenario.cjs.

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import base64
import json
import re
import uuid

import boto3
import botocore

import checks
from checks import ACCOUNT, REGION, check, eq, step, wait_for

ROLE = f"arn:aws:iam::{ACCOUNT}:role/lambda-role"


def main():
    lam = boto3.client("lambda")
    sqs = boto3.client("sqs")
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}")
    name = f"lam{uuid.uuid4().hex[:8]}"
    arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{name}"

    r = step("create function", lambda: lam.create_function(FunctionName=name, Runtime="nodejs20.x", Role=ROLE, Handler="index.handler", Code={"ZipFile": checks.handler_zip()}, Timeout=10))
    if not r:
        return
    eq("create function: FunctionArn", r.get("FunctionArn"), arn)
    eq("create function: Runtime", r.get("Runtime"), "nodejs20.x")
    state = wait_for(lambda: lam.get_function(FunctionName=name)["Configuration"].get("State") == "Active" and "Active")
    eq("function becomes Active", state, "Active")

    r = step("get function", lambda: lam.get_function(FunctionName=name))
    if r:
        eq("get function: Handler", r["Configuration"].get("Handler"), "index.handler")
        eq("get function: Role", r["Configuration"].get("Role"), ROLE)
        check("get function: Code.Location", bool(r.get("Code", {}).get("Location")), repr(r.get("Code")))
    r = step("list functions", lambda: lam.list_functions())
    check("list functions: includes it", name in [f.get("FunctionName") for f in (r or {}).get("Functions", [])], repr(r))

    r = step("invoke", lambda: lam.invoke(FunctionName=name, Payload=json.dumps({"order": 7}), LogType="Tail"))
    if r:
        eq("invoke: StatusCode", r.get("StatusCode"), 200)
        eq("invoke: no FunctionError", r.get("FunctionError"), None)
        eq("invoke: ExecutedVersion", r.get("ExecutedVersion"), "$LATEST")
        eq("invoke: Payload", json.loads(r["Payload"].read()), {"echo": {"order": 7}, "fn": name})
        log = base64.b64decode(r.get("LogResult", "")).decode("utf-8", "replace")
        check("invoke: LogResult tail", re.match(checks.log_tail_pattern(name), log), repr(log))

    r = step("invoke handler error", lambda: lam.invoke(FunctionName=name, Payload=json.dumps({"fail": "7"})))
    if r:
        eq("invoke handler error: StatusCode", r.get("StatusCode"), 200)
        eq("invoke handler error: FunctionError", r.get("FunctionError"), "Unhandled")
        err = json.loads(r["Payload"].read())
        eq("invoke handler error: errorType/errorMessage", (err.get("errorType"), err.get("errorMessage")), ("TypeError", "bad order 7"))

    r = step("invoke Event", lambda: lam.invoke(FunctionName=name, InvocationType="Event", Payload=json.dumps({"order": 8})))
    if r:
        eq("invoke Event: StatusCode", r.get("StatusCode"), 202)
        eq("invoke Event: empty Payload", r["Payload"].read(), b"")

    url = sqs.create_queue(QueueName=f"{name}-jobs")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    r = step("create event source mapping", lambda: lam.create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=name, BatchSize=1))
    uid = (r or {}).get("UUID")
    if r:
        eq("create event source mapping: FunctionArn", r.get("FunctionArn"), arn)
        eq("create event source mapping: State", r.get("State"), "Creating")
    sqs.send_message(QueueUrl=url, MessageBody="job 1")
    consumed = wait_for(lambda: [i for i in checks.invocations(name) if i.get("source") == "aws:sqs"])
    eq("mapping invokes with the message", [(i.get("outcome"), i.get("batch_size")) for i in consumed], [("success", 1)])
    left = wait_for(lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"})
    check("mapping deletes the consumed message", left)

    if uid:
        r = step("disable mapping", lambda: lam.update_event_source_mapping(UUID=uid, Enabled=False))
        eq("disable mapping: State", (r or {}).get("State"), "Disabling")
        state = wait_for(lambda: lam.get_event_source_mapping(UUID=uid).get("State") == "Disabled" and "Disabled")
        eq("mapping becomes Disabled", state, "Disabled")
        step("delete mapping", lambda: lam.delete_event_source_mapping(UUID=uid))

    step("delete function", lambda: lam.delete_function(FunctionName=name))
    try:
        lam.get_function(FunctionName=name)
        check("unknown function: ResourceNotFoundException", False, "no error")
    except lam.exceptions.ResourceNotFoundException as e:
        eq("unknown function: ResourceNotFoundException", e.response["Error"].get("Message"), f"Function not found: {arn}")
    except Exception as e:  # noqa: BLE001
        check("unknown function: ResourceNotFoundException", False, f"{type(e).__name__}: {e}")
    sqs.delete_queue(QueueUrl=url)


if __name__ == "__main__":
    checks.run(main)
