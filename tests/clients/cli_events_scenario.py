#!/usr/bin/env python3
"""The EventBridge scenario through the AWS CLI (`aws events ...`): the steps and check names
of events_scenario.py, typed as a user types them.

Prints one line per check and ends with "N passed, M failed"; exits 1 on any failure.
"""

import json
import uuid

import checks
from checks import ACCOUNT, INPUT_PATHS, INPUT_TEMPLATE, REGION, TRANSFORMED, check, eq, step
from cli_scenario import aws, aws_error

PATTERN = json.dumps(checks.EVENT_PATTERN)


def main():
    prefix = f"evcli{uuid.uuid4().hex[:8]}"
    bus, rule = f"{prefix}-bus", f"{prefix}-big-orders"

    r = step("create bus", lambda: aws("events", "create-event-bus", "--name", bus))
    if not r:
        return
    eq("create bus: EventBusArn", r.get("EventBusArn"), f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/{bus}")
    url = aws("sqs", "create-queue", "--queue-name", f"{prefix}-orders")["QueueUrl"]
    queue_arn = aws("sqs", "get-queue-attributes", "--queue-url", url, "--attribute-names", "QueueArn")["Attributes"]["QueueArn"]

    r = step("put rule", lambda: aws("events", "put-rule", "--name", rule, "--event-bus-name", bus, "--event-pattern", PATTERN))
    rule_arn = (r or {}).get("RuleArn")
    eq("put rule: RuleArn", rule_arn, f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{bus}/{rule}")
    transformer = {"InputPathsMap": INPUT_PATHS, "InputTemplate": INPUT_TEMPLATE}
    targets = json.dumps([{"Id": "orders", "Arn": queue_arn, "InputTransformer": transformer}])
    r = step("put targets", lambda: aws("events", "put-targets", "--rule", rule, "--event-bus-name", bus, "--targets", targets))
    eq("put targets: FailedEntryCount", (r or {}).get("FailedEntryCount"), 0)

    def entry(amount, detail=None):
        return {"EventBusName": bus, "Source": "shop.orders", "DetailType": "Order placed", "Detail": detail or json.dumps({"amount": amount})}

    r = step("put events", lambda: aws("events", "put-events", "--entries", json.dumps([entry(150), entry(50), entry(0, "not json")])))
    if r:
        eq("put events: FailedEntryCount", r.get("FailedEntryCount"), 1)
        got = r.get("Entries", [])
        check("put events: EventIds of the accepted", len(got) == 3 and all(e.get("EventId") for e in got[:2]), repr(got))
        if len(got) == 3:
            eq("put events: malformed entry", {k: got[2].get(k) for k in ("ErrorCode", "ErrorMessage")}, {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."})

    receive = ("sqs", "receive-message", "--queue-url", url, "--max-number-of-messages", "10")
    received = (step("receive transformed", lambda: aws(*receive, "--wait-time-seconds", "5")) or {}).get("Messages", [])
    eq("receive transformed: bodies", [m.get("Body") for m in received], [TRANSFORMED])
    for m in received:
        aws("sqs", "delete-message", "--queue-url", url, "--receipt-handle", m["ReceiptHandle"])
    later = (step("nothing else delivered", lambda: aws(*receive, "--wait-time-seconds", "1")) or {}).get("Messages", [])
    eq("nothing else delivered", [m.get("Body") for m in later], [])

    def test_pattern(amount, source):
        event = {"id": "1", "account": ACCOUNT, "source": source, "time": "2024-01-01T00:00:00Z", "region": REGION, "resources": [], "detail-type": "Order placed", "detail": {"amount": amount}}
        return aws("events", "test-event-pattern", "--event-pattern", PATTERN, "--event", json.dumps(event))["Result"]

    eq("test event pattern: match", step("test event pattern: match", lambda: test_pattern(101, "shop.web")), True)
    eq("test event pattern: below the range", step("test event pattern: below the range", lambda: test_pattern(100, "shop.web")), False)
    eq("test event pattern: other prefix", step("test event pattern: other prefix", lambda: test_pattern(500, "warehouse")), False)

    r = step("list rules", lambda: aws("events", "list-rules", "--event-bus-name", bus))
    eq("list rules: names", [x.get("Name") for x in (r or {}).get("Rules", [])], [rule])
    r = step("describe rule", lambda: aws("events", "describe-rule", "--name", rule, "--event-bus-name", bus))
    if r:
        eq("describe rule: Arn", r.get("Arn"), rule_arn)
        eq("describe rule: State", r.get("State"), "ENABLED")
        eq("describe rule: EventBusName", r.get("EventBusName"), bus)
        eq("describe rule: CreatedBy", r.get("CreatedBy"), ACCOUNT)
        eq("describe rule: EventPattern", json.loads(r.get("EventPattern", "null")), checks.EVENT_PATTERN)
    r = step("list targets by rule", lambda: aws("events", "list-targets-by-rule", "--rule", rule, "--event-bus-name", bus))
    eq("list targets by rule", (r or {}).get("Targets"), [{"Id": "orders", "Arn": queue_arn, "InputTransformer": transformer}])

    step("tag rule", lambda: aws("events", "tag-resource", "--resource-arn", rule_arn, "--tags", "Key=team,Value=shop", "Key=env,Value=dev"))
    step("untag rule", lambda: aws("events", "untag-resource", "--resource-arn", rule_arn, "--tag-keys", "env"))
    r = step("list tags", lambda: aws("events", "list-tags-for-resource", "--resource-arn", rule_arn))
    eq("list tags", (r or {}).get("Tags"), [{"Key": "team", "Value": "shop"}])

    eq("unknown bus: ResourceNotFoundException", aws_error("events", "describe-event-bus", "--name", f"{prefix}-missing"), ("ResourceNotFoundException", f"Event bus {prefix}-missing does not exist."))

    eq("put rule on an unknown bus: ResourceNotFoundException", aws_error("events", "put-rule", "--name", rule, "--event-bus-name", f"{prefix}-missing", "--event-pattern", PATTERN), ("ResourceNotFoundException", f"Event bus {prefix}-missing does not exist."))

    step("remove targets", lambda: aws("events", "remove-targets", "--rule", rule, "--event-bus-name", bus, "--ids", "orders"))
    step("delete rule", lambda: aws("events", "delete-rule", "--name", rule, "--event-bus-name", bus))
    step("delete bus", lambda: aws("events", "delete-event-bus", "--name", bus))
    aws("sqs", "delete-queue", "--queue-url", url)


if __name__ == "__main__":
    checks.run(main)
