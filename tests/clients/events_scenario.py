#!/usr/bin/env python3
"""The EventBridge scenario through boto3: a custom bus, a rule with a prefix and a numeric
pattern, an SQS target with an InputTransformer, PutEvents (a match, a miss, a malformed
entry), TestEventPattern, the List/Describe calls, tags and an unknown bus. The same steps and
check names are in cli_events_scenario.py and js/events_scenario.cjs.

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import json
import uuid

import boto3
import botocore

import checks
from checks import ACCOUNT, INPUT_PATHS, INPUT_TEMPLATE, REGION, TRANSFORMED, check, eq, step

PATTERN = json.dumps(checks.EVENT_PATTERN)


def main():
    events = boto3.client("events")
    sqs = boto3.client("sqs")
    print(f"boto3 {boto3.__version__}, botocore {botocore.__version__}")
    prefix = f"ev{uuid.uuid4().hex[:8]}"
    bus, rule = f"{prefix}-bus", f"{prefix}-big-orders"

    r = step("create bus", lambda: events.create_event_bus(Name=bus))
    if not r:
        return
    eq("create bus: EventBusArn", r.get("EventBusArn"), f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}")
    url = sqs.create_queue(QueueName=f"{prefix}-orders")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    r = step("put rule", lambda: events.put_rule(Name=rule, EventBusName=bus, EventPattern=PATTERN))
    rule_arn = (r or {}).get("RuleArn")
    eq("put rule: RuleArn", rule_arn, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}")
    transformer = {"InputPathsMap": INPUT_PATHS, "InputTemplate": INPUT_TEMPLATE}
    r = step("put targets", lambda: events.put_targets(Rule=rule, EventBusName=bus, Targets=[{"Id": "orders", "Arn": queue_arn, "InputTransformer": transformer}]))
    eq("put targets: FailedEntryCount", (r or {}).get("FailedEntryCount"), 0)

    def entry(amount, detail=None):
        return {"EventBusName": bus, "Source": "shop.orders", "DetailType": "Order placed", "Detail": detail or json.dumps({"amount": amount})}

    r = step("put events", lambda: events.put_events(Entries=[entry(150), entry(50), entry(0, "not json")]))
    if r:
        eq("put events: FailedEntryCount", r.get("FailedEntryCount"), 1)
        got = r.get("Entries", [])
        check("put events: EventIds of the accepted", len(got) == 3 and all(e.get("EventId") for e in got[:2]), repr(got))
        if len(got) == 3:
            eq("put events: malformed entry", {k: got[2].get(k) for k in ("ErrorCode", "ErrorMessage")}, {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})

    received = (step("receive transformed", lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=5)) or {}).get("Messages", [])
    eq("receive transformed: bodies", [m.get("Body") for m in received], [TRANSFORMED])
    for m in received:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    later = (step("nothing else delivered", lambda: sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)) or {}).get("Messages", [])
    eq("nothing else delivered", [m.get("Body") for m in later], [])

    def test_pattern(amount, source):
        event = {"id": "1", "account": ACCOUNT, "source": source, "time": "2024-01-01T00:00:00Z", "region": REGION, "resources": [], "detail-type": "Order placed", "detail": {"amount": amount}}
        return events.test_event_pattern(EventPattern=PATTERN, Event=json.dumps(event))["Result"]

    eq("test event pattern: match", step("test event pattern: match", lambda: test_pattern(101, "shop.web")), True)
    eq("test event pattern: below the range", step("test event pattern: below the range", lambda: test_pattern(100, "shop.web")), False)
    eq("test event pattern: other prefix", step("test event pattern: other prefix", lambda: test_pattern(500, "warehouse")), False)

    r = step("list rules", lambda: events.list_rules(EventBusName=bus))
    eq("list rules: names", [x.get("Name") for x in (r or {}).get("Rules", [])], [rule])
    r = step("describe rule", lambda: events.describe_rule(Name=rule, EventBusName=bus))
    if r:
        eq("describe rule: Arn", r.get("Arn"), rule_arn)
        eq("describe rule: State", r.get("State"), "ENABLED")
        eq("describe rule: EventBusName", r.get("EventBusName"), bus)
        eq("describe rule: CreatedBy", r.get("CreatedBy"), ACCOUNT)
        eq("describe rule: EventPattern", json.loads(r.get("EventPattern", "null")), checks.EVENT_PATTERN)
    r = step("list targets by rule", lambda: events.list_targets_by_rule(Rule=rule, EventBusName=bus))
    eq("list targets by rule", (r or {}).get("Targets"), [{"Id": "orders", "Arn": queue_arn, "InputTransformer": transformer}])

    step("tag rule", lambda: events.tag_resource(ResourceARN=rule_arn, Tags=[{"Key": "team", "Value": "shop"}, {"Key": "env", "Value": "dev"}]))
    step("untag rule", lambda: events.untag_resource(ResourceARN=rule_arn, TagKeys=["env"]))
    r = step("list tags", lambda: events.list_tags_for_resource(ResourceARN=rule_arn))
    eq("list tags", (r or {}).get("Tags"), [{"Key": "team", "Value": "shop"}])

    try:
        events.describe_event_bus(Name=f"{prefix}-missing")
        check("unknown bus: ResourceNotFoundException", False, "no error")
    except events.exceptions.ResourceNotFoundException as e:
        eq("unknown bus: ResourceNotFoundException", e.response["Error"].get("Message"), f"Event bus {prefix}-missing does not exist.")
    except Exception as e:  # noqa: BLE001
        check("unknown bus: ResourceNotFoundException", False, f"{type(e).__name__}: {e}")

    try:
        events.put_rule(Name=rule, EventBusName=f"{prefix}-missing", EventPattern=PATTERN)
        check("put rule on an unknown bus: ResourceNotFoundException", False, "no error")
    except events.exceptions.ResourceNotFoundException as e:
        eq("put rule on an unknown bus: ResourceNotFoundException", e.response["Error"].get("Message"), f"Event bus {prefix}-missing does not exist.")
    except Exception as e:  # noqa: BLE001
        check("put rule on an unknown bus: ResourceNotFoundException", False, f"{type(e).__name__}: {e}")

    step("remove targets", lambda: events.remove_targets(Rule=rule, EventBusName=bus, Ids=["orders"]))
    step("delete rule", lambda: events.delete_rule(Name=rule, EventBusName=bus))
    step("delete bus", lambda: events.delete_event_bus(Name=bus))
    sqs.delete_queue(QueueUrl=url)


if __name__ == "__main__":
    checks.run(main)
