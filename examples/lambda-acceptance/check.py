#!/usr/bin/env python3
"""The acceptance check of lyrebird's Lambda emulation (issue 18, "Checked by").

lyrebird runs template.yaml (`--init`): three functions (Node CommonJS callback, Node ESM
async, Python with boto3), their SQS and SNS event sources and the queues they use. This
script drives them with boto3 (and the AWS CLI, when LAMBDA_ACCEPTANCE_AWS names it) and
compares every observable with AWS's documentation:

- the Lambda API: ListFunctions, GetFunction (Globals merged, reserved concurrency),
  ListEventSourceMappings (BatchSize, batching window, response types, filter), Invoke
  (200 / 202 / 204, X-Amz-Function-Error, LogType Tail, error payloads, timeouts);
- the SQS event ("Using Lambda with Amazon SQS": keys and their types), batching, filtering
  (messages no filter matches are deleted), ReportBatchItemFailures, the DLQ after
  maxReceiveCount, FIFO hold-back, UpdateEventSourceMapping Enabled=false;
- the SNS event and asynchronous retries (two), seen through the Python handler's own SDK calls.

The Node handlers log one `CAPTURE <json>` line per record they see; lyrebird prefixes its
handlers' output with the function name, and this script reads that log (LYREBIRD_LOG), as
one reads CloudWatch Logs on AWS.

Usage (ci.sh does this):
    LYREBIRD_LOG=lyrebird.log AWS_ENDPOINT_URL=http://127.0.0.1:PORT python3 check.py
Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import base64
import concurrent.futures
import hashlib
import json
import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566").rstrip("/")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
LOG = os.environ.get("LYREBIRD_LOG", "")
AWS_CLI = os.environ.get("LAMBDA_ACCEPTANCE_AWS", "")

INGEST = "shipments-ingest-accept"
LEDGER = "shipments-ledger-accept"
AUDIT = "shipments-audit-accept"

PASSED = 0
FAILED = 0


def check(name, cond, detail=""):
    global PASSED, FAILED
    if cond:
        PASSED += 1
        print(f"PASS {name}")
    else:
        FAILED += 1
        print(f"FAIL {name}" + (f": {detail}" if detail else ""))
    return cond


def eq(name, got, want):
    return check(name, got == want, f"got {got!r}, want {want!r}")


def client(service):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
        # No retries: a throttle is seen as sent, not retried until the slot frees.
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=30),
    )


def get_json(path):
    with urllib.request.urlopen(f"{ENDPOINT}{path}", timeout=5) as response:
        return json.load(response)


def stack_outputs():
    return {o["OutputKey"]: o["OutputValue"] for o in get_json("/_lyrebird/init/outputs")["Outputs"]}


def invocations(function):
    return get_json(f"/_lyrebird/lambda/invocations?function={function}")["Invocations"]


def advance_clock(seconds):
    request = urllib.request.Request(
        f"{ENDPOINT}/_lyrebird/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


def wait_for(what, done, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if done():
            return True
        time.sleep(0.1)
    check(what, False, "timed out")
    return False


def captures(kind):
    """The records a Node handler logged (`CAPTURE <kind> <json>`), oldest first."""
    out = []
    if not LOG:
        return out
    with open(LOG, encoding="utf-8", errors="replace") as f:
        for line in f:
            at = line.find(f"CAPTURE {kind} ")
            if at >= 0:
                out.append(json.loads(line[at + len(f"CAPTURE {kind} ") :]))
    return out


def queue_counts(sqs, url):
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]), int(attrs["ApproximateNumberOfMessagesNotVisible"])


def body_field(record, key):
    """A field of a record's JSON body, or "" when the body is not a JSON object."""
    try:
        body = json.loads(record["body"])
    except ValueError:
        return ""
    return body.get(key, "") if isinstance(body, dict) else ""


def is_digits(value):
    return isinstance(value, str) and value.isdigit()


# ---- the Lambda API ------------------------------------------------------------------------


