"""Checks a lyrebird started with `--init <this app's cdk.out>` using boto3, as an application
would: finds the queues through the stacks' Outputs (GET /_lyrebird/init/outputs), then asserts
routing by string, numeric, exists and message-body filters, the FIFO pair's order, the move to a
dead-letter queue after three receives, the topic's stand-in KMS key, and the subscribed
function (a real Lambda function since issue 18). Endpoint from AWS_ENDPOINT_URL. Prints "N passed, M failed"; exits non-zero on failure.
"""
import json
import os
import sys
import urllib.request

import boto3

ENDPOINT = os.environ["AWS_ENDPOINT_URL"]
sqs = boto3.client("sqs", region_name="us-east-1")
sns = boto3.client("sns", region_name="us-east-1")
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    results["passed" if condition else "failed"] += 1
    print(f"{'ok  ' if condition else 'FAIL'} {name}{'' if condition else f': {detail}'}")


def outputs():
    with urllib.request.urlopen(f"{ENDPOINT}/_lyrebird/init/outputs", timeout=5) as response:
        listed = json.load(response)["Outputs"]
    by_stack = {}
    for o in listed:
        by_stack.setdefault(o["StackName"], {})[o["OutputKey"]] = o["OutputValue"]
    return by_stack


def drain(url):
    bodies = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return bodies
        for m in got:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def attribute(data_type, value):
    return {"DataType": data_type, "StringValue": value}


stacks = outputs()
check("stacks are named from the manifest", sorted(stacks) == ["OrderEvents", "OrderPipeline"], sorted(stacks))
out = stacks["OrderPipeline"]
topic = out["OrderEventsTopicArn"]
check("the cross-stack topic ARN", topic.endswith(":order-events"), topic)
check(
    "an unnamed queue is named like CloudFormation",
    "/OrderPipeline-LargeOrdersQueue" in out["LargeOrdersQueueUrl"],
    out["LargeOrdersQueueUrl"],
)

publish = lambda body, **attrs: sns.publish(TopicArn=topic, Message=body, MessageAttributes=attrs)
publish("critical", priority=attribute("String", "HIGH"))
publish("standard", priority=attribute("String", "LOW"))
publish("large", amount=attribute("Number", "1500"))
publish("small", amount=attribute("Number", "20"))
publish("vip", vip=attribute("String", "yes"))
cancelled = json.dumps({"status": "CANCELLED", "order": 7})
publish(cancelled)
for key, expected in [
    ("CriticalOrdersQueueUrl", ["critical"]),
    ("StandardOrdersQueueUrl", ["standard"]),
    ("LargeOrdersQueueUrl", ["large"]),
    ("VipOrdersQueueUrl", ["vip"]),
    ("CancelledOrdersQueueUrl", [cancelled]),
]:
    got = drain(out[key])
    check(f"routing to {key}", got == expected, got)

for n in range(1, 4):
    sns.publish(TopicArn=out["LedgerTopicArn"], Message=f"entry {n}", MessageGroupId="ledger")
got = drain(out["LedgerQueueUrl"])
check("the FIFO pair keeps order", got == ["entry 1", "entry 2", "entry 3"], got)

publish("poison", priority=attribute("String", "HIGH"))
critical = out["CriticalOrdersQueueUrl"]
for attempt in range(3):
    got = sqs.receive_message(QueueUrl=critical, WaitTimeSeconds=1).get("Messages", [])
    check(f"poison order received (attempt {attempt + 1})", len(got) == 1, got)
    if got:
        # Give it back at once instead of waiting out the 300 s visibility timeout.
        sqs.change_message_visibility(QueueUrl=critical, ReceiptHandle=got[0]["ReceiptHandle"], VisibilityTimeout=0)
got = sqs.receive_message(QueueUrl=critical).get("Messages", [])
check("after maxReceiveCount it is gone from the queue", got == [], got)
got = drain(out["CriticalOrdersDLQUrl"])
check("and in the dead-letter queue", got == ["poison"], got)

key = sns.get_topic_attributes(TopicArn=topic)["Attributes"].get("KmsMasterKeyId", "")
check("the topic uses the stand-in key ARN", key.startswith("arn:aws:kms:us-east-1:"), key)
endpoints = [s["Endpoint"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]]
check("the function is subscribed", out["NotifierArn"] in endpoints, endpoints)

print(f"{results['passed']} passed, {results['failed']} failed")
sys.exit(1 if results["failed"] else 0)
