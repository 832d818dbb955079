// The client-matrix scenario through the AWS SDK for JavaScript v3 (@aws-sdk/client-sqs and
// @aws-sdk/client-sns). Same steps and check names as ../scenario.py.
//
// Configured as a user would: `new SQSClient({})`, everything from the environment
// (AWS_ENDPOINT_URL, credentials, AWS_REGION). The SDK's own MD5 validation of message bodies
// stays on. Prints one line per check, ends with "N passed, M failed", exits 1 on any failure.
"use strict";

const crypto = require("node:crypto");
const sqsSdk = require("@aws-sdk/client-sqs");
const snsSdk = require("@aws-sdk/client-sns");

const { ACCOUNT, ENDPOINT, REGION, check, eq, show, step, run } = require("./checks.cjs");

const md5Body = (body) => crypto.createHash("md5").update(body, "utf8").digest("hex");

/** MD5OfMessageAttributes (shared/aws-wire-reference.md section 3). */
function md5Attributes(attributes) {
  const hash = crypto.createHash("md5");
  const put = (bytes) => {
    const length = Buffer.alloc(4);
    length.writeUInt32BE(bytes.length);
    hash.update(length);
    hash.update(bytes);
  };
  const names = Object.keys(attributes).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  for (const name of names) {
    const v = attributes[name];
    put(Buffer.from(name, "utf8"));
    put(Buffer.from(v.DataType, "utf8"));
    if (v.StringValue !== undefined) {
      hash.update(Buffer.from([1]));
      put(Buffer.from(v.StringValue, "utf8"));
    } else {
      hash.update(Buffer.from([2]));
      put(Buffer.from(v.BinaryValue));
    }
  }
  return hash.digest("hex");
}

const messagesOf = (response) => (response && response.Messages) || [];