def check_functions(lam, outputs):
    names = {f["FunctionName"]: f for f in lam.list_functions()["Functions"]}
    check("ListFunctions lists the three template functions", {INGEST, LEDGER, AUDIT} <= set(names), sorted(names))
    arn = outputs.get("IngestFunctionArn", "")
    check(
        "Outputs: !GetAtt IngestFunction.Arn is the function's ARN",
        re.fullmatch(rf"arn:aws:lambda:{REGION}:\d{{12}}:function:{INGEST}", arn) is not None,
        arn,
    )
    ingest = lam.get_function(FunctionName=INGEST)
    config = ingest["Configuration"]
    eq("GetFunction: FunctionArn matches the output", config["FunctionArn"], arn)
    eq("Globals: Runtime", config["Runtime"], "nodejs20.x")
    eq("Globals: Timeout", config["Timeout"], 10)
    eq("Globals: MemorySize", config["MemorySize"], 256)
    eq("GetFunction: Handler", config["Handler"], "handlers/ingest.handler")
    eq(
        "Globals: Environment.Variables",
        config.get("Environment", {}).get("Variables"),
        {"STAGE": "accept", "SERVICE_NAME": "shipments"},
    )
    eq("GetFunction: Concurrency.ReservedConcurrentExecutions", ingest.get("Concurrency"), {"ReservedConcurrentExecutions": 2})
    eq(
        "GetFunctionConcurrency",
        lam.get_function_concurrency(FunctionName=INGEST).get("ReservedConcurrentExecutions"),
        2,
    )
    ledger = lam.get_function(FunctionName=LEDGER)["Configuration"]
    eq("the function's Timeout overrides Globals", ledger["Timeout"], 3)
    eq(
        "Environment.Variables merge with Globals'",
        ledger.get("Environment", {}).get("Variables"),
        {"STAGE": "accept", "SERVICE_NAME": "shipments", "LEDGER_MODE": "strict"},
    )
    eq("a function's Runtime overrides Globals", lam.get_function(FunctionName=AUDIT)["Configuration"]["Runtime"], "python3.11")
    try:
        lam.get_function(FunctionName="no-such-function")
        check("GetFunction of a missing function fails", False)
    except lam.exceptions.ResourceNotFoundException as e:
        eq("GetFunction of a missing function: 404", e.response["ResponseMetadata"]["HTTPStatusCode"], 404)


def check_mappings(lam, outputs):
    mappings = {m["FunctionArn"].rsplit(":", 1)[-1]: m for m in lam.list_event_source_mappings()["EventSourceMappings"]}
    ingest = mappings.get(INGEST)
    if not check("ListEventSourceMappings has the ingest mapping", ingest is not None, sorted(mappings)):
        return
    eq("mapping: EventSourceArn", ingest["EventSourceArn"], outputs["ShipmentsQueueArn"])
    eq("mapping: BatchSize", ingest["BatchSize"], 25)
    eq("mapping: MaximumBatchingWindowInSeconds", ingest.get("MaximumBatchingWindowInSeconds"), 1)
    eq("mapping: FunctionResponseTypes", ingest.get("FunctionResponseTypes"), ["ReportBatchItemFailures"])
    eq(
        "mapping: FilterCriteria",
        ingest.get("FilterCriteria"),
        {"Filters": [{"Pattern": '{"body": {"kind": ["shipment"]}}'}]},
    )
    eq("mapping: State", ingest["State"], "Enabled")
    check("mapping: UUID", re.fullmatch(r"[0-9a-f-]{36}", ingest["UUID"]) is not None, ingest["UUID"])
    ledger = mappings.get(LEDGER)
    check("ListEventSourceMappings has the ledger (FIFO) mapping", ledger is not None and ledger["BatchSize"] == 10)
    filtered = lam.list_event_source_mappings(FunctionName=INGEST)["EventSourceMappings"]
    eq("ListEventSourceMappings --function-name filters", [m["UUID"] for m in filtered], [ingest["UUID"]])


