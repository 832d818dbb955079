#!/usr/bin/env python3
"""The client-matrix scenario through boto3 (any version: SQS over JSON or query).

Queues (standard and FIFO), messages with attributes, visibility, delete, a dead-letter queue
after maxReceiveCount, and an SNS topic fanning out to a queue through a filter policy. The
same steps, with the same check names, are in cli_scenario.py and js/scenario.cjs.

Configured as a user would: boto3.client("sqs") with nothing but the environment
(AWS_ENDPOINT_URL, credentials, region). Prints one line per check and ends with
"N passed, M failed"; exits 1 on any failure.
"""

import json
import uuid

import boto3
import botocore

import checks
from checks import ACCOUNT, ENDPOINT, REGION, check, check_envelope, eq, md5_attributes, md5_body, step


def messages(response):
    return (response or {}).get("Messages", [])


def main():
    sqs = boto3.client("sqs")
    sns = boto3.client("sns")
    protocol = sqs.meta.service_model.protocol
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}, SQS protocol {protocol}, endpoint {ENDPOINT}")
    prefix = f"py{protocol}{uuid.uuid4().hex[:8]}"

    # Standard queue: send with attributes, receive, change visibility, delete ----------------
    r = step("create queue", lambda: sqs.create_queue(QueueName=f"{prefix}-orders", Attributes={"VisibilityTimeout": "30"}))
    if not r:
        return
    url = r["QueueUrl"]
    eq("create queue: QueueUrl", url, f"{ENDPOINT}/{ACCOUNT}/{prefix}-orders")

    attributes = {
        "customer": {"DataType": "String", "StringValue": "alice"},
        "amount": {"DataType": "Number", "StringValue": "42.5"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x01\x02\x03"},
    }
    sent = step("send message", lambda: sqs.send_message(QueueUrl=url, MessageBody="order 1", MessageAttributes=attributes))
    if sent:
        eq("send message: MD5OfMessageBody", sent.get("MD5OfMessageBody"), md5_body("order 1"))
        eq("send message: MD5OfMessageAttributes", sent.get("MD5OfMessageAttributes"), md5_attributes(attributes))

    receive = dict(QueueUrl=url, AttributeNames=["All"], MessageAttributeNames=["All"], WaitTimeSeconds=1)
    got = messages(step("receive", lambda: sqs.receive_message(**receive)))
    eq("receive: one message", len(got), 1)
    if got:
        m = got[0]
        eq("receive: MessageId", m.get("MessageId"), (sent or {}).get("MessageId"))
        eq("receive: Body", m.get("Body"), "order 1")
        eq("receive: MD5OfBody", m.get("MD5OfBody"), md5_body("order 1"))
        eq("receive: MessageAttributes", m.get("MessageAttributes"), attributes)
        eq("receive: ApproximateReceiveCount", m.get("Attributes", {}).get("ApproximateReceiveCount"), "1")

        step("change visibility to 0", lambda: sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"], VisibilityTimeout=0))
        again = messages(step("receive again", lambda: sqs.receive_message(**receive)))
        eq("receive again: same message", [x.get("MessageId") for x in again], [m.get("MessageId")])
        if again:
            eq("receive again: ApproximateReceiveCount", again[0].get("Attributes", {}).get("ApproximateReceiveCount"), "2")
            step("delete message", lambda: sqs.delete_message(QueueUrl=url, ReceiptHandle=again[0]["ReceiptHandle"]))
    r = step("queue counts", lambda: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]))
    if r:
        eq("queue counts after delete", r.get("Attributes"), {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"})

    # FIFO queue: order within a group, content-based deduplication ---------------------------
    r = step("create FIFO queue", lambda: sqs.create_queue(QueueName=f"{prefix}-orders.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}))
    if r:
        fifo = r["QueueUrl"]
        for body in ("f1", "f2", "f3", "f1"):
            s = step(f"send FIFO {body}", lambda b=body: sqs.send_message(QueueUrl=fifo, MessageBody=b, MessageGroupId="g1"))
            if s:
                check(f"send FIFO {body}: SequenceNumber", bool(s.get("SequenceNumber")), repr(s))
        got = messages(step("receive FIFO", lambda: sqs.receive_message(QueueUrl=fifo, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1)))
        eq("receive FIFO: bodies in order, duplicate dropped", [m.get("Body") for m in got], ["f1", "f2", "f3"])
        eq("receive FIFO: MessageGroupId", {m.get("Attributes", {}).get("MessageGroupId") for m in got}, {"g1"})
        if got:
            r = step("delete FIFO batch", lambda: sqs.delete_message_batch(QueueUrl=fifo, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(got)]))
            if r:
                eq("delete FIFO batch: all deleted", len(r.get("Successful", [])), len(got))

    # Dead-letter queue after maxReceiveCount ------------------------------------------------
    dlq = step("create DLQ", lambda: sqs.create_queue(QueueName=f"{prefix}-dlq"))
    if dlq:
        dlq_url = dlq["QueueUrl"]
        dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        eq("DLQ ARN", dlq_arn, f"arn:aws:sqs:{REGION}:{ACCOUNT}:{prefix}-dlq")
        policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
        work = step("create queue with RedrivePolicy", lambda: sqs.create_queue(QueueName=f"{prefix}-work", Attributes={"RedrivePolicy": policy}))
        if work:
            work_url = work["QueueUrl"]
            step("send poison message", lambda: sqs.send_message(QueueUrl=work_url, MessageBody="poison"))
            first = messages(step("receive poison", lambda: sqs.receive_message(QueueUrl=work_url, WaitTimeSeconds=1)))
            eq("receive poison: once", [m.get("Body") for m in first], ["poison"])
            if first:
                step("release poison", lambda: sqs.change_message_visibility(QueueUrl=work_url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0))
            second = messages(step("receive past maxReceiveCount", lambda: sqs.receive_message(QueueUrl=work_url)))
            eq("receive past maxReceiveCount: moved away", second, [])
            moved = messages(step("receive from DLQ", lambda: sqs.receive_message(QueueUrl=dlq_url, AttributeNames=["All"], WaitTimeSeconds=1)))
            eq("receive from DLQ: the poison message", [m.get("Body") for m in moved], ["poison"])
            r = step("list dead-letter source queues", lambda: sqs.list_dead_letter_source_queues(QueueUrl=dlq_url))
            if r:
                eq("list dead-letter source queues", r.get("queueUrls"), [work_url])

    # SNS topic -> SQS queue through a filter policy -----------------------------------------
    r = step("create topic", lambda: sns.create_topic(Name=f"{prefix}-events"))
    if r:
        topic = r["TopicArn"]
        eq("create topic: TopicArn", topic, f"arn:aws:sns:{REGION}:{ACCOUNT}:{prefix}-events")
        inbox_url = sqs.create_queue(QueueName=f"{prefix}-inbox")["QueueUrl"]
        inbox_arn = sqs.get_queue_attributes(QueueUrl=inbox_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        filter_policy = json.dumps({"event": ["order_placed"]})
        sub = step("subscribe queue with filter policy", lambda: sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=inbox_arn, Attributes={"FilterPolicy": filter_policy}, ReturnSubscriptionArn=True))
        if sub:
            sub_arn = sub["SubscriptionArn"]
            check("subscribe: SubscriptionArn", sub_arn.startswith(topic + ":"), sub_arn)
            a = step("subscription attributes", lambda: sns.get_subscription_attributes(SubscriptionArn=sub_arn))
            if a:
                eq("subscription attributes: FilterPolicy", json.loads(a["Attributes"].get("FilterPolicy", "null")), {"event": ["order_placed"]})
                eq("subscription attributes: PendingConfirmation", a["Attributes"].get("PendingConfirmation"), "false")
        step("publish filtered out", lambda: sns.publish(TopicArn=topic, Message="not for the inbox", MessageAttributes={"event": {"DataType": "String", "StringValue": "order_cancelled"}}))
        published = step("publish", lambda: sns.publish(TopicArn=topic, Subject="new order", Message='{"id": 1}', MessageAttributes={"event": {"DataType": "String", "StringValue": "order_placed"}}))
        delivered = []
        for _ in range(3):
            delivered += messages(step("receive envelope", lambda: sqs.receive_message(QueueUrl=inbox_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)))
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
            step("unsubscribe", lambda: sns.unsubscribe(SubscriptionArn=sub_arn))
        step("delete topic", lambda: sns.delete_topic(TopicArn=topic))
        r = step("list topics", lambda: sns.list_topics())
        if r:
            check("list topics: topic gone", topic not in [t["TopicArn"] for t in r.get("Topics", [])], repr(r.get("Topics")))

    # Clean up -------------------------------------------------------------------------------
    for queue in sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []):
        step(f"delete queue {queue.rsplit('/', 1)[-1]}", lambda q=queue: sqs.delete_queue(QueueUrl=q))
    eq("no queues left", sqs.list_queues(QueueNamePrefix=prefix).get("QueueUrls", []), [])


if __name__ == "__main__":
    checks.run(main)
