#!/usr/bin/env python3
"""The seeds' event routing run against lyrebird with boto3.

lyrebird provisions the `orders` bus, its rules, targets and archive from template.yaml
(`--init`); this script plays the order service (PutEvents) and checks where each event landed:

1. a high-value OrderCreated (amount > 1000) reaches the high-value FIFO queue, in its message
   group, as the full EventBridge envelope;
2. every order-service event with a `status` reaches the notification topic, transformed to
   {"orderId", "status"}, and through it the subscribed queue;
3. other sources and small orders go nowhere else; the archive keeps all of them;
4. TestEventPattern agrees with the rules; a replay of the archive sends the events again with
   `replay-name`; the dead-letter queue stays empty.

Usage:
    lyrebird --in-memory --init examples/event-routing/template.yaml &
    AWS_ENDPOINT_URL=http://localhost:4566 python3 examples/event-routing/route.py

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import datetime
import json
import os
import sys
import time

import boto3

ENDPOINT = os.environ.get("AWS_ENDPOINT_URL", "http://localhost:4566").rstrip("/")
REGION = os.environ.get("AWS_DEFAULT_REGION", os.environ.get("AWS_REGION", "us-east-1"))
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


events = client("events")
sqs = client("sqs")


def queue_url(name):
    return sqs.get_queue_url(QueueName=name)["QueueUrl"]


def drain(name, want, timeout=5.0):
    """Receives (and deletes) until `want` messages arrived or `timeout` passed."""
    url = queue_url(name)
    got = []
    deadline = time.time() + timeout
    while len(got) < want and time.time() < deadline:
        resp = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["All"],
        )
        for m in resp.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            got.append(m)
    return got


def order(order_id, amount, status, source="order-service", detail_type="OrderCreated"):
    return {
        "Source": source,
        "DetailType": detail_type,
        "Detail": json.dumps({"orderId": order_id, "amount": amount, "status": status}),
        "EventBusName": "orders",
    }


start = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=1)

# The provisioned resources.
rules = events.list_rules(EventBusName="orders")["Rules"]
eq("the template's rules are on the orders bus", sorted(r["Name"] for r in rules),
   ["high-value-orders", "order-status"])
archive = events.describe_archive(ArchiveName="orders-archive")
eq("the archive keeps the orders bus", archive["EventSourceArn"],
   f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/orders")

# The order service puts its events.
resp = events.put_events(Entries=[
    order("o-1", 1500, "pending"),
    order("o-2", 50, "processing"),
    order("o-3", 2500.5, "completed"),
    order("p-1", 5000, "settled", source="payment-service", detail_type="PaymentSettled"),
])
eq("PutEvents accepts every entry", resp["FailedEntryCount"], 0)
ids = [e["EventId"] for e in resp["Entries"]]

high = drain("high-value-orders.fifo", 2)
bodies = [json.loads(m["Body"]) for m in high]
eq("high-value orders reach the FIFO queue", sorted(b["detail"]["orderId"] for b in bodies),
   ["o-1", "o-3"])
check("they arrive as the EventBridge envelope",
      all(b["source"] == "order-service" and b["detail-type"] == "OrderCreated"
          and b["account"] == ACCOUNT and b["region"] == REGION and b["version"] == "0"
          for b in bodies), bodies)
eq("in the rule's message group", {m["Attributes"]["MessageGroupId"] for m in high},
   {"high-value"})
eq("deduplicated on the event id", sorted(m["Attributes"]["MessageDeduplicationId"] for m in high),
   sorted([ids[0], ids[2]]))

notified = drain("order-notifications", 3)
eq("status changes reach the notification topic, transformed",
   sorted((json.loads(m["Body"])["orderId"], json.loads(m["Body"])["status"]) for m in notified),
   [("o-1", "pending"), ("o-2", "processing"), ("o-3", "completed")])

eq("nothing else reached the high-value queue", drain("high-value-orders.fifo", 1, 1.5), [])
eq("nothing else was notified", drain("order-notifications", 1, 1.5), [])
eq("no delivery failed", drain("event-routing-dlq", 1, 1.0), [])

archive = events.describe_archive(ArchiveName="orders-archive")
eq("the archive kept all four events", archive["EventCount"], 4)

envelope = {
    "id": "1", "account": ACCOUNT, "time": "2024-01-01T00:00:00Z", "region": REGION,
    "source": "order-service", "detail-type": "OrderCreated", "resources": [],
    "detail": {"orderId": "x", "amount": 1000.01},
}
pattern = events.describe_rule(Name="high-value-orders", EventBusName="orders")["EventPattern"]
eq("TestEventPattern: 1000.01 is high value",
   events.test_event_pattern(EventPattern=pattern, Event=json.dumps(envelope))["Result"], True)
envelope["detail"]["amount"] = 1000
eq("TestEventPattern: 1000 is not",
   events.test_event_pattern(EventPattern=pattern, Event=json.dumps(envelope))["Result"], False)

# Replaying the archive sends its events through the bus's rules again.
end = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=1)
events.start_replay(
    ReplayName="orders-replay",
    EventSourceArn=archive["ArchiveArn"],
    EventStartTime=start,
    EventEndTime=end,
    Destination={"Arn": archive["EventSourceArn"]},
)
replayed = [json.loads(m["Body"]) for m in drain("high-value-orders.fifo", 2)]
eq("the replay re-sends the high-value orders", sorted(b["detail"]["orderId"] for b in replayed),
   ["o-1", "o-3"])
eq("marked with the replay's name", {b.get("replay-name") for b in replayed}, {"orders-replay"})
# A replay is a background job (STARTING, RUNNING, COMPLETED), a minute of events at a time.
deadline = time.time() + 10
state = events.describe_replay(ReplayName="orders-replay")["State"]
while state in ("STARTING", "RUNNING") and time.time() < deadline:
    time.sleep(0.2)
    state = events.describe_replay(ReplayName="orders-replay")["State"]
eq("the replay completed", state, "COMPLETED")

print(f"{PASSED} passed, {FAILED} failed")
sys.exit(1 if FAILED else 0)