def check_invoke(lam):
    out = lam.invoke(FunctionName=INGEST, Payload=json.dumps({"id": "direct-1"}), LogType="Tail")
    eq("Invoke RequestResponse: StatusCode 200", out["StatusCode"], 200)
    eq("Invoke: ExecutedVersion $LATEST", out.get("ExecutedVersion"), "$LATEST")
    check("Invoke success: no FunctionError", "FunctionError" not in out, out.get("FunctionError"))
    payload = json.loads(out["Payload"].read())
    eq("Invoke: the handler sees the template's environment", (payload.get("stage"), payload.get("service")), ("accept", "shipments"))
    eq("Invoke: context.functionName", payload.get("functionName"), INGEST)
    eq("Invoke: RequestId is the handler's context.awsRequestId", payload.get("requestId"),
       out["ResponseMetadata"]["RequestId"])
    eq("Invoke: context.memoryLimitInMB", payload.get("memoryLimitInMB"), "256")
    remaining = payload.get("remainingMs", -1)
    check("Invoke: getRemainingTimeInMillis within Timeout (10 s)", 0 < remaining <= 10_000, remaining)
    tail = base64.b64decode(out.get("LogResult", "")).decode("utf-8", "replace")
    request_id = out["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid", "")
    check("LogType Tail: LogResult has the handler's output", "direct invoke" in tail, tail[-300:])
    check("LogType Tail: LogResult has START/END/REPORT RequestId lines",
          all(f"{w} RequestId: " in tail for w in ("START", "END", "REPORT")), tail[-300:])
    check("LogType Tail: the REPORT line names the request id", request_id and f"REPORT RequestId: {request_id}" in tail, request_id)
    check("LogType Tail: at most 4 KB", len(base64.b64decode(out.get("LogResult", ""))) <= 4096)

    out = lam.invoke(FunctionName=INGEST, Payload=json.dumps({"action": "explode", "id": "X9"}))
    eq("Invoke a failing callback: StatusCode 200", out["StatusCode"], 200)
    eq("Invoke a failing callback: X-Amz-Function-Error Unhandled", out.get("FunctionError"), "Unhandled")
    error = json.loads(out["Payload"].read())
    eq("error payload: errorType is the error's name", error.get("errorType"), "ShipmentRejected")
    eq("error payload: errorMessage", error.get("errorMessage"), "cannot ship X9")
    # Node's runtime names it "trace" (Python's "stackTrace"), as recorded on AWS.
    trace = error.get("trace")
    check("error payload (Node): trace is a list of strings starting with the error",
          isinstance(trace, list) and trace and all(isinstance(s, str) for s in trace)
          and trace[0] == "ShipmentRejected: cannot ship X9", error)

    out = lam.invoke(FunctionName=LEDGER, Payload=json.dumps({"throw": "bad entry"}))
    error = json.loads(out["Payload"].read())
    eq("async handler throws: errorType, errorMessage", (out.get("FunctionError"), error.get("errorType"), error.get("errorMessage")),
       ("Unhandled", "TypeError", "bad entry"))

    out = lam.invoke(FunctionName=AUDIT, Payload=json.dumps({"not": "an SNS event"}))
    error = json.loads(out["Payload"].read())
    eq("Python error: FunctionError, errorType, errorMessage",
       (out.get("FunctionError"), error.get("errorType"), error.get("errorMessage")), ("Unhandled", "KeyError", "'Records'"))
    trace = error.get("stackTrace") or [""]
    check("Python error: stackTrace starts at the handler's frame (no runtime frames)",
          re.match(r'  File ".*/audit\.py", line \d+, in handler\n', trace[0]) is not None, trace)
    eq("Python error: requestId is the invocation's", error.get("requestId"),
       out["ResponseMetadata"]["HTTPHeaders"].get("x-amzn-requestid"))

    out = lam.invoke(FunctionName=LEDGER, Payload=b"{}")
    payload = json.loads(out["Payload"].read())
    eq("ESM handler: its own and Globals' environment", (payload.get("mode"), payload.get("stage")), ("strict", "accept"))

    started = time.time()
    out = lam.invoke(FunctionName=LEDGER, Payload=json.dumps({"sleepMs": 8000}))
    took = time.time() - started
    error = json.loads(out["Payload"].read())
    eq("timeout: X-Amz-Function-Error Unhandled", out.get("FunctionError"), "Unhandled")
    check("timeout: errorMessage is 'RequestId: <id> Error: Task timed out after 3.00 seconds'",
          error.get("errorMessage") == f"RequestId: {out['ResponseMetadata']['HTTPHeaders'].get('x-amzn-requestid')} "
          "Error: Task timed out after 3.00 seconds", error)
    eq("timeout: errorType Sandbox.Timedout", error.get("errorType"), "Sandbox.Timedout")
    check("timeout: answered after ~3 s, not the handler's 8 s", 2.5 < took < 7, f"{took:.2f} s")
    out = lam.invoke(FunctionName=LEDGER, Payload=b"{}")
    check("after a timeout the next invoke works (a fresh process)", "FunctionError" not in out and out["StatusCode"] == 200)

    check_reserved_concurrency(lam)

    out = lam.invoke(FunctionName=INGEST, InvocationType="Event", Payload=json.dumps({"id": "async-1"}))
    eq("Invoke Event: StatusCode 202", out["StatusCode"], 202)
    event_id = out["ResponseMetadata"]["RequestId"]
    wait_for("the Event invocation runs", lambda: any(i["request_id"] == event_id for i in invocations(INGEST)))
    check("Invoke Event: the invocation runs under the RequestId Invoke answered",
          any(i["request_id"] == event_id and i["invocation_type"] == "Event" for i in invocations(INGEST)), event_id)
    out = lam.invoke(FunctionName=INGEST, InvocationType="DryRun")
    eq("Invoke DryRun: StatusCode 204", out["StatusCode"], 204)
    try:
        lam.invoke(FunctionName=INGEST, Payload=b"not json")
        check("Invoke with a payload that is not JSON fails", False)
    except lam.exceptions.InvalidRequestContentException as e:
        eq("Invoke with invalid JSON: InvalidRequestContentException 400",
           e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
    except Exception as e:  # noqa: BLE001 - report whatever came back
        check("Invoke with invalid JSON: InvalidRequestContentException", False, repr(e))


def check_reserved_concurrency(lam):
    """ReservedConcurrentExecutions 2: a third concurrent synchronous invoke is throttled (429)."""
    def call(_):
        try:
            out = lam.invoke(FunctionName=INGEST, Payload=json.dumps({"sleepMs": 3000}))
            return out["StatusCode"], None
        except lam.exceptions.TooManyRequestsException as e:
            return e.response["ResponseMetadata"]["HTTPStatusCode"], e.response.get("Reason")

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = sorted(pool.map(call, range(3)), key=lambda r: r[0])
    eq("reserved concurrency 2: two of three concurrent invokes run, one gets 429 with AWS's Reason",
       results, [(200, None), (200, None), (429, "ReservedFunctionConcurrentInvocationLimitExceeded")])


# ---- SQS event sources -----------------------------------------------------------------


def check_sqs_record(name, record, queue_arn, fifo):
    # md5OfMessageAttributes is not in the docs' example, but AWS sends it (null without
    # attributes), as recorded on AWS in LocalStack's snapshots.
    keys = {"messageId", "receiptHandle", "body", "attributes", "messageAttributes", "md5OfBody",
            "md5OfMessageAttributes", "eventSource", "eventSourceARN", "awsRegion"}
    eq(f"{name}: the record's keys", set(record), keys)
    md5 = record.get("md5OfMessageAttributes")
    if record.get("messageAttributes"):
        check(f"{name}: md5OfMessageAttributes is 32 hex digits", re.fullmatch(r"[0-9a-f]{32}", md5 or "") is not None, md5)
    else:
        eq(f"{name}: md5OfMessageAttributes is null without attributes", md5, None)
    eq(f"{name}: eventSource", record.get("eventSource"), "aws:sqs")
    eq(f"{name}: eventSourceARN", record.get("eventSourceARN"), queue_arn)
    eq(f"{name}: awsRegion", record.get("awsRegion"), REGION)
    attrs = record.get("attributes", {})
    want = {"ApproximateReceiveCount", "SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    if fifo:
        want |= {"SequenceNumber", "MessageGroupId", "MessageDeduplicationId"}
    check(f"{name}: attributes has {sorted(want)}", want <= set(attrs), sorted(attrs))
    for key in ("ApproximateReceiveCount", "SentTimestamp", "ApproximateFirstReceiveTimestamp"):
        check(f"{name}: attributes.{key} is a string of digits", is_digits(attrs.get(key)), attrs.get(key))
    check(f"{name}: SentTimestamp is epoch milliseconds", len(attrs.get("SentTimestamp", "")) == 13, attrs.get("SentTimestamp"))
    if fifo:
        check(f"{name}: SequenceNumber is a string of digits", is_digits(attrs.get("SequenceNumber")), attrs.get("SequenceNumber"))


def check_ingest(sqs, outputs):
    url, arn = outputs["ShipmentsQueueUrl"], outputs["ShipmentsQueueArn"]
    run = uuid.uuid4().hex[:6]
    bodies = [
        {"kind": "shipment", "id": f"{run}-1", "to": "Lyon"},
        {"kind": "shipment", "id": f"{run}-2", "to": "Porto"},
        {"kind": "parcel", "id": f"{run}-p1"},  # no filter matches: deleted, never delivered
        {"kind": "shipment", "id": f"{run}-bad", "action": "reject"},
        {"kind": "shipment", "id": f"{run}-3"},
        "plain text, not JSON",  # a body that is not JSON matches no body filter either
    ]
    entries = []
    for i, body in enumerate(bodies):
        entry = {"Id": str(i), "MessageBody": body if isinstance(body, str) else json.dumps(body)}
        if i == 0:
            entry["MessageAttributes"] = {
                "carrier": {"DataType": "String", "StringValue": "dhl"},
                "weight": {"DataType": "Number", "StringValue": "12.5"},
                "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01raw"},
            }
        entries.append(entry)
    sent = sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]
    ids = {int(s["Id"]): s["MessageId"] for s in sent}

    def mine():
        return [c for c in captures("ingest") if str(body_field(c["record"], "id")).startswith(run)]

    wait_for("the ingest handler receives the 4 matching messages", lambda: len(mine()) >= 4)
    seen = mine()
    got = sorted(body_field(c["record"], "id") for c in seen)
    eq("filtering: only messages matching FilterCriteria reach the handler", got,
       sorted([f"{run}-1", f"{run}-2", f"{run}-bad", f"{run}-3"]))
    check("batching: the window gathers the batch into at most 2 invocations (BatchSize 25)",
          len({c["batch"] for c in seen}) <= 2 and max(c["batch"] for c in seen) >= 2, [c["batch"] for c in seen])
    first = next((c["record"] for c in seen if c["record"]["messageId"] == ids[0]), None)
    if check("the SQS event carries the message id SendMessageBatch returned", first is not None):
        check_sqs_record("SQS event", first, arn, fifo=False)
        eq("SQS event: body is the message body", json.loads(first["body"])["to"], "Lyon")
        eq("SQS event: attributes.ApproximateReceiveCount", first["attributes"]["ApproximateReceiveCount"], "1")
        attrs = first["messageAttributes"]
        eq("SQS event: messageAttributes String", attrs.get("carrier"),
           {"stringValue": "dhl", "stringListValues": [], "binaryListValues": [], "dataType": "String"})
        eq("SQS event: messageAttributes Number (a string)", attrs.get("weight"),
           {"stringValue": "12.5", "stringListValues": [], "binaryListValues": [], "dataType": "Number"})
        eq("SQS event: messageAttributes Binary (base64)", attrs.get("blob"),
           {"binaryValue": base64.b64encode(b"\x00\x01raw").decode(), "stringListValues": [], "binaryListValues": [],
            "dataType": "Binary"})
        eq("SQS event: md5OfBody", first["md5OfBody"], hashlib.md5(first["body"].encode()).hexdigest())
    plain = [c for c in seen if c["record"]["body"] == "plain text, not JSON"]
    eq("filtering: a body that is not JSON matches no body filter", plain, [])

    # Filtered-out messages are deleted; the rejected one waits out its visibility timeout.
    def settled():
        return queue_counts(sqs, url) == (0, 1)

    wait_for("filtered-out and processed messages are deleted; only the reported failure stays in flight", settled)
    eq("after the batch: (visible, in flight)", queue_counts(sqs, url), (0, 1))

    # ReportBatchItemFailures: only the reported id comes back, after VisibilityTimeout (60 s).
    advance_clock(61)
    wait_for("the reported failure is redelivered after the visibility timeout",
             lambda: sum(1 for c in mine() if c["record"]["messageId"] == ids[3]) >= 2)
    again = [c["record"] for c in mine() if c["record"]["messageId"] != ids[3]]
    eq("partial failure: successful records are not redelivered", len(again), 3)
    retry = [c["record"] for c in mine() if c["record"]["messageId"] == ids[3]]
    eq("redelivery: ApproximateReceiveCount is 2", retry[-1]["attributes"]["ApproximateReceiveCount"] if retry else None, "2")
    # maxReceiveCount 2: the next receive moves it to the DLQ instead of invoking a third time.
    time.sleep(0.5)
    advance_clock(61)
    dlq = outputs["ShipmentsDLQUrl"]
    moved = []

    def in_dlq():
        moved.extend(sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, WaitTimeSeconds=0,
                                         AttributeNames=["All"]).get("Messages", []))
        return bool(moved)

    wait_for("the poison message reaches the DLQ after maxReceiveCount (2)", in_dlq)
    if moved:
        eq("DLQ: the poison message's body", json.loads(moved[0]["Body"])["id"], f"{run}-bad")
    eq("the handler never saw the poison message a third time",
       sum(1 for c in mine() if c["record"]["messageId"] == ids[3]), 2)
    wait_for("the source queue is empty afterwards", lambda: queue_counts(sqs, url) == (0, 0))


