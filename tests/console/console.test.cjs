// The console end to end in a real headless chromium (Debian's package, driven by
// playwright-core): create a queue, send, peek (and check through the API that the peek changed
// nothing), purge, publish to a topic with a filtered subscription and see the delivery, use the
// filter tester; EventBridge: a rule with an SQS target, disable/enable it, the pattern tester
// (match, no match with the failing key, AWS's error), put an event from the form and peek it in
// the target queue; Lambda (the function of template.yaml, --init): its page, an invocation
// from the form with its log tail, the recent-invocations list, a mapping disabled and enabled.
// Screenshots go to SCREENSHOTS. Usage: node console.test.cjs <endpoint>.
"use strict";
const { chromium } = require("playwright-core");
const fs = require("fs");
const path = require("path");

const endpoint = process.argv[2];
const shots = process.env.SCREENSHOTS || "/tmp/lyrebird-console-screenshots";
const chromiumPath = process.env.CHROMIUM || "/usr/bin/chromium";
const budgetMs = Number(process.env.LYREBIRD_CONSOLE_BUDGET_MS || 200);
fs.mkdirSync(shots, { recursive: true });

let failed = 0;
function check(what, ok, detail = "") {
  console.log(`${ok ? "ok  " : "FAIL"} ${what}${detail ? ": " + detail : ""}`);
  if (!ok) failed++;
}

