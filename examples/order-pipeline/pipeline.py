#!/usr/bin/env python3
"""The seed-000 order pipeline run against lyrebird with boto3.

lyrebird provisions the stack from template.yaml (`--init`) and runs the post's two Lambda
handlers (src/handlers/process*Order.ts, compiled to the JS beside them) through SQS event
source mappings; this script plays the publisher (src/services/eventPublisher.ts) and checks
what the handlers did, through lyrebird's invocation log:

1. publishes ORDER_CREATED / PAYMENT_PROCESSED events of each priority, with the post's
   message attributes;
2. HIGH orders reach the critical handler in batches of at most 5, MEDIUM and LOW the standard
   one in batches of at most 10; every invocation succeeds and the queues drain;
3. a poison order (no `data`) makes the critical handler throw on each of its receives, a
   visibility timeout (300 s, skipped with the test clock) apart, until SQS moves it to the
   dead-letter queue after maxReceiveCount (3).

Usage:
    lyrebird --in-memory --test-endpoints --init examples/order-pipeline/template.yaml &
    AWS_ENDPOINT_URL=http://localhost:4566 python3 examples/order-pipeline/pipeline.py

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import datetime
import json
import os
import sys
import time
import urllib.request
import uuid

import boto3

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566").rstrip("/")
REGION = os.environ.get("AWS_DEFAULT_REGION", "us-east-1")
MAX_RECEIVE_COUNT = 3  # CriticalOrdersQueue's RedrivePolicy in template.yaml

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


def eq(name, got, want):
    check(name, got == want, f"got {got!r}, want {want!r}")


def client(service):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id=os.environ.get("AWS_ACCESS_KEY_ID", "test"),
        aws_secret_access_key=os.environ.get("AWS_SECRET_ACCESS_KEY", "test"),
    )


def stack_outputs():
    """The template's Outputs, as lyrebird resolved them at start-up."""
    with urllib.request.urlopen(f"{ENDPOINT}/_lyrebird/init/outputs", timeout=5) as response:
        outputs = json.load(response)["Outputs"]
    return {o["OutputKey"]: o["OutputValue"] for o in outputs}


def order_event(priority, event_type="ORDER_CREATED", with_data=True):
    """An OrderEvent as src/types/events.ts defines it."""
    event = {
        "eventId": str(uuid.uuid4()),
        "eventType": event_type,
        "orderId": f"order-{priority.lower()}-{uuid.uuid4().hex[:8]}",
        "timestamp": datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "version": "2.0",
        "source": "order-service",
        "metadata": {"priority": priority, "correlationId": str(uuid.uuid4())},
    }
    if with_data:
        event["data"] = {
            "customerId": "customer-456",
            "items": [
                {"productId": "p-1", "quantity": 2, "unitPrice": 50.0, "productName": "Widget"}
            ],
            "totalAmount": 100.0,
            "currency": "USD",
            "status": "PENDING",
        }
    return event


def publish(sns, topic_arn, event):
    """EventPublisher.publishEvent: the event as JSON, with buildMessageAttributes()."""

    def attribute(value):
        return {"DataType": "String", "StringValue": value}

    return sns.publish(
        TopicArn=topic_arn,
        Message=json.dumps(event),
        Subject=f"Order Event: {event['eventType']}",
        MessageAttributes={
            "eventType": attribute(event["eventType"]),
            "priority": attribute(event["metadata"]["priority"]),
            "orderId": attribute(event["orderId"]),
            "correlationId": attribute(event["metadata"]["correlationId"]),
            "version": attribute(event["version"]),
        },
    )["MessageId"]


def visible_messages(sqs, queue_url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def invocations(function):
    """GET /_lyrebird/lambda/invocations of one function."""
    url = f"{ENDPOINT}/_lyrebird/lambda/invocations?function={function}"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["Invocations"]


def batches(function, outcome):
    return [i["batch_size"] for i in invocations(function) if i["outcome"] == outcome]


def wait_for(what, done, seconds=30):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if done():
            return True
        time.sleep(0.1)
    check(what, False, "timed out")
    return False


def advance_clock(seconds):
    request = urllib.request.Request(
        f"{ENDPOINT}/_lyrebird/clock/advance",
        data=json.dumps({"seconds": seconds}).encode(),
        headers={"content-type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=5):
        pass


CRITICAL = "critical-order-processor-dev"
STANDARD = "standard-order-processor-dev"


def main():
    outputs = stack_outputs()
    topic_arn = outputs["OrderEventsTopicArn"]
    critical_url = outputs["CriticalOrdersQueueUrl"]
    standard_url = outputs["StandardOrdersQueueUrl"]
    dlq_url = outputs["CriticalOrdersDLQUrl"]
    sns, sqs = client("sns"), client("sqs")

    print(f"== publishing to {topic_arn}")
    high = [order_event("HIGH") for _ in range(6)] + [
        order_event("HIGH", event_type="PAYMENT_PROCESSED")
    ]
    standard = [order_event("MEDIUM" if i % 2 else "LOW") for i in range(12)]
    for event in high + standard:
        publish(sns, topic_arn, event)
    print(f"   {len(high)} HIGH, {len(standard)} MEDIUM/LOW orders")

    print("== the handlers run")
    wait_for(
        "every order reached its handler",
        lambda: sum(batches(CRITICAL, "success")) == len(high)
        and sum(batches(STANDARD, "success")) == len(standard),
    )
    critical_batches = batches(CRITICAL, "success")
    standard_batches = batches(STANDARD, "success")
    eq("the critical handler got the HIGH orders", sum(critical_batches), len(high))
    check("in batches of at most 5", all(n <= 5 for n in critical_batches), critical_batches)
    eq("the standard handler got the MEDIUM and LOW orders", sum(standard_batches), len(standard))
    check("in batches of at most 10", all(n <= 10 for n in standard_batches), standard_batches)
    eq("no invocation failed", batches(CRITICAL, "error") + batches(STANDARD, "error"), [])
    wait_for("both queues drained", lambda: visible_messages(sqs, critical_url) == 0
             and visible_messages(sqs, standard_url) == 0)

    print("== a poison order")
    poison = order_event("HIGH", with_data=False)
    publish(sns, topic_arn, poison)
    for receive in range(1, MAX_RECEIVE_COUNT + 1):
        wait_for(f"receive {receive} failed in the handler",
                 lambda: len(batches(CRITICAL, "error")) >= receive)
        # The message comes back after the queue's visibility timeout (300 s).
        advance_clock(301)
    eq("the handler failed on each of its receives", len(batches(CRITICAL, "error")),
       MAX_RECEIVE_COUNT)
    wait_for("the poison order is in the dead-letter queue",
             lambda: visible_messages(sqs, dlq_url) == 1)
    messages = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=1).get("Messages", [])
    eq("it is the poison order",
       [json.loads(json.loads(m["Body"])["Message"])["orderId"] for m in messages],
       [poison["orderId"]])
    eq("the critical queue is empty", visible_messages(sqs, critical_url), 0)


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - an aborted run is a failure, not a crash
        check("pipeline ran to the end", False, f"{type(e).__name__}: {e}")
    print(f"{PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)
