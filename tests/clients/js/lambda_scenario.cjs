// The Lambda scenario through @aws-sdk/client-lambda (v3): the steps and check names of
// ../lambda_scenario.py, with the zip built here. Configured from the environment only.
// Prints one line per check, ends with "N passed, M failed", exits 1 on any failure.
"use strict";

const crypto = require("node:crypto");
const L = require("@aws-sdk/client-lambda");
const S = require("@aws-sdk/client-sqs");
const c = require("./checks.cjs");
const { ACCOUNT, REGION, check, eq, step, waitFor } = c;

const ROLE = `arn:aws:iam::${ACCOUNT}:role/lambda-role`;
const json = (bytes) => JSON.parse(Buffer.from(bytes).toString("utf8"));

async function main() {
  const lambda = new L.LambdaClient({});
  const sqs = new S.SQSClient({});
  console.log(`@aws-sdk/client-lambda ${require("@aws-sdk/client-lambda/package.json").version}, node ${process.version}`);
  const lam = (Command, input) => lambda.send(new Command(input));
  const q = (Command, input) => sqs.send(new Command(input));
  const name = `lamjs${crypto.randomBytes(4).toString("hex")}`;
  const arn = `arn:aws:lambda:${REGION}:${ACCOUNT}:function:${name}`;

  let r = await step("create function", () => lam(L.CreateFunctionCommand, {
    FunctionName: name, Runtime: "nodejs20.x", Role: ROLE, Handler: "index.handler",
    Code: { ZipFile: c.zip({ "index.js": c.HANDLER_JS }) }, Timeout: 10,
  }));
  if (!r) return;
  eq("create function: FunctionArn", r.FunctionArn, arn);
  eq("create function: Runtime", r.Runtime, "nodejs20.x");
  const state = await waitFor(async () =>
    (await lam(L.GetFunctionCommand, { FunctionName: name })).Configuration.State === "Active" && "Active");
  eq("function becomes Active", state, "Active");

  r = await step("get function", () => lam(L.GetFunctionCommand, { FunctionName: name }));
  if (r) {
    eq("get function: Handler", r.Configuration.Handler, "index.handler");
    eq("get function: Role", r.Configuration.Role, ROLE);
    check("get function: Code.Location", Boolean(r.Code && r.Code.Location), c.show(r.Code));
  }
  r = await step("list functions", () => lam(L.ListFunctionsCommand, {}));
  check("list functions: includes it", ((r && r.Functions) || []).some((f) => f.FunctionName === name), c.show(r && r.Functions));

  const payload = (v) => Buffer.from(JSON.stringify(v));
  r = await step("invoke", () => lam(L.InvokeCommand, { FunctionName: name, Payload: payload({ order: 7 }), LogType: "Tail" }));
  if (r) {
    eq("invoke: StatusCode", r.StatusCode, 200);
    eq("invoke: no FunctionError", r.FunctionError, undefined);
    eq("invoke: ExecutedVersion", r.ExecutedVersion, "$LATEST");
    eq("invoke: Payload", json(r.Payload), { echo: { order: 7 }, fn: name });
    const log = Buffer.from(r.LogResult || "", "base64").toString("utf8");
    check("invoke: LogResult tail", c.logTailPattern(name).test(log), c.show(log));
  }

  r = await step("invoke handler error", () => lam(L.InvokeCommand, { FunctionName: name, Payload: payload({ fail: "7" }) }));
  if (r) {
    eq("invoke handler error: StatusCode", r.StatusCode, 200);
    eq("invoke handler error: FunctionError", r.FunctionError, "Unhandled");
    const err = json(r.Payload);
    eq("invoke handler error: errorType/errorMessage", [err.errorType, err.errorMessage], ["TypeError", "bad order 7"]);
  }

  r = await step("invoke Event", () => lam(L.InvokeCommand, { FunctionName: name, InvocationType: "Event", Payload: payload({ order: 8 }) }));
  if (r) {
    eq("invoke Event: StatusCode", r.StatusCode, 202);
    eq("invoke Event: empty Payload", Buffer.from(r.Payload || []).length, 0);
  }

  const url = (await q(S.CreateQueueCommand, { QueueName: `${name}-jobs` })).QueueUrl;
  const queueArn = (await q(S.GetQueueAttributesCommand, { QueueUrl: url, AttributeNames: ["QueueArn"] })).Attributes.QueueArn;
  r = await step("create event source mapping", () =>
    lam(L.CreateEventSourceMappingCommand, { EventSourceArn: queueArn, FunctionName: name, BatchSize: 1 }));
  const uuid = r && r.UUID;
  if (r) {
    eq("create event source mapping: FunctionArn", r.FunctionArn, arn);
    eq("create event source mapping: State", r.State, "Creating");
  }
  await q(S.SendMessageCommand, { QueueUrl: url, MessageBody: "job 1" });
  const consumed = await waitFor(async () => {
    const found = (await c.invocations(name)).filter((i) => i.source === "aws:sqs");
    return found.length ? found : null;
  });
  eq("mapping invokes with the message", (consumed || []).map((i) => [i.outcome, i.batch_size]), [["success", 1]]);
  const counts = { QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] };
  const left = await waitFor(async () => {
    const a = (await q(S.GetQueueAttributesCommand, counts)).Attributes;
    return a.ApproximateNumberOfMessages === "0" && a.ApproximateNumberOfMessagesNotVisible === "0";
  });
  check("mapping deletes the consumed message", left);

  if (uuid) {
    r = await step("disable mapping", () => lam(L.UpdateEventSourceMappingCommand, { UUID: uuid, Enabled: false }));
    eq("disable mapping: State", r && r.State, "Disabling");
    const disabled = await waitFor(async () =>
      (await lam(L.GetEventSourceMappingCommand, { UUID: uuid })).State === "Disabled" && "Disabled");
    eq("mapping becomes Disabled", disabled, "Disabled");
    await step("delete mapping", () => lam(L.DeleteEventSourceMappingCommand, { UUID: uuid }));
  }

  await step("delete function", () => lam(L.DeleteFunctionCommand, { FunctionName: name }));
  eq("unknown function: ResourceNotFoundException", await c.errorOf(() => lam(L.GetFunctionCommand, { FunctionName: name })),
    ["ResourceNotFoundException", `Function not found: ${arn}`]);
  await q(S.DeleteQueueCommand, { QueueUrl: url });
}

c.run(main);
