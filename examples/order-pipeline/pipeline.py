#!/usr/bin/env python3
"""The seed-000 order pipeline run against lyrebird with boto3.

lyrebird provisions the stack from template.yaml (`--init`); this script plays the
publisher (src/services/eventPublisher.ts) and the two Lambda consumers
(src/handlers/process*Order.ts) of the original post:

1. publishes ORDER_CREATED events of each priority, with the post's message attributes;
2. consumes both queues, parsing the SNS envelope as the handlers do
   (`JSON.parse(JSON.parse(record.body).Message)`) and validating each event;
3. a poison order (no `data`) fails on every receive and is released for retry, until after
   maxReceiveCount (3) receives SQS moves it to the critical dead-letter queue;
4. once the handler is "fixed", the dead-letter queue is redriven with a message move task and
   the order is processed.

Usage:
    lyrebird --in-memory --init examples/order-pipeline/template.yaml &
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


def validate_order_event(event):
    """validateOrderEvent() of processCriticalOrder.ts."""
    if not event.get("eventId") or not event.get("orderId") or not event.get("eventType"):
        raise ValueError("Invalid order event: missing required fields")
    if not event.get("data") or not event.get("metadata"):
        raise ValueError("Invalid order event: missing data or metadata")


def consume(sqs, queue_url, handler):
    """Receives until the queue is empty. A handled message is deleted; a failing one is made
    visible again at once (a Lambda would wait out the 300 s visibility timeout).
    Returns (handled events, {orderId: receive counts seen for failures})."""
    handled, failures = [], {}
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        ).get("Messages", [])
        if not messages:
            return handled, failures
        for message in messages:
            envelope = json.loads(message["Body"])
            event = json.loads(envelope["Message"])
            try:
                handler(envelope, event)
            except ValueError:
                count = int(message["Attributes"]["ApproximateReceiveCount"])
                failures.setdefault(event["orderId"], []).append(count)
                sqs.change_message_visibility(
                    QueueUrl=queue_url,
                    ReceiptHandle=message["ReceiptHandle"],
                    VisibilityTimeout=0,
                )
                continue
            handled.append(event)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def visible_messages(sqs, queue_url):
    attributes = sqs.get_queue_attributes(
        QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"])


def main():
    outputs = stack_outputs()
    topic_arn = outputs["OrderEventsTopicArn"]
    critical_url = outputs["CriticalOrdersQueueUrl"]
    standard_url = outputs["StandardOrdersQueueUrl"]
    dlq_url = outputs["CriticalOrdersDLQUrl"]
    dlq_arn = outputs["CriticalOrdersDLQArn"]
    sns, sqs = client("sns"), client("sqs")

    print(f"== publishing to {topic_arn}")
    high = order_event("HIGH")
    payment = order_event("HIGH", event_type="PAYMENT_PROCESSED")
    medium = order_event("MEDIUM")
    low = order_event("LOW")
    poison = order_event("HIGH", with_data=False)
    for event in (high, payment, medium, low, poison):
        publish(sns, topic_arn, event)
        print(f"   {event['metadata']['priority']:<6} {event['eventType']:<17} {event['orderId']}")

    def handler(envelope, event):
        # The envelope a Lambda's SQS record carries.
        check(f"envelope of {event['orderId']}", envelope["Type"] == "Notification"
              and envelope["TopicArn"] == topic_arn
              and envelope["Subject"] == f"Order Event: {event['eventType']}"
              and envelope["MessageAttributes"]["priority"]["Value"]
              == event["metadata"]["priority"], json.dumps(envelope))
        validate_order_event(event)

    print("== consuming the critical queue (HIGH only)")
    handled, failures = consume(sqs, critical_url, handler)
    eq("critical queue got the HIGH orders",
       sorted(e["orderId"] for e in handled), sorted([high["orderId"], payment["orderId"]]))
    eq("the poison order failed on each of its receives",
       failures.get(poison["orderId"]), list(range(1, MAX_RECEIVE_COUNT + 1)))
    eq("after maxReceiveCount receives it is in the dead-letter queue",
       visible_messages(sqs, dlq_url), 1)

    print("== consuming the standard queue (MEDIUM and LOW)")
    handled, failures = consume(sqs, standard_url, handler)
    eq("standard queue got the MEDIUM and LOW orders",
       sorted(e["orderId"] for e in handled), sorted([medium["orderId"], low["orderId"]]))
    eq("no standard order failed", failures, {})

    print("== redriving the dead-letter queue once the handler is fixed")
    task = sqs.start_message_move_task(SourceArn=dlq_arn)["TaskHandle"]
    deadline = time.time() + 10
    status = None
    while time.time() < deadline:
        results = sqs.list_message_move_tasks(SourceArn=dlq_arn)["Results"]
        status = results[0]["Status"] if results else None
        if status == "COMPLETED":
            break
        time.sleep(0.1)
    eq(f"move task {task[:16]}… completed", status, "COMPLETED")
    eq("the dead-letter queue is empty", visible_messages(sqs, dlq_url), 0)

    def fixed_handler(envelope, event):
        event.setdefault("data", {"items": []})  # the fix: tolerate orders without data
        validate_order_event(event)

    handled, failures = consume(sqs, critical_url, fixed_handler)
    eq("the redriven order is processed", [e["orderId"] for e in handled], [poison["orderId"]])
    eq("and nothing failed", failures, {})


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - an aborted run is a failure, not a crash
        check("pipeline ran to the end", False, f"{type(e).__name__}: {e}")
    print(f"{PASSED} passed, {FAILED} failed")
    sys.exit(1 if FAILED else 0)