async function main() {
  const sqs = new sqsSdk.SQSClient({});
  const sns = new snsSdk.SNSClient({});
  const version = require("@aws-sdk/client-sqs/package.json").version;
  console.log(`@aws-sdk/client-sqs ${version}, node ${process.version}, endpoint ${ENDPOINT}`);
  check("SDK MD5 validation is on", sqs.config.md5 !== false, String(sqs.config.md5));
  const prefix = `js${crypto.randomBytes(4).toString("hex")}`;
  const send = (client, Command, input) => client.send(new Command(input));
  const S = sqsSdk;
  const N = snsSdk;

  // Standard queue: send with attributes, receive, change visibility, delete ------------------
  let r = await step("create queue", () =>
    send(sqs, S.CreateQueueCommand, { QueueName: `${prefix}-orders`, Attributes: { VisibilityTimeout: "30" } }));
  if (!r) return;
  const url = r.QueueUrl;
  eq("create queue: QueueUrl", url, `${ENDPOINT}/${ACCOUNT}/${prefix}-orders`);

  const attributes = {
    customer: { DataType: "String", StringValue: "alice" },
    amount: { DataType: "Number", StringValue: "42.5" },
    blob: { DataType: "Binary", BinaryValue: new Uint8Array([1, 2, 3]) },
  };
  const sent = await step("send message", () =>
    send(sqs, S.SendMessageCommand, { QueueUrl: url, MessageBody: "order 1", MessageAttributes: attributes }));
  if (sent) {
    eq("send message: MD5OfMessageBody", sent.MD5OfMessageBody, md5Body("order 1"));
    eq("send message: MD5OfMessageAttributes", sent.MD5OfMessageAttributes, md5Attributes(attributes));
  }

  const receive = { QueueUrl: url, MessageSystemAttributeNames: ["All"], MessageAttributeNames: ["All"], WaitTimeSeconds: 1 };
  let got = messagesOf(await step("receive", () => send(sqs, S.ReceiveMessageCommand, receive)));
  eq("receive: one message", got.length, 1);
  if (got.length) {
    const m = got[0];
    eq("receive: MessageId", m.MessageId, sent && sent.MessageId);
    eq("receive: Body", m.Body, "order 1");
    eq("receive: MD5OfBody", m.MD5OfBody, md5Body("order 1"));
    eq("receive: MessageAttributes", m.MessageAttributes, attributes);
    eq("receive: ApproximateReceiveCount", (m.Attributes || {}).ApproximateReceiveCount, "1");

    await step("change visibility to 0", () =>
      send(sqs, S.ChangeMessageVisibilityCommand, { QueueUrl: url, ReceiptHandle: m.ReceiptHandle, VisibilityTimeout: 0 }));
    const again = messagesOf(await step("receive again", () => send(sqs, S.ReceiveMessageCommand, receive)));
    eq("receive again: same message", again.map((x) => x.MessageId), [m.MessageId]);
    if (again.length) {
      eq("receive again: ApproximateReceiveCount", (again[0].Attributes || {}).ApproximateReceiveCount, "2");
      await step("delete message", () =>
        send(sqs, S.DeleteMessageCommand, { QueueUrl: url, ReceiptHandle: again[0].ReceiptHandle }));
    }
  }
  r = await step("queue counts", () =>
    send(sqs, S.GetQueueAttributesCommand, {
      QueueUrl: url,
      AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    }));
  if (r) {
    eq("queue counts after delete", r.Attributes, { ApproximateNumberOfMessages: "0", ApproximateNumberOfMessagesNotVisible: "0" });
  }

  // FIFO queue: order within a group, content-based deduplication -----------------------------
  r = await step("create FIFO queue", () =>
    send(sqs, S.CreateQueueCommand, {
      QueueName: `${prefix}-orders.fifo`,
      Attributes: { FifoQueue: "true", ContentBasedDeduplication: "true" },
    }));
  if (r) {
    const fifo = r.QueueUrl;
    for (const body of ["f1", "f2", "f3", "f1"]) {
      const s = await step(`send FIFO ${body}`, () =>
        send(sqs, S.SendMessageCommand, { QueueUrl: fifo, MessageBody: body, MessageGroupId: "g1" }));
      if (s) check(`send FIFO ${body}: SequenceNumber`, Boolean(s.SequenceNumber), show(s));
    }
    got = messagesOf(await step("receive FIFO", () =>
      send(sqs, S.ReceiveMessageCommand, {
        QueueUrl: fifo, MaxNumberOfMessages: 10, MessageSystemAttributeNames: ["All"], WaitTimeSeconds: 1,
      })));
    eq("receive FIFO: bodies in order, duplicate dropped", got.map((m) => m.Body), ["f1", "f2", "f3"]);
    eq("receive FIFO: MessageGroupId", [...new Set(got.map((m) => (m.Attributes || {}).MessageGroupId))], ["g1"]);
    if (got.length) {
      const entries = got.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }));
      r = await step("delete FIFO batch", () =>
        send(sqs, S.DeleteMessageBatchCommand, { QueueUrl: fifo, Entries: entries }));
      if (r) eq("delete FIFO batch: all deleted", (r.Successful || []).length, got.length);
    }
  }

  // Dead-letter queue after maxReceiveCount --------------------------------------------------
  const queueArn = async (queueUrl) =>
    (await send(sqs, S.GetQueueAttributesCommand, { QueueUrl: queueUrl, AttributeNames: ["QueueArn"] })).Attributes.QueueArn;
  const dlq = await step("create DLQ", () => send(sqs, S.CreateQueueCommand, { QueueName: `${prefix}-dlq` }));
  if (dlq) {
    const dlqUrl = dlq.QueueUrl;
    const dlqArn = await queueArn(dlqUrl);
    eq("DLQ ARN", dlqArn, `arn:aws:sqs:${REGION}:${ACCOUNT}:${prefix}-dlq`);
    const policy = JSON.stringify({ deadLetterTargetArn: dlqArn, maxReceiveCount: 1 });
    const work = await step("create queue with RedrivePolicy", () =>
      send(sqs, S.CreateQueueCommand, { QueueName: `${prefix}-work`, Attributes: { RedrivePolicy: policy } }));
    if (work) {
      const workUrl = work.QueueUrl;
      await step("send poison message", () => send(sqs, S.SendMessageCommand, { QueueUrl: workUrl, MessageBody: "poison" }));
      const first = messagesOf(await step("receive poison", () =>
        send(sqs, S.ReceiveMessageCommand, { QueueUrl: workUrl, WaitTimeSeconds: 1 })));
      eq("receive poison: once", first.map((m) => m.Body), ["poison"]);
      if (first.length) {
        await step("release poison", () =>
          send(sqs, S.ChangeMessageVisibilityCommand, { QueueUrl: workUrl, ReceiptHandle: first[0].ReceiptHandle, VisibilityTimeout: 0 }));
      }
      const second = messagesOf(await step("receive past maxReceiveCount", () =>
        send(sqs, S.ReceiveMessageCommand, { QueueUrl: workUrl })));
      eq("receive past maxReceiveCount: moved away", second, []);
      const moved = messagesOf(await step("receive from DLQ", () =>
        send(sqs, S.ReceiveMessageCommand, { QueueUrl: dlqUrl, MessageSystemAttributeNames: ["All"], WaitTimeSeconds: 1 })));
      eq("receive from DLQ: the poison message", moved.map((m) => m.Body), ["poison"]);
      r = await step("list dead-letter source queues", () =>
        send(sqs, S.ListDeadLetterSourceQueuesCommand, { QueueUrl: dlqUrl }));
      if (r) eq("list dead-letter source queues", r.queueUrls, [workUrl]);
    }
  }

  // SNS topic -> SQS queue through a filter policy -------------------------------------------
  r = await step("create topic", () => send(sns, N.CreateTopicCommand, { Name: `${prefix}-events` }));
  if (r) {
    const topic = r.TopicArn;
    eq("create topic: TopicArn", topic, `arn:aws:sns:${REGION}:${ACCOUNT}:${prefix}-events`);
    const inboxUrl = (await send(sqs, S.CreateQueueCommand, { QueueName: `${prefix}-inbox` })).QueueUrl;
    const filterPolicy = JSON.stringify({ event: ["order_placed"] });
    const sub = await step("subscribe queue with filter policy", async () =>
      send(sns, N.SubscribeCommand, {
        TopicArn: topic, Protocol: "sqs", Endpoint: await queueArn(inboxUrl),
        Attributes: { FilterPolicy: filterPolicy }, ReturnSubscriptionArn: true,
      }));
    if (sub) {
      check("subscribe: SubscriptionArn", sub.SubscriptionArn.startsWith(`${topic}:`), sub.SubscriptionArn);
      const a = await step("subscription attributes", () =>
        send(sns, N.GetSubscriptionAttributesCommand, { SubscriptionArn: sub.SubscriptionArn }));
      if (a) {
        eq("subscription attributes: FilterPolicy", JSON.parse(a.Attributes.FilterPolicy || "null"), { event: ["order_placed"] });
        eq("subscription attributes: PendingConfirmation", a.Attributes.PendingConfirmation, "false");
      }
    }
    const event = (name) => ({ event: { DataType: "String", StringValue: name } });
    await step("publish filtered out", () =>
      send(sns, N.PublishCommand, { TopicArn: topic, Message: "not for the inbox", MessageAttributes: event("order_cancelled") }));
    const published = await step("publish", () =>
      send(sns, N.PublishCommand, { TopicArn: topic, Subject: "new order", Message: '{"id": 1}', MessageAttributes: event("order_placed") }));
    let delivered = [];
    for (let i = 0; i < 3 && !delivered.length; i++) {
      delivered = messagesOf(await step("receive envelope", () =>
        send(sqs, S.ReceiveMessageCommand, { QueueUrl: inboxUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 })));
    }
    eq("receive envelope: only the matching message", delivered.length, 1);
    if (delivered.length) checkEnvelope(JSON.parse(delivered[0].Body), topic, published && published.MessageId);
    if (sub) await step("unsubscribe", () => send(sns, N.UnsubscribeCommand, { SubscriptionArn: sub.SubscriptionArn }));
    await step("delete topic", () => send(sns, N.DeleteTopicCommand, { TopicArn: topic }));
    r = await step("list topics", () => send(sns, N.ListTopicsCommand, {}));
    if (r) check("list topics: topic gone", !(r.Topics || []).some((t) => t.TopicArn === topic), show(r.Topics));
  }

  // Clean up ---------------------------------------------------------------------------------
  const left = async () => (await send(sqs, S.ListQueuesCommand, { QueueNamePrefix: prefix })).QueueUrls || [];
  for (const queue of await left()) {
    await step(`delete queue ${queue.split("/").pop()}`, () => send(sqs, S.DeleteQueueCommand, { QueueUrl: queue }));
  }
  eq("no queues left", await left(), []);
}

/** The notification JSON an SQS subscriber receives (not raw delivery). */
function checkEnvelope(envelope, topic, messageId) {
  eq("envelope: Type", envelope.Type, "Notification");
  eq("envelope: MessageId", envelope.MessageId, messageId);
  eq("envelope: TopicArn", envelope.TopicArn, topic);
  eq("envelope: Subject", envelope.Subject, "new order");
  eq("envelope: Message", envelope.Message, '{"id": 1}');
  check("envelope: Timestamp", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/.test(envelope.Timestamp || ""), show(envelope.Timestamp));
  eq("envelope: SignatureVersion", envelope.SignatureVersion, "1");
  check("envelope: Signature", Boolean(envelope.Signature), show(envelope));
  check("envelope: SigningCertURL", String(envelope.SigningCertURL || "").endsWith(".pem"), show(envelope.SigningCertURL));
  check("envelope: UnsubscribeURL", String(envelope.UnsubscribeURL || "").includes("Action=Unsubscribe"), show(envelope.UnsubscribeURL));
  eq("envelope: MessageAttributes", envelope.MessageAttributes, { event: { Type: "String", Value: "order_placed" } });
}

run(main);