def check_ledger(sqs, outputs):
    url, arn = outputs["LedgerQueueUrl"], outputs["LedgerQueueArn"]
    run = uuid.uuid4().hex[:6]
    entries = []
    for group, seqs in (("acct-A", [1, 2, 3]), ("acct-B", [1, 2])):
        for seq in seqs:
            body = {"run": run, "group": group, "seq": seq, "failOnFirstTry": group == "acct-A" and seq == 1}
            entries.append({"Id": f"{group}-{seq}", "MessageBody": json.dumps(body), "MessageGroupId": f"{run}-{group}"})
    sqs.send_message_batch(QueueUrl=url, Entries=entries)

    def mine():
        return [c for c in captures("ledger") if body_field(c["record"], "run") == run]

    wait_for("the ledger handler sees the first entries", lambda: len(mine()) >= 3)
    first = mine()[0]["record"]
    check_sqs_record("FIFO SQS event", first, arn, fifo=True)
    check("FIFO SQS event: MessageDeduplicationId (content-based) is set", bool(first["attributes"].get("MessageDeduplicationId")))
    wait_for("acct-B applies while acct-A waits", lambda: queue_counts(sqs, url)[1] == 3)
    eq("FIFO hold-back: the failed entry and the rest of its group stay in flight", queue_counts(sqs, url), (0, 3))
    advance_clock(31)  # VisibilityTimeout 30
    wait_for("acct-A is redelivered after the visibility timeout", lambda: queue_counts(sqs, url) == (0, 0))

    applied = {}
    for c in mine():
        if c["applied"]:
            body = json.loads(c["record"]["body"])
            applied.setdefault(body["group"], []).append(body["seq"])
    eq("FIFO: each group applied in order, exactly once", applied, {"acct-A": [1, 2, 3], "acct-B": [1, 2]})
    retried = [c["record"] for c in mine() if json.loads(c["record"]["body"])["group"] == "acct-A" and c["applied"]]
    eq("FIFO: the retried entries' ApproximateReceiveCount",
       [r["attributes"]["ApproximateReceiveCount"] for r in retried], ["2", "2", "2"])


