// The EventBridge scenario through @aws-sdk/client-eventbridge (v3): the steps and check names
// of ../events_scenario.py. Configured from the environment only (AWS_ENDPOINT_URL, ...).
// Prints one line per check, ends with "N passed, M failed", exits 1 on any failure.
"use strict";

const crypto = require("node:crypto");
const E = require("@aws-sdk/client-eventbridge");
const S = require("@aws-sdk/client-sqs");
const c = require("./checks.cjs");
const { ACCOUNT, REGION, check, eq, step } = c;

const PATTERN = JSON.stringify(c.EVENT_PATTERN);

async function main() {
  const events = new E.EventBridgeClient({});
  const sqs = new S.SQSClient({});
  console.log(`@aws-sdk/client-eventbridge ${require("@aws-sdk/client-eventbridge/package.json").version}, node ${process.version}`);
  const ev = (Command, input) => events.send(new Command(input));
  const q = (Command, input) => sqs.send(new Command(input));
  const prefix = `evjs${crypto.randomBytes(4).toString("hex")}`;
  const bus = `${prefix}-bus`;
  const rule = `${prefix}-big-orders`;

  let r = await step("create bus", () => ev(E.CreateEventBusCommand, { Name: bus }));
  if (!r) return;
  eq("create bus: EventBusArn", r.EventBusArn, `arn:aws:events:${REGION}:${ACCOUNT}:event-bus/${bus}`);
  const url = (await q(S.CreateQueueCommand, { QueueName: `${prefix}-orders` })).QueueUrl;
  const queueArn = (await q(S.GetQueueAttributesCommand, { QueueUrl: url, AttributeNames: ["QueueArn"] })).Attributes.QueueArn;

  r = await step("put rule", () => ev(E.PutRuleCommand, { Name: rule, EventBusName: bus, EventPattern: PATTERN }));
  const ruleArn = r && r.RuleArn;
  eq("put rule: RuleArn", ruleArn, `arn:aws:events:${REGION}:${ACCOUNT}:rule/${bus}/${rule}`);
  const transformer = { InputPathsMap: c.INPUT_PATHS, InputTemplate: c.INPUT_TEMPLATE };
  r = await step("put targets", () =>
    ev(E.PutTargetsCommand, { Rule: rule, EventBusName: bus, Targets: [{ Id: "orders", Arn: queueArn, InputTransformer: transformer }] }));
  eq("put targets: FailedEntryCount", r && r.FailedEntryCount, 0);

  const entry = (amount, detail) => ({
    EventBusName: bus, Source: "shop.orders", DetailType: "Order placed", Detail: detail || JSON.stringify({ amount }),
  });
  r = await step("put events", () => ev(E.PutEventsCommand, { Entries: [entry(150), entry(50), entry(0, "not json")] }));
  if (r) {
    eq("put events: FailedEntryCount", r.FailedEntryCount, 1);
    const got = r.Entries || [];
    check("put events: EventIds of the accepted", got.length === 3 && got.slice(0, 2).every((e) => e.EventId), c.show(got));
    if (got.length === 3) {
      eq("put events: malformed entry", { ErrorCode: got[2].ErrorCode, ErrorMessage: got[2].ErrorMessage },
        { ErrorCode: "MalformedDetail", ErrorMessage: "Detail is malformed." });
    }
  }

  const receive = (wait) => q(S.ReceiveMessageCommand, { QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: wait });
  const received = ((await step("receive transformed", () => receive(5))) || {}).Messages || [];
  eq("receive transformed: bodies", received.map((m) => m.Body), [c.TRANSFORMED]);
  for (const m of received) await q(S.DeleteMessageCommand, { QueueUrl: url, ReceiptHandle: m.ReceiptHandle });
  const later = ((await step("nothing else delivered", () => receive(1))) || {}).Messages || [];
  eq("nothing else delivered", later.map((m) => m.Body), []);

  const testPattern = async (amount, source) => {
    const event = {
      id: "1", account: ACCOUNT, source, time: "2024-01-01T00:00:00Z", region: REGION, resources: [],
      "detail-type": "Order placed", detail: { amount },
    };
    return (await ev(E.TestEventPatternCommand, { EventPattern: PATTERN, Event: JSON.stringify(event) })).Result;
  };
  eq("test event pattern: match", await step("test event pattern: match", () => testPattern(101, "shop.web")), true);
  eq("test event pattern: below the range", await step("test event pattern: below the range", () => testPattern(100, "shop.web")), false);
  eq("test event pattern: other prefix", await step("test event pattern: other prefix", () => testPattern(500, "warehouse")), false);

  r = await step("list rules", () => ev(E.ListRulesCommand, { EventBusName: bus }));
  eq("list rules: names", ((r && r.Rules) || []).map((x) => x.Name), [rule]);
  r = await step("describe rule", () => ev(E.DescribeRuleCommand, { Name: rule, EventBusName: bus }));
  if (r) {
    eq("describe rule: Arn", r.Arn, ruleArn);
    eq("describe rule: State", r.State, "ENABLED");
    eq("describe rule: EventBusName", r.EventBusName, bus);
    eq("describe rule: CreatedBy", r.CreatedBy, ACCOUNT);
    eq("describe rule: EventPattern", JSON.parse(r.EventPattern || "null"), c.EVENT_PATTERN);
  }
  r = await step("list targets by rule", () => ev(E.ListTargetsByRuleCommand, { Rule: rule, EventBusName: bus }));
  eq("list targets by rule", r && r.Targets, [{ Id: "orders", Arn: queueArn, InputTransformer: transformer }]);

  await step("tag rule", () =>
    ev(E.TagResourceCommand, { ResourceARN: ruleArn, Tags: [{ Key: "team", Value: "shop" }, { Key: "env", Value: "dev" }] }));
  await step("untag rule", () => ev(E.UntagResourceCommand, { ResourceARN: ruleArn, TagKeys: ["env"] }));
  r = await step("list tags", () => ev(E.ListTagsForResourceCommand, { ResourceARN: ruleArn }));
  eq("list tags", r && r.Tags, [{ Key: "team", Value: "shop" }]);

  eq("unknown bus: ResourceNotFoundException",
    await c.errorOf(() => ev(E.DescribeEventBusCommand, { Name: `${prefix}-missing` })),
    ["ResourceNotFoundException", `Event bus ${prefix}-missing does not exist.`]);

  eq("put rule on an unknown bus: ResourceNotFoundException",
    await c.errorOf(() => ev(E.PutRuleCommand, { Name: rule, EventBusName: `${prefix}-missing`, EventPattern: PATTERN })),
    ["ResourceNotFoundException", `Event bus ${prefix}-missing does not exist.`]);

  await step("remove targets", () => ev(E.RemoveTargetsCommand, { Rule: rule, EventBusName: bus, Ids: ["orders"] }));
  await step("delete rule", () => ev(E.DeleteRuleCommand, { Name: rule, EventBusName: bus }));
  await step("delete bus", () => ev(E.DeleteEventBusCommand, { Name: bus }));
  await q(S.DeleteQueueCommand, { QueueUrl: url });
}

c.run(main);
