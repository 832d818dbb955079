"""What every client scenario shares: its check reporting, the AWS MD5 digests, and the SNS
envelope an SQS subscriber receives. Standard library only, so any client's Python can use it.

Each check prints one line (PASS/FAIL); finish() prints "N passed, M failed" and exits 1 on
any failure, which tests/clients/run.sh adds up.
"""

import base64
import hashlib
import os
import re
import struct
import sys
import traceback

ENDPOINT = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
REGION = "us-east-1"
ACCOUNT = "000000000000"

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


def step(name, fn):
    """Run fn(); an unexpected exception is one failed check (and the scenario goes on)."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - report anything the client raised
        detail = f"{type(e).__name__}: {e}"
        if getattr(e, "response", None) is not None:  # botocore's ClientError
            detail += f" response={e.response!r}"
        check(name, False, detail)
        traceback.print_exc(limit=2, file=sys.stdout)
        return None


def finish():
    print(f"{PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)


def run(main):
    """Runs a scenario to the end; an exception that escapes it is one more failure."""
    try:
        main()
    except Exception as e:  # noqa: BLE001 - an aborted scenario is a failure, not a crash
        check("scenario ran to the end", False, f"{type(e).__name__}: {e}")
        traceback.print_exc(file=sys.stdout)
    finish()


# --- MD5s (shared/aws-wire-reference.md section 3) ------------------------------------------


def md5_body(body):
    return hashlib.md5(body.encode("utf-8")).hexdigest()


def md5_attributes(attrs):
    """MD5OfMessageAttributes / MD5OfMessageSystemAttributes over a boto3-style attribute map."""
    h = hashlib.md5()

    def put(b):
        h.update(struct.pack(">I", len(b)))
        h.update(b)

    for name in sorted(attrs, key=lambda n: n.encode("utf-8")):
        v = attrs[name]
        put(name.encode("utf-8"))
        put(v["DataType"].encode("utf-8"))
        if "StringValue" in v:
            h.update(b"\x01")
            put(v["StringValue"].encode("utf-8"))
        elif "BinaryValue" in v:
            h.update(b"\x02")
            b = v["BinaryValue"]
            put(b if isinstance(b, (bytes, bytearray)) else base64.b64decode(b))
        elif "StringListValues" in v:
            h.update(b"\x03")
            for s in v["StringListValues"]:
                put(s.encode("utf-8"))
        elif "BinaryListValues" in v:
            h.update(b"\x04")
            for b in v["BinaryListValues"]:
                put(b)
    return h.hexdigest()


# --- SNS -> SQS (reference section 5.4) -----------------------------------------------------


def check_envelope(envelope, topic, message_id, subject, message, attributes):
    """The notification JSON an SQS subscriber receives (not raw delivery)."""
    eq("envelope: Type", envelope.get("Type"), "Notification")
    eq("envelope: MessageId", envelope.get("MessageId"), message_id)
    eq("envelope: TopicArn", envelope.get("TopicArn"), topic)
    eq("envelope: Subject", envelope.get("Subject"), subject)
    eq("envelope: Message", envelope.get("Message"), message)
    timestamp = envelope.get("Timestamp", "")
    check("envelope: Timestamp", re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", timestamp), repr(timestamp))
    eq("envelope: SignatureVersion", envelope.get("SignatureVersion"), "1")
    check("envelope: Signature", bool(envelope.get("Signature")), repr(envelope))
    cert = str(envelope.get("SigningCertURL", ""))
    check("envelope: SigningCertURL", cert.endswith(".pem"), repr(cert))
    unsubscribe = str(envelope.get("UnsubscribeURL", ""))
    check("envelope: UnsubscribeURL", "Action=Unsubscribe" in unsubscribe, repr(unsubscribe))
    eq("envelope: MessageAttributes", envelope.get("MessageAttributes"), attributes)


# --- EventBridge and Lambda (events_scenario.py, lambda_scenario.py and their CLI/JS twins) ---

# The rule every EventBridge scenario puts: a prefix on the source, a numeric range on the detail.
EVENT_PATTERN = {"source": [{"prefix": "shop."}], "detail": {"amount": [{"numeric": [">", 100]}]}}
# The InputTransformer on its SQS target, and what the matching event (amount 150) becomes.
INPUT_PATHS = {"amount": "$.detail.amount", "src": "$.source"}
INPUT_TEMPLATE = '{"order": <amount>, "from": "<src>"}'
TRANSFORMED = '{"order": 150, "from": "shop.orders"}'

# The tiny Node handler every Lambda scenario zips: echoes its event, logs, fails on request.
HANDLER_JS = """exports.handler = async (event, context) => {
  console.log("hello from " + context.functionName);
  if (event.fail) { throw new TypeError("bad order " + event.fail); }
  return { echo: event, fn: context.functionName };
};
"""


def log_tail_pattern(function):
    """What Invoke's LogResult (LogType Tail) decodes to on AWS: START, the handler's line, END,
    REPORT, all with the same request id."""
    return (
        r"START RequestId: (\S+) Version: \$LATEST\n(?:.*\n)*?"
        rf"\S+\t\1\tINFO\thello from {re.escape(function)}\n"
        r"END RequestId: \1\nREPORT RequestId: \1\tDuration: [\d.]+ ms\tBilled Duration: \d+ ms\t"
        r"Memory Size: 128 MB\tMax Memory Used: \d+ MB\t"
    )


def handler_zip():
    """The zip CreateFunction uploads: index.js at its root."""
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("index.js", HANDLER_JS)
    return buf.getvalue()


def invocations(function):
    """lyrebird's record of finished invocations of one function (GET /_lyrebird/lambda/invocations)."""
    import json
    import urllib.parse
    import urllib.request

    url = f"{ENDPOINT}/_lyrebird/lambda/invocations?function={urllib.parse.quote(function)}"
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.load(r)["Invocations"]


def wait_for(fn, timeout=15.0, interval=0.2):
    """Polls fn() until it returns something truthy or the timeout passes; returns the last value."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)