def check_disable(lam, sqs, outputs):
    uuid_ = lam.list_event_source_mappings(FunctionName=INGEST)["EventSourceMappings"][0]["UUID"]
    if AWS_CLI:
        out = aws_cli("lambda", "update-event-source-mapping", "--uuid", uuid_, "--no-enabled")
        check("aws lambda update-event-source-mapping --no-enabled: State Disabling",
              out is not None and out.get("State") in ("Disabling", "Disabled"), out)
    else:
        out = lam.update_event_source_mapping(UUID=uuid_, Enabled=False)
        check("UpdateEventSourceMapping Enabled=false: State Disabling", out.get("State") in ("Disabling", "Disabled"), out)
    wait_for("the mapping becomes Disabled",
             lambda: lam.get_event_source_mapping(UUID=uuid_)["State"] == "Disabled")
    before = len(invocations(INGEST))
    sqs.send_message(QueueUrl=outputs["ShipmentsQueueUrl"], MessageBody=json.dumps({"kind": "shipment", "id": "while-off"}))
    time.sleep(2)
    eq("a disabled mapping stops polling: no invocation", len(invocations(INGEST)), before)
    eq("a disabled mapping stops polling: the message waits in the queue", queue_counts(sqs, outputs["ShipmentsQueueUrl"]), (1, 0))
    lam.update_event_source_mapping(UUID=uuid_, Enabled=True)
    wait_for("re-enabled, the mapping drains the queue", lambda: queue_counts(sqs, outputs["ShipmentsQueueUrl"]) == (0, 0))