// The AWS API directly (AWS JSON), as a test would, to compare with what the console showed.
async function awsJson(version, target, service, body) {
  const r = await fetch(endpoint + "/", {
    method: "POST",
    headers: {
      "content-type": `application/x-amz-json-${version}`,
      "x-amz-target": target,
      authorization: `AWS4-HMAC-SHA256 Credential=000000000000/20260101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body: JSON.stringify(body),
  });
  return r.json();
}
const sqs = (op, body) => awsJson("1.0", "AmazonSQS." + op, "sqs", body);
const events = (op, body) => awsJson("1.1", "AWSEvents." + op, "events", body);

(async () => {
  const browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-default-apps"],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  page.on("pageerror", e => check("no script error", false, e.message));
  // Nothing but lyrebird may be asked for: the console works offline.
  const foreign = [];
  page.on("request", r => { if (!r.url().startsWith(endpoint)) foreign.push(r.url()); });
  page.setDefaultTimeout(10000);

  // Interactive time: navigation start to the first page rendered with its data (app.js sets
  // window.lyrebirdReady), best of three loads (the first pays for chromium's start-up).
  const times = [];
  for (let i = 0; i < 3; i++) {
    if (i === 0) await page.goto(endpoint + "/_lyrebird/console/#/queues");
    else await page.reload();
    await page.waitForFunction(() => window.lyrebirdReady);
    times.push(await page.evaluate(() => window.lyrebirdReady));
  }
  const best = Math.min(...times);
  check(`interactive within ${budgetMs} ms`, best <= budgetMs, `${times.map(t => t.toFixed(0)).join(", ")} ms`);

  // Create a queue by keyboard: type the name and press Enter.
  await page.focus("#create input[name=name]");
  await page.keyboard.type("orders");
  await page.keyboard.press("Enter");
  await page.waitForSelector('tr[data-queue="orders"]');
  check("queue created", true);

  // Send a message from the queue's page, and see it peeked.
  await page.click('a[href="#/queue/orders"]');
  await page.fill("#send textarea[name=body]", '{"order": 42, "items": ["tea"]}');
  await page.fill("#send textarea[name=attrs]", "source=console");
  await page.click("#send button");
  await page.waitForSelector("#messages tr[data-id]");
  const shown = await page.textContent("#messages");
  check("message peeked", shown.includes('"order": 42') && shown.includes("source=console"), shown.slice(0, 80));
  await page.screenshot({ path: path.join(shots, "queue.png"), fullPage: true });

  // Peeking (the page polls every 2 s) changed nothing: the API sees it visible, and its first
  // receive is its first (VisibilityTimeout 0 leaves it visible).
  await page.waitForTimeout(2500);
  const { QueueUrl: url } = await sqs("GetQueueUrl", { QueueName: "orders" });
  const { Attributes: a } = await sqs("GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] });
  check("still visible after peeks", a.ApproximateNumberOfMessages === "1" && a.ApproximateNumberOfMessagesNotVisible === "0", JSON.stringify(a).slice(0, 120));
  const got = await sqs("ReceiveMessage", { QueueUrl: url, VisibilityTimeout: 0, MessageSystemAttributeNames: ["All"] });
  check("receive count was 0", got.Messages?.[0]?.Attributes?.ApproximateReceiveCount === "1", JSON.stringify(got).slice(0, 200));

  // Purge, confirming the dialog.
  page.once("dialog", d => d.accept());
  await page.click("#purge");
  await page.waitForFunction(() => !document.querySelector("#messages tr[data-id]"));
  const after = await sqs("GetQueueAttributes", { QueueUrl: url, AttributeNames: ["ApproximateNumberOfMessages"] });
  check("purged", after.Attributes.ApproximateNumberOfMessages === "0");

  // A topic with a filtered SQS subscription: only the red message is delivered.
  await page.goto(endpoint + "/_lyrebird/console/#/topics");
  await page.fill("#create input[name=name]", "events");
  await page.click("#create button");
  await page.click('a[href*="events"]');
  await page.selectOption("#subscribe select[name=protocol]", "sqs");
  await page.fill("#subscribe input[name=endpoint]", "arn:aws:sqs:us-east-1:000000000000:orders");
  await page.fill("#subscribe textarea[name=policy]", '{"color": ["red"]}');
  await page.click("#subscribe button");
  await page.waitForSelector("text=confirmed");
  for (const color of ["blue", "red"]) {
    await page.fill("#publish textarea[name=message]", `a ${color} one`);
    await page.fill("#publish textarea[name=attrs]", `color=${color}`);
    await page.click("#publish button");
    await page.waitForSelector("#published:has-text('Published')");
    await page.evaluate(() => { document.querySelector("#published").textContent = ""; });
  }
  await page.screenshot({ path: path.join(shots, "topic.png"), fullPage: true });
  await page.goto(endpoint + "/_lyrebird/console/#/queue/orders");
  await page.check("#unwrap");
  await page.waitForSelector("#messages tr[data-id]");
  await page.waitForTimeout(300);
  const delivered = await page.textContent("#messages");
  check("filtered delivery seen, envelope unwrapped", delivered.includes("a red one") && !delivered.includes("a blue one") && !delivered.includes('"Type"'), delivered.slice(0, 120));

  // A dead-letter queue links to its source and moves its messages back, with progress.
  const { QueueUrl: dlq } = await sqs("CreateQueue", { QueueName: "orders-dlq" });
  const redrive = JSON.stringify({ deadLetterTargetArn: "arn:aws:sqs:us-east-1:000000000000:orders-dlq", maxReceiveCount: "1" });
  await sqs("SetQueueAttributes", { QueueUrl: url, Attributes: { RedrivePolicy: redrive } });
  await sqs("SendMessage", { QueueUrl: url, MessageBody: "dead letter" });
  // Received once (and released at once); the next receive moves them to the dead-letter queue.
  await sqs("ReceiveMessage", { QueueUrl: url, VisibilityTimeout: 0, MaxNumberOfMessages: 10 });
  await sqs("ReceiveMessage", { QueueUrl: url, VisibilityTimeout: 0, MaxNumberOfMessages: 10 });
  await page.goto(endpoint + "/_lyrebird/console/#/queue/orders-dlq");
  await page.waitForSelector('a[href="#/queue/orders"]');
  await page.click("#move");
  await page.waitForSelector("#tasks:has-text('COMPLETED')");
  const moved = await sqs("GetQueueAttributes", { QueueUrl: dlq, AttributeNames: ["ApproximateNumberOfMessages"] });
  check("move task ran and was watched", moved.Attributes.ApproximateNumberOfMessages === "0", await page.textContent("#tasks"));

  // The filter tester says why not.
  await page.goto(endpoint + "/_lyrebird/console/#/filter");
  await page.fill("#test textarea[name=policy]", '{"color": ["red"], "size": [{"numeric": [">", 10]}]}');
  await page.fill("#test textarea[name=attrs]", "color=red\nsize=3");
  await page.click("#test button");
  await page.waitForSelector("#verdict:has-text('match')");
  const verdict = await page.textContent("#verdict");
  check("filter tester explains", verdict.includes("No match") && verdict.includes('"size"'), verdict);
  await page.screenshot({ path: path.join(shots, "filter.png"), fullPage: true });

  // EventBridge: a rule with an SQS target (made through the API, as a test would).
  await sqs("CreateQueue", { QueueName: "shop-orders" });
  await events("PutRule", { Name: "big-orders", EventPattern: JSON.stringify({ source: ["shop"], "detail-type": ["OrderPlaced"] }), Description: "orders worth a look" });
  await events("PutTargets", { Rule: "big-orders", Targets: [{ Id: "queue", Arn: "arn:aws:sqs:us-east-1:000000000000:shop-orders", InputPath: "$.detail",
    RetryPolicy: { MaximumRetryAttempts: 3, MaximumEventAgeInSeconds: 600 } }] });
  await events("CreateArchive", { ArchiveName: "all-shop", EventSourceArn: "arn:aws:events:us-east-1:000000000000:event-bus/default",
    EventPattern: JSON.stringify({ source: ["shop"] }), RetentionDays: 7 });
  await page.goto(endpoint + "/_lyrebird/console/#/buses");
  await page.waitForSelector('tr[data-bus="default"]');
  const buses = await page.textContent("main");
  check("buses and archives listed", buses.includes("all-shop") && buses.includes("ENABLED"), buses.replace(/\s+/g, " ").slice(0, 200));
  await page.screenshot({ path: path.join(shots, "buses.png"), fullPage: true });
  await page.click('tr[data-bus="default"] a');
  await page.waitForSelector('tr[data-rule="big-orders"]');
  const ruleRow = await page.textContent('tr[data-rule="big-orders"]');
  check("rule listed with pattern and target", ruleRow.includes('"OrderPlaced"') && ruleRow.includes("shop-orders") && ruleRow.includes("$.detail") && ruleRow.includes("retries 3"), ruleRow.replace(/\s+/g, " ").slice(0, 160));
  // Disable, then enable again, from the page; the API agrees each time.
  await page.click('[data-toggle="big-orders"]');
  await page.waitForSelector('tr[data-rule="big-orders"] >> text=DISABLED');
  check("rule disabled", (await events("DescribeRule", { Name: "big-orders" })).State === "DISABLED");
  await page.click('[data-toggle="big-orders"]');
  await page.waitForSelector('tr[data-rule="big-orders"] >> text=ENABLED');
  check("rule enabled", (await events("DescribeRule", { Name: "big-orders" })).State === "ENABLED");

  // Put an event from the form: accepted, and the target queue's peek shows its detail.
  await page.fill("#put input[name=source]", "shop");
  await page.fill("#put input[name=type]", "OrderPlaced");
  await page.fill("#put textarea[name=detail]", '{"order": "o-7", "amount": 150}');
  await page.click("#put button");
  await page.waitForSelector("#put-result:has-text('Accepted')");
  await page.screenshot({ path: path.join(shots, "bus.png"), fullPage: true });
  await page.goto(endpoint + "/_lyrebird/console/#/queue/shop-orders");
  await page.waitForSelector("#messages tr[data-id]");
  const arrived = await page.textContent("#messages");
  check("put event arrived in the target queue", arrived.includes('"order": "o-7"') && !arrived.includes('"detail-type"'), arrived.slice(0, 120));

  // The pattern tester, from the rule: a match, a miss with the failing key, AWS's error text.
  await page.goto(endpoint + "/_lyrebird/console/#/bus/default");
  await page.click('tr[data-rule="big-orders"] [data-test]');
  await page.waitForSelector("#test textarea[name=pattern]");
  check("pattern taken from the rule", (await page.inputValue("#test textarea[name=pattern]")).includes("OrderPlaced"));
  const testEvent = type => JSON.stringify({ version: "0", id: "1", "detail-type": type, source: "shop", account: "000000000000",
    time: "2026-01-01T00:00:00Z", region: "us-east-1", resources: [], detail: {} }, null, 2);
  await page.fill("#test textarea[name=event]", testEvent("OrderPlaced"));
  await page.click("#test button");
  await page.waitForSelector("#verdict:has-text('Match')");
  await page.fill("#test textarea[name=event]", testEvent("OrderShipped"));
  await page.click("#test button");
  await page.waitForSelector("#verdict:has-text('No match')");
  const miss = await page.textContent("#verdict");
  check("pattern tester names the failing key", miss.includes('"detail-type"'), miss);
  await page.screenshot({ path: path.join(shots, "patterns.png"), fullPage: true });
  await page.fill("#test textarea[name=pattern]", '{"source": "shop"}');
  await page.click("#test button");
  await page.waitForSelector("#verdict:has-text('InvalidEventPatternException')");
  const invalid = await page.textContent("#verdict");
  check("pattern error shown verbatim", invalid.includes('Event pattern is not valid. Reason: "source" must be an object or an array'), invalid);

  // Lambda: the template's function, its configuration and environment, an invocation from the
  // form (status, payload, log tail), then the recent list.
  await page.goto(endpoint + "/_lyrebird/console/#/functions");
  await page.waitForSelector('tr[data-function="greeter"]');
  const fnRow = await page.textContent('tr[data-function="greeter"]');
  check("function listed", fnRow.includes("nodejs20.x") && fnRow.includes("index.handler") && /\d{4}-\d\d-\d\dT/.test(fnRow), fnRow.replace(/\s+/g, " "));
  await page.click('tr[data-function="greeter"] a');
  await page.waitForSelector("#invoke");
  const fnPage = await page.textContent("main");
  check("environment shown", fnPage.includes("GREETING") && fnPage.includes("Hello"));
  await page.fill("#invoke textarea[name=payload]", '{"name": "console"}');
  await page.click("#invoke button");
  await page.waitForSelector("#response");
  const response = await page.textContent("#result");
  check("invoked from the form", response.includes("Status 200") && response.includes("Hello, console!") && response.includes("REPORT RequestId"), response.replace(/\s+/g, " ").slice(0, 200));
  await page.fill("#invoke textarea[name=payload]", '{"fail": true}');
  await page.click("#invoke button");
  await page.waitForSelector("#result:has-text('X-Amz-Function-Error')");
  const errored = await page.textContent("#result");
  check("function error shown", errored.includes("Unhandled") && errored.includes("asked to fail"), errored.replace(/\s+/g, " ").slice(0, 200));
  await page.waitForSelector("#invocations tr[data-request] >> nth=1");
  const recent = await page.textContent("#invocations");
  check("invocations listed", recent.includes("success") && recent.includes("error") && recent.includes("asked to fail"), recent.replace(/\s+/g, " ").slice(0, 200));
  await page.screenshot({ path: path.join(shots, "function.png"), fullPage: true });
  // The mapping from the template: disabled, then enabled, through UpdateEventSourceMapping.
  await page.click("tr[data-mapping] button");
  await page.waitForSelector("tr[data-mapping] >> text=Disabled");
  await page.click("tr[data-mapping] button");
  await page.waitForSelector("tr[data-mapping] >> text=Enabled");
  check("mapping disabled and enabled", true);

  // The queue list in dark mode, for the README.
  await page.emulateMedia({ colorScheme: "dark" });
  await page.goto(endpoint + "/_lyrebird/console/#/queues");
  await page.waitForSelector('tr[data-queue="orders"]');
  await page.screenshot({ path: path.join(shots, "queues-dark.png") });
  await page.emulateMedia({ colorScheme: "light" });
  await page.goto(endpoint + "/_lyrebird/console/#/health");
  await page.waitForSelector("text=Data directory");
  await page.screenshot({ path: path.join(shots, "health.png") });

  check("no request left localhost", foreign.length === 0, foreign.join(" "));
  await browser.close();
  console.log(`console: ${failed ? failed + " failed" : "all passed"}; screenshots in ${shots}`);
  process.exit(failed ? 1 : 0);
})().catch(e => { console.error(e); process.exit(1); });
