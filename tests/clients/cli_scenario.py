#!/usr/bin/env python3
"""The client-matrix scenario through the AWS CLI (pip `awscli`, which is CLI v1).

Runs `aws` commands exactly as a user types them; the one lyrebird-specific setting is
`--endpoint-url` (CLI v1 ignores AWS_ENDPOINT_URL; CLI v2 honours it). Same steps and check
names as scenario.py. Run with the Python of the virtualenv holding awscli: its `aws` is
the one beside that interpreter.

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import json
import os
import re
import subprocess
import sys
import uuid

import checks
from checks import ACCOUNT, ENDPOINT, REGION, check, check_envelope, eq, md5_attributes, md5_body, step

AWS = os.path.join(os.path.dirname(sys.executable), "aws")


def aws(*args):
    """Runs `aws --endpoint-url <lyrebird> <args>`; returns its JSON output ({} when silent)."""
    done = subprocess.run(
        [AWS, "--endpoint-url", ENDPOINT, "--output", "json", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    if done.returncode != 0:
        raise RuntimeError(f"aws {' '.join(args)} exited {done.returncode}: {done.stderr.strip()}")
    return json.loads(done.stdout) if done.stdout.strip() else {}


def aws_error(*args):
    """Runs a command that must fail; returns (error code, message) from the CLI's
    "An error occurred (Code) when calling the Op operation: message", or None if it succeeded."""
    done = subprocess.run([AWS, "--endpoint-url", ENDPOINT, "--output", "json", *args], capture_output=True, text=True, timeout=60)
    if done.returncode == 0:
        return None
    match = re.search(r"An error occurred \((\w+)\) when calling the \w+ operation: (.*)", done.stderr.strip())
    return (match.group(1), match.group(2)) if match else ("unparsed", done.stderr.strip())


def messages(response):
    return (response or {}).get("Messages", [])


def queue_arn(url):
    return aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]


def main():
    version = subprocess.run([AWS, "--version"], capture_output=True, text=True).stdout.strip()
    print(f"{version}, endpoint {ENDPOINT}")
    prefix = f"cli{uuid.uuid4().hex[:8]}"

    # Standard queue: send with attributes, receive, change visibility, delete ----------------
    r = step("create queue", lambda: aws("sqs", "create-queue", "--queue-name", f"{prefix}-orders", "--attributes", "VisibilityTimeout=30"))
    if not r:
        return
    url = r["QueueUrl"]
    eq("create queue: QueueUrl", url, f"{ENDPOINT}/{ACCOUNT}/{prefix}-orders")

    attributes = {
        "customer": {"DataType": "String", "StringValue": "alice"},
        "amount": {"DataType": "Number", "StringValue": "42.5"},
    }
    sent = step("send message", lambda: aws("sqs", "send-message", "--queue-url", url, "--message-body", "order 1", "--message-attributes", json.dumps(attributes)))
    if sent:
        eq("send message: MD5OfMessageBody", sent.get("MD5OfMessageBody"), md5_body("order 1"))
        eq("send message: MD5OfMessageAttributes", sent.get("MD5OfMessageAttributes"), md5_attributes(attributes))

    receive = ("sqs", "receive-message", "--queue-url", url, "--attribute-names", "All", "--message-attribute-names", "All", "--wait-time-seconds", "1")
    got = messages(step("receive", lambda: aws(*receive)))
    eq("receive: one message", len(got), 1)
    if got:
        m = got[0]
        eq("receive: MessageId", m.get("MessageId"), (sent or {}).get("MessageId"))
        eq("receive: Body", m.get("Body"), "order 1")
        eq("receive: MD5OfBody", m.get("MD5OfBody"), md5_body("order 1"))
        eq("receive: MessageAttributes", m.get("MessageAttributes"), attributes)
        eq("receive: ApproximateReceiveCount", m.get("Attributes", {}).get("ApproximateReceiveCount"), "1")

        step("change visibility to 0", lambda: aws("sqs", "change-message-visibility", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"], "--visibility-timeout", "0"))
        again = messages(step("receive again", lambda: aws(*receive)))
        eq("receive again: same message", [x.get("MessageId") for x in again], [m.get("MessageId")])
        if again:
            eq("receive again: ApproximateReceiveCount", again[0].get("Attributes", {}).get("ApproximateReceiveCount"), "2")
            step("delete message", lambda: aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", again[0]["ReceiptHandle"]))
    r = step("queue counts", lambda: aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"))
    if r:
        eq("queue counts after delete", r.get("Attributes"), {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"})

    # FIFO queue: order within a group, content-based deduplication ---------------------------
    r = step("create FIFO queue", lambda: aws("sqs", "create-queue", "--queue-name", f"{prefix}-orders.fifo", "--attributes", "FifoQueue=true,ContentBasedDeduplication=true"))
    if r:
        fifo = r["QueueUrl"]
        for body in ("f1", "f2", "f3", "f1"):
            s = step(f"send FIFO {body}", lambda b=body: aws("sqs", "send-message", "--queue-url", fifo, "--message-body", b, "--message-group-id", "g1"))
            if s:
                check(f"send FIFO {body}: SequenceNumber", bool(s.get("SequenceNumber")), repr(s))
        got = messages(step("receive FIFO", lambda: aws("sqs", "receive-message", "--queue-url", fifo, "--max-number-of-messages", "10", "--attribute-names", "All", "--wait-time-seconds", "1")))
        eq("receive FIFO: bodies in order, duplicate dropped", [m.get("Body") for m in got], ["f1", "f2", "f3"])
        eq("receive FIFO: MessageGroupId", {m.get("Attributes", {}).get("MessageGroupId") for m in got}, {"g1"})
        if got:
            entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]
            r = step("delete FIFO batch", lambda: aws("sqs", "delete-message-batch", "--queue-url", fifo, "--entries", json.dumps(entries)))
            if r:
                eq("delete FIFO batch: all deleted", len(r.get("Successful", [])), len(got))

    # Dead-letter queue after maxReceiveCount ------------------------------------------------
    dlq = step("create DLQ", lambda: aws("sqs", "create-queue", "--queue-name", f"{prefix}-dlq"))
    if dlq:
        dlq_url = dlq["QueueUrl"]
        dlq_arn = queue_arn(dlq_url)
        eq("DLQ ARN", dlq_arn, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}-dlq")
        policy = json.dumps({"RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})})
        work = step("create queue with RedrivePolicy", lambda: aws("sqs", "create-queue", "--queue-name", f"{prefix}-work", "--attributes", policy))
        if work:
            work_url = work["QueueUrl"]
            step("send poison message", lambda: aws("sqs", "send-message", "--queue-url", work_url, "--message-body", "poison"))
            first = messages(step("receive poison", lambda: aws("sqs", "receive-message", "--queue-url", work_url, "--wait-time-seconds", "1")))
            eq("receive poison: once", [m.get("Body") for m in first], ["poison"])
            if first:
                step("release poison", lambda: aws("sqs", "change-message-visibility", "--queue-url", work_url, "--receipt-handle", first[0]["ReceiptHandle"], "--visibility-timeout", "0"))
            second = messages(step("receive past maxReceiveCount", lambda: aws("sqs", "receive-message", "--queue-url", work_url)))
            eq("receive past maxReceiveCount: moved away", second, [])
            moved = messages(step("receive from DLQ", lambda: aws("sqs", "receive-message", "--queue-url", dlq_url, "--attribute-names", "All", "--wait-time-seconds", "1")))
            eq("receive from DLQ: the poison message", [m.get("Body") for m in moved], ["poison"])
            r = step("list dead-letter source queues", lambda: aws("sqs", "list-dead-letter-source-queues", "--queue-url", dlq_url))
            if r:
                eq("list dead-letter source queues", r.get("queueUrls"), [work_url])

    # SNS topic -> SQS queue through a filter policy -----------------------------------------
    r = step("create topic", lambda: aws("sns", "create-topic", "--name", f"{prefix}-events"))
    if r:
        topic = r["TopicArn"]
        eq("create topic: TopicArn", topic, f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}-events")
        inbox_url = aws("sqs", "create-queue", "--queue-name", f"{prefix}-inbox")["QueueUrl"]
        filter_policy = json.dumps({"event": ["order_placed"]})
        sub = step(
            "subscribe queue with filter policy",
            lambda: aws("sns", "subscribe", "--topic-arn", topic, "--protocol", "sqs", "--notification-endpoint", queue_arn(inbox_url),
                        "--attributes", json.dumps({"FilterPolicy": filter_policy}), "--return-subscription-arn"),
        )
        if sub:
            sub_arn = sub["SubscriptionArn"]
            check("subscribe: SubscriptionArn", sub_arn.startswith(topic + ":"), sub_arn)
            a = step("subscription attributes", lambda: aws("sns", "get-subscription-attributes", "--subscription-arn", sub_arn))
            if a:
                eq("subscription attributes: FilterPolicy", json.loads(a["Attributes"].get("FilterPolicy", "null")), {"event": ["order_placed"]})
                eq("subscription attributes: PendingConfirmation", a["Attributes"].get("PendingConfirmation"), "false")

        def event(name):
            return json.dumps({"event": {"DataType": "String", "StringValue": name}})

        step("publish filtered out", lambda: aws("sns", "publish", "--topic-arn", topic, "--message", "not for the inbox", "--message-attributes", event("order_cancelled")))
        published = step("publish", lambda: aws("sns", "publish", "--topic-arn", topic, "--subject", "new order", "--message", '{"id": 1}', "--message-attributes", event("order_placed")))
        delivered = []
        for _ in range(3):
            delivered += messages(step("receive envelope", lambda: aws("sqs", "receive-message", "--queue-url", inbox_url, "--max-number-of-messages", "10", "--wait-time-seconds", "1")))
            if delivered:
                break
        eq("receive envelope: only the matching message", len(delivered), 1)
        if delivered:
            check_envelope(
                json.loads(delivered[0]["Body"]),
                topic,
                (published or {}).get("MessageId"),
                subject="new order",
                message='{"id": 1}',
                attributes={"event": {"Type": "String", "Value": "order_placed"}},
            )
        if sub:
            step("unsubscribe", lambda: aws("sns", "unsubscribe", "--subscription-arn", sub_arn))
        step("delete topic", lambda: aws("sns", "delete-topic", "--topic-arn", topic))
        r = step("list topics", lambda: aws("sns", "list-topics"))
        if r:
            check("list topics: topic gone", topic not in [t["TopicArn"] for t in r.get("Topics", [])], repr(r.get("Topics")))

    # Clean up -------------------------------------------------------------------------------
    for queue in aws("sqs", "list-queues", "--queue-name-prefix", prefix).get("QueueUrls", []):
        step(f"delete queue {queue.rsplit('/', 1)[-1]}", lambda q=queue: aws("sqs", "delete-queue", "--queue-url", q))
    eq("no queues left", aws("sqs", "list-queues", "--queue-name-prefix", prefix).get("QueueUrls", []), [])


if __name__ == "__main__":
    checks.run(main)