# ---- SNS -> Python --------------------------------------------------------------------


def audit_results(sqs, url, want, seconds=20):
    got = []
    deadline = time.time() + seconds
    while len(got) < want and time.time() < deadline:
        for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", []):
            got.append(json.loads(m["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def check_audit(sns, sqs, outputs):
    topic, results = outputs["AlertsTopicArn"], outputs["AuditResultsQueueUrl"]
    published = sns.publish(TopicArn=topic, Subject="Late truck", Message="truck 7 is late",
                            MessageAttributes={"severity": {"DataType": "String", "StringValue": "high"},
                                               "count": {"DataType": "Number", "StringValue": "3"}})
    got = audit_results(sqs, results, 1)
    if not check("the Python handler's own boto3 call reached the results queue", len(got) == 1, got):
        return
    seen = got[0]
    record = seen["record"]
    eq("SNS event: record keys", set(record), {"EventSource", "EventVersion", "EventSubscriptionArn", "Sns"})
    eq("SNS event: EventSource", record["EventSource"], "aws:sns")
    eq("SNS event: EventVersion", record["EventVersion"], "1.0")
    check("SNS event: EventSubscriptionArn is a subscription of the topic",
          record["EventSubscriptionArn"].startswith(topic + ":"), record["EventSubscriptionArn"])
    s = record["Sns"]
    eq("SNS event: Sns keys", set(s), {"Type", "MessageId", "TopicArn", "Subject", "Message", "Timestamp",
                                       "SignatureVersion", "Signature", "SigningCertUrl", "UnsubscribeUrl",
                                       "MessageAttributes"})
    eq("SNS event: Type, TopicArn, Subject, Message",
       (s["Type"], s["TopicArn"], s["Subject"], s["Message"]), ("Notification", topic, "Late truck", "truck 7 is late"))
    eq("SNS event: MessageId is Publish's", s["MessageId"], published["MessageId"])
    eq("SNS event: SignatureVersion", s["SignatureVersion"], "1")
    check("SNS event: Timestamp is ISO 8601 with milliseconds and Z",
          re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", s["Timestamp"]) is not None, s["Timestamp"])
    eq("SNS event: MessageAttributes {Type, Value}", s["MessageAttributes"],
       {"severity": {"Type": "String", "Value": "high"}, "count": {"Type": "Number", "Value": "3"}})
    check("SNS event: UnsubscribeUrl names the subscription",
          record["EventSubscriptionArn"] in s["UnsubscribeUrl"], s["UnsubscribeUrl"])
    eq("Python context: function_name", seen["function_name"], AUDIT)
    check("Python context: invoked_function_arn", seen["invoked_function_arn"].endswith(f":function:{AUDIT}"),
          seen["invoked_function_arn"])
    eq("Python context: memory_limit_in_mb (Globals)", str(seen["memory_limit_in_mb"]), "256")
    eq("Python: Globals' environment", seen["stage"], "accept")
    eq("Python: AWS_EXECUTION_ENV", seen["runtime_env"], "AWS_Lambda_python3.11")

    # An error: SNS invokes asynchronously, and Lambda retries twice (three attempts in all).
    sns.publish(TopicArn=topic, Message="fail")
    attempts = audit_results(sqs, results, 1)
    for _ in range(4):
        if len(attempts) >= 3:
            break
        advance_clock(180)  # Lambda waits 1 min, then 2 min, between asynchronous retries
        attempts += audit_results(sqs, results, 3 - len(attempts), seconds=5)
    eq("async invoke on error: three attempts (two retries)", len(attempts), 3)
    ids = {a["record"]["Sns"]["MessageId"] for a in attempts}
    eq("the retries carry the same SNS message", len(ids), 1)
    eq("the retries run under the same request id (context.aws_request_id)",
       len({a["request_id"] for a in attempts}), 1)
    time.sleep(1)
    advance_clock(600)
    eq("no fourth attempt", len(audit_results(sqs, results, 1, seconds=2)), 0)
    outcomes = [i["outcome"] for i in invocations(AUDIT) if i["source"] == "aws:sns"]
    eq("invocation log: the SNS invocations' outcomes", outcomes, ["success", "error", "error", "error"])


# ---- the AWS CLI -------------------------------------------------------------------------


def aws_cli(*args, raw=False):
    command = [AWS_CLI, "--endpoint-url", ENDPOINT, "--region", REGION, "--output", "json", *args]
    proc = subprocess.run(command, capture_output=True, text=True, timeout=60)
    if proc.returncode != 0:
        print(f"  aws {' '.join(args)}: exit {proc.returncode}: {proc.stderr.strip()[:300]}")
        return None
    return proc.stdout if raw else (json.loads(proc.stdout) if proc.stdout.strip() else {})


def check_cli(tmpdir):
    listed = aws_cli("lambda", "list-functions")
    check("aws lambda list-functions", listed is not None and
          {INGEST, LEDGER, AUDIT} <= {f["FunctionName"] for f in listed["Functions"]})
    got = aws_cli("lambda", "get-function", "--function-name", AUDIT)
    check("aws lambda get-function: Handler and Runtime", got is not None and
          (got["Configuration"]["Handler"], got["Configuration"]["Runtime"]) == ("audit.handler", "python3.11"), got)
    maps = aws_cli("lambda", "list-event-source-mappings", "--function-name", LEDGER)
    check("aws lambda list-event-source-mappings --function-name", maps is not None and
          len(maps["EventSourceMappings"]) == 1 and maps["EventSourceMappings"][0]["BatchSize"] == 10, maps)
    outfile = os.path.join(tmpdir, "out.json")
    # v1 (PyPI's awscli) takes the payload as it is; v2 wants raw-in-base64-out for that.
    v2 = (aws_cli("--version", raw=True) or "").startswith("aws-cli/2")
    binary_format = ["--cli-binary-format", "raw-in-base64-out"] if v2 else []
    inv = aws_cli("lambda", "invoke", "--function-name", INGEST, "--log-type", "Tail", *binary_format,
                  "--payload", '{"id": "cli-1"}', outfile)
    if check("aws lambda invoke --log-type Tail", inv is not None, inv):
        eq("aws lambda invoke: StatusCode", inv.get("StatusCode"), 200)
        tail = base64.b64decode(inv.get("LogResult", "")).decode("utf-8", "replace")
        check("aws lambda invoke: LogResult has the handler's line", "cli-1" in tail, tail[-200:])
        with open(outfile, encoding="utf-8") as f:
            eq("aws lambda invoke: the payload file", json.load(f).get("ok"), True)


def main():
    lam, sqs, sns = client("lambda"), client("sqs"), client("sns")
    outputs = stack_outputs()
    sections = [
        ("Lambda API: functions", lambda: check_functions(lam, outputs)),
        ("Lambda API: event source mappings", lambda: check_mappings(lam, outputs)),
        ("Lambda API: Invoke", lambda: check_invoke(lam)),
        ("SQS: standard queue, filter, partial failures, DLQ", lambda: check_ingest(sqs, outputs)),
        ("SQS: FIFO hold-back", lambda: check_ledger(sqs, outputs)),
        ("SNS -> Python with boto3", lambda: check_audit(client("sns"), sqs, outputs)),
        ("disabled mapping", lambda: check_disable(lam, sqs, outputs)),
    ]
    if AWS_CLI:
        tmpdir = tempfile.mkdtemp()
        sections.append(("the AWS CLI", lambda: check_cli(tmpdir)))
    for title, run in sections:
        print(f"== {title}")
        try:
            run()
        except Exception as e:  # noqa: BLE001 - a section that crashes is one failure, the rest runs
            check(f"{title} ran to the end", False, repr(e))
    print(f"{PASSED} passed, {FAILED} failed")
    return 0 if FAILED == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
