// lyrebird console: hash-routed pages over lyrebird's own JSON endpoints and the AWS APIs
// (SQS over AWS JSON, SNS over query + Accept: application/json, EventBridge over AWS JSON 1.1,
// Lambda over REST-JSON), on the same origin.
"use strict";
const $ = (sel, root = document) => root.querySelector(sel);
const main = $("#main");
const scope = {
  account: localStorage.getItem("lyrebird.account") || "",
  region: localStorage.getItem("lyrebird.region") || "",
};
let timer = null;
// With `--auth sigv4` the console is opened as /_lyrebird/console/?token=CONSOLE_TOKEN; the token
// goes with every call (lyrebird's own endpoints: as a bearer; AWS calls: in place of a signature).
const token = new URLSearchParams(location.search).get("token") || sessionStorage.getItem("lyrebird.token") || "";
if (token) sessionStorage.setItem("lyrebird.token", token);
const tokenHeaders = token ? { "x-lyrebird-console-token": token } : {};

function esc(s) {
  return String(s ?? "").replace(/[&<>"']/g, c => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
}
// The credential scope names the account (a 12-digit access key) and region; lyrebird does not
// check signatures.
function auth(service) {
  return `AWS4-HMAC-SHA256 Credential=${scope.account}/20260101/${scope.region}/${service}/aws4_request, SignedHeaders=host, Signature=0`;
}
// AWS JSON (SQS 1.0, EventBridge 1.1). A failure carries AWS's error code and message, shown
// verbatim.
async function awsJson(version, target, service, body) {
  const r = await fetch("/", {
    method: "POST",
    headers: { "content-type": `application/x-amz-json-${version}`, "x-amz-target": target, authorization: auth(service), ...tokenHeaders },
    body: JSON.stringify(body || {}),
  });
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) {
    const op = target.split(".").pop();
    throw Object.assign(new Error(`${op}: ${doc.message || r.status}`), { code: String(doc.__type || r.status).split("#").pop(), text: doc.message || "" });
  }
  return doc;
}
const sqs = (op, body) => awsJson("1.0", "AmazonSQS." + op, "sqs", body);
const events = (op, body) => awsJson("1.1", "AWSEvents." + op, "events", body);
async function sns(op, params) {
  const form = new URLSearchParams({ Action: op, Version: "2010-03-31", ...params });
  const r = await fetch("/", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded", accept: "application/json", authorization: auth("sns"), ...tokenHeaders },
    body: form,
  });
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${op}: ${doc.ErrorResponse?.Error?.Message || r.status}`);
  return doc[op + "Response"]?.[op + "Result"] || {};
}
// Lambda's REST API: the raw response (Invoke's headers and payload matter), or its JSON.
function lambdaFetch(method, path, body, headers = {}) {
  return fetch(path, { method, headers: { "content-type": "application/json", authorization: auth("lambda"), ...tokenHeaders, ...headers }, body });
}
async function lambda(method, path, body) {
  const r = await lambdaFetch(method, path, body === undefined ? undefined : JSON.stringify(body));
  const doc = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(`${method} ${path}: ${doc.message || doc.Message || r.status}`);
  return doc;
}
const enc = encodeURIComponent;
// An ARN, linked to its page when it is a queue or a function of the chosen account and region.
function arnLink(arn) {
  const [, , service, region, account, name] = String(arn || "").split(":");
  if (service === "sqs" && region === scope.region && account === scope.account) return `<a href="#/queue/${enc(name)}">${esc(arn)}</a>`;
  if (service === "lambda" && region === scope.region && account === scope.account) return `<a href="#/function/${enc(String(arn).split(":")[6])}">${esc(arn)}</a>`;
  return esc(arn);
}
async function api(path, body) {
  const bearer = token ? { authorization: "Bearer " + token } : {};
  const r = await fetch(path, body === undefined ? { headers: bearer } : { method: "POST", headers: { "content-type": "application/json", ...bearer }, body: JSON.stringify(body) });
  return r.json();
}
const q = o => new URLSearchParams(o).toString();
function pretty(text) {
  try { return JSON.stringify(JSON.parse(text), null, 2); } catch { return text; }
}
function age(s) {
  if (s == null) return "–";
  return s < 120 ? `${Math.round(s)} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
}
// Epoch seconds as local date and time.
function when(s) { return s ? esc(new Date(s * 1000).toLocaleString()) : "–"; }
function fail(e) { main.insertAdjacentHTML("afterbegin", `<p class="bad" role="alert">${esc(e.message || e)}</p>`); }
function attrsFrom(text) {
  // "name=value" per line → MessageAttributes (String)
  const out = {};
  for (const line of text.split("\n")) {
    const i = line.indexOf("=");
    if (i > 0) out[line.slice(0, i).trim()] = line.slice(i + 1).trim();
  }
  return out;
}

// A rule's target: where to, and what it sends (Input, InputPath or InputTransformer), its
// retry policy and dead-letter queue.
function target(t) {
  const it = t.InputTransformer;
  const input = t.Input != null ? `Input <pre>${esc(pretty(t.Input))}</pre>` : t.InputPath ? `InputPath <code>${esc(t.InputPath)}</code>`
    : it ? `InputTransformer <pre>${esc(JSON.stringify(it.InputPathsMap || {}, null, 2))}</pre><pre>${esc(it.InputTemplate)}</pre>` : "";
  const retry = t.RetryPolicy ? `<br><span class="muted">retries ${t.RetryPolicy.MaximumRetryAttempts ?? 185}, max age ${t.RetryPolicy.MaximumEventAgeInSeconds ?? 86400} s</span>` : "";
  const dlq = t.DeadLetterConfig?.Arn ? `<br>DLQ ${arnLink(t.DeadLetterConfig.Arn)}` : "";
  return `<div class="target"><b>${esc(t.Id)}</b> → ${arnLink(t.Arn)}${input ? "<br>" + input : ""}${retry}${dlq}</div>`;
}

const pages = {
  async queues() {
    main.innerHTML = `<h1>Queues</h1>
      <form id="create" class="row"><label>New queue name <input name="name" required></label><button>Create queue</button></form>
      <table><thead><tr><th>Name</th><th class="n">Available</th><th class="n">In flight</th><th class="n">Delayed</th><th class="n">Oldest</th></tr></thead><tbody id="rows"></tbody></table>`;
    $("#create").onsubmit = async e => {
      e.preventDefault();
      const name = e.target.name.value.trim();
      const attrs = name.endsWith(".fifo") ? { FifoQueue: "true" } : {};
      try { await sqs("CreateQueue", { QueueName: name, Attributes: attrs }); e.target.reset(); refresh(); } catch (err) { fail(err); }
    };
    async function refresh() {
      const { queues } = await api(`/_lyrebird/console/api/queues?${q(scope)}`);
      $("#rows").innerHTML = queues.map(x => `<tr data-queue="${esc(x.name)}"><td><a href="#/queue/${encodeURIComponent(x.name)}">${esc(x.name)}</a></td>
        <td class="n">${x.visible}</td><td class="n">${x.inFlight}</td><td class="n">${x.delayed}</td><td class="n">${age(x.oldestAgeSeconds)}</td></tr>`).join("")
        || `<tr><td colspan="5" class="muted">No queues in ${esc(scope.account)} / ${esc(scope.region)}.</td></tr>`;
    }
    await refresh();
    timer = setInterval(refresh, 2000);
  },

  async queue(name) {
    const { QueueUrl: url } = await sqs("GetQueueUrl", { QueueName: name });
    const { Attributes: a = {} } = await sqs("GetQueueAttributes", { QueueUrl: url, AttributeNames: ["All"] });
    const { Tags: tags = {} } = await sqs("ListQueueTags", { QueueUrl: url });
    const { queueUrls: sources = [] } = await sqs("ListDeadLetterSourceQueues", { QueueUrl: url });
    const fifo = name.endsWith(".fifo");
    const redrive = a.RedrivePolicy ? JSON.parse(a.RedrivePolicy) : null;
    const dlqName = redrive && redrive.deadLetterTargetArn.split(":").pop();
    main.innerHTML = `<h1>${esc(name)} ${fifo ? '<span class="badge">FIFO</span>' : ""}</h1>
      <p class="muted">${esc(url)}</p>
      ${redrive ? `<p>Dead-letter queue: <a href="#/queue/${encodeURIComponent(dlqName)}">${esc(dlqName)}</a> after ${esc(redrive.maxReceiveCount)} receives</p>` : ""}
      ${sources.length ? `<p>Dead-letter queue of: ${sources.map(s => { const n = s.split("/").pop(); return `<a href="#/queue/${encodeURIComponent(n)}">${esc(n)}</a>`; }).join(", ")}</p>` : ""}
      <details><summary>Attributes and tags</summary><table>${Object.entries(a).map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}
      ${Object.entries(tags).map(([k, v]) => `<tr><th>tag ${esc(k)}</th><td>${esc(v)}</td></tr>`).join("")}</table></details>
      <fieldset><legend>Send a message</legend><form id="send">
        <textarea name="body" aria-label="Message body" required placeholder="Message body"></textarea>
        <div class="row"><label>Attributes (name=value per line)<textarea name="attrs" rows="2"></textarea></label>
        <label>Delay (s)<input name="delay" type="number" min="0" max="900" value="0"></label>
        ${fifo ? '<label>Group id<input name="group" required></label><label>Dedup id<input name="dedup"></label>' : ""}
        <button>Send</button></div></form></fieldset>
      <div class="row"><button id="purge" class="danger">Purge queue…</button>
        ${sources.length ? '<button id="move">Start move task back to sources</button>' : ""}<span id="tasks"></span></div>
      <h2>Messages <span class="muted" id="counts"></span></h2>
      <label><input type="checkbox" id="unwrap"> Unwrap SNS envelopes</label>
      <table><thead><tr><th>State</th><th>Body</th><th class="n">Receives</th><th class="n">Age</th><th></th></tr></thead><tbody id="messages"></tbody></table>`;
    $("#send").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      const body = { QueueUrl: url, MessageBody: f.body.value, DelaySeconds: Number(f.delay.value) || 0 };
      const attrs = attrsFrom(f.attrs.value);
      if (Object.keys(attrs).length) body.MessageAttributes = Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, { DataType: "String", StringValue: v }]));
      if (fifo) { body.MessageGroupId = f.group.value; if (f.dedup.value) body.MessageDeduplicationId = f.dedup.value; if (body.DelaySeconds === 0) delete body.DelaySeconds; }
      try { await sqs("SendMessage", body); f.body.value = ""; peek(); } catch (err) { fail(err); }
    };
    $("#purge").onclick = async () => {
      if (!confirm(`Purge every message of ${name}?`)) return;
      try { await sqs("PurgeQueue", { QueueUrl: url }); peek(); } catch (err) { fail(err); }
    };
    if ($("#move")) $("#move").onclick = async () => {
      try { await sqs("StartMessageMoveTask", { SourceArn: a.QueueArn }); } catch (err) { fail(err); }
    };
    $("#unwrap").onchange = peek;
    async function tasks() {
      if (!sources.length) return;
      const { Results: r = [] } = await sqs("ListMessageMoveTasks", { SourceArn: a.QueueArn }).catch(() => ({}));
      $("#tasks").innerHTML = r.slice(0, 1).map(t => `Move task ${esc(t.Status)}${t.FailureReason ? " (" + esc(t.FailureReason) + ")" : ""}: ${t.ApproximateNumberOfMessagesMoved ?? 0} of ${t.ApproximateNumberOfMessagesToMove ?? "?"} moved
        ${t.Status === "RUNNING" ? `<button data-cancel="${esc(t.TaskHandle)}">Cancel</button>` : ""}`).join("");
      const c = $("#tasks [data-cancel]");
      if (c) c.onclick = () => sqs("CancelMessageMoveTask", { TaskHandle: c.dataset.cancel }).catch(fail);
    }
    async function peek() {
      const doc = await api(`/_lyrebird/sqs/messages?${q({ QueueUrl: url, account: scope.account, region: scope.region })}`);
      const unwrap = $("#unwrap").checked;
      $("#counts").textContent = `${doc.counts.visible} available · ${doc.counts.inFlight} in flight · ${doc.counts.delayed} delayed`;
      $("#messages").innerHTML = doc.messages.map(m => {
        let body = m.body;
        if (unwrap) { try { const env = JSON.parse(body); if (env.Type === "Notification" && "Message" in env) body = env.Message; } catch { } }
        const attrs = Object.entries(m.messageAttributes || {}).map(([k, v]) => `${k}=${v.StringValue ?? v.BinaryValue ?? ""}`).join(", ");
        const state = m.state === "visible" ? "visible" : `${m.state} (${Math.ceil(m.visibleInSeconds)} s left)`;
        return `<tr data-id="${esc(m.messageId)}"><td>${esc(state)}</td><td><pre>${esc(pretty(body))}</pre>
          <span class="muted">${esc(m.messageId)}${m.messageGroupId ? " · group " + esc(m.messageGroupId) : ""}${attrs ? " · " + esc(attrs) : ""}</span></td>
          <td class="n">${m.receiveCount}</td><td class="n">${age(m.ageSeconds)}</td><td><button class="danger" data-delete="${esc(m.messageId)}">Delete</button></td></tr>`;
      }).join("") || `<tr><td colspan="5" class="muted">Empty.</td></tr>`;
      for (const b of main.querySelectorAll("[data-delete]")) b.onclick = async () => {
        await api("/_lyrebird/console/api/delete-message", { queueUrl: url, messageId: b.dataset.delete, ...scope });
        peek();
      };
      tasks();
    }
    await peek();
    timer = setInterval(peek, 2000);
  },

  async topics() {
    const { Topics: topics = [] } = await sns("ListTopics", {});
    main.innerHTML = `<h1>Topics</h1>
      <form id="create" class="row"><label>New topic name <input name="name" required></label><button>Create topic</button></form>
      <table><thead><tr><th>Topic</th></tr></thead><tbody>${topics.map(t => `<tr><td><a href="#/topic/${encodeURIComponent(t.TopicArn)}">${esc(t.TopicArn.split(":").pop())}</a> <span class="muted">${esc(t.TopicArn)}</span></td></tr>`).join("") || '<tr><td class="muted">No topics.</td></tr>'}</tbody></table>`;
    $("#create").onsubmit = async e => {
      e.preventDefault();
      const name = e.target.name.value.trim();
      try { await sns("CreateTopic", name.endsWith(".fifo") ? { Name: name, "Attributes.entry.1.key": "FifoTopic", "Attributes.entry.1.value": "true" } : { Name: name }); route(); } catch (err) { fail(err); }
    };
  },

  async topic(arn) {
    const fifo = arn.endsWith(".fifo");
    const { Subscriptions: subs = [] } = await sns("ListSubscriptionsByTopic", { TopicArn: arn });
    const details = await Promise.all(subs.map(s => s.SubscriptionArn.startsWith("arn:")
      ? sns("GetSubscriptionAttributes", { SubscriptionArn: s.SubscriptionArn }).then(r => r.Attributes || {}).catch(() => ({}))
      : Promise.resolve({})));
    main.innerHTML = `<h1>${esc(arn.split(":").pop())}</h1><p class="muted">${esc(arn)}</p>
      <h2>Subscriptions</h2><table><thead><tr><th>Protocol</th><th>Endpoint</th><th>Status</th><th>Filter policy</th><th>Scope</th></tr></thead><tbody>
      ${subs.map((s, i) => `<tr><td>${esc(s.Protocol)}</td><td>${esc(s.Endpoint)}</td><td>${s.SubscriptionArn.startsWith("arn:") ? "confirmed" : "pending"}</td>
        <td><pre>${esc(details[i].FilterPolicy ? pretty(details[i].FilterPolicy) : "–")}</pre></td><td>${esc(details[i].FilterPolicyScope || (details[i].FilterPolicy ? "MessageAttributes" : ""))}</td></tr>`).join("") || '<tr><td colspan="5" class="muted">None.</td></tr>'}</tbody></table>
      <fieldset><legend>Subscribe</legend><form id="subscribe" class="row">
        <label>Protocol<select name="protocol">${["sqs", "email", "email-json", "sms", "http", "https", "lambda", "firehose", "application"].map(p => `<option>${p}</option>`).join("")}</select></label>
        <label>Endpoint<input name="endpoint" required size="40"></label>
        <label>Filter policy<textarea name="policy" rows="2" cols="30"></textarea></label>
        <label>Scope<select name="scope"><option>MessageAttributes</option><option>MessageBody</option></select></label>
        <button>Subscribe</button></form></fieldset>
      <fieldset><legend>Publish</legend><form id="publish">
        <div class="row"><label>Subject<input name="subject"></label>
        <label>Structure<select name="structure"><option value="">plain</option><option value="json">json (per protocol)</option></select></label>
        ${fifo ? '<label>Group id<input name="group" required></label><label>Dedup id<input name="dedup"></label>' : ""}</div>
        <textarea name="message" aria-label="Message" required placeholder="Message"></textarea>
        <div class="row"><label>Attributes (name=value per line)<textarea name="attrs" rows="2"></textarea></label><button>Publish</button><span id="published"></span></div>
      </form></fieldset>`;
    $("#subscribe").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      const p = { TopicArn: arn, Protocol: f.protocol.value, Endpoint: f.endpoint.value, ReturnSubscriptionArn: "true" };
      let n = 1;
      const attr = (k, v) => { p[`Attributes.entry.${n}.key`] = k; p[`Attributes.entry.${n}.value`] = v; n++; };
      if (f.policy.value.trim()) { attr("FilterPolicy", f.policy.value); attr("FilterPolicyScope", f.scope.value); }
      try { await sns("Subscribe", p); route(); } catch (err) { fail(err); }
    };
    $("#publish").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      const p = { TopicArn: arn, Message: f.message.value };
      if (f.subject.value) p.Subject = f.subject.value;
      if (f.structure.value) p.MessageStructure = f.structure.value;
      if (fifo) { p.MessageGroupId = f.group.value; if (f.dedup.value) p.MessageDeduplicationId = f.dedup.value; }
      Object.entries(attrsFrom(f.attrs.value)).forEach(([k, v], i) => {
        p[`MessageAttributes.entry.${i + 1}.Name`] = k;
        p[`MessageAttributes.entry.${i + 1}.Value.DataType`] = "String";
        p[`MessageAttributes.entry.${i + 1}.Value.StringValue`] = v;
      });
      try { const r = await sns("Publish", p); $("#published").textContent = `Published ${r.MessageId}`; } catch (err) { fail(err); }
    };
  },

  async buses() {
    const [{ EventBuses: buses = [] }, { Archives: archives = [] }, { Replays: replays = [] }] = await Promise.all([
      events("ListEventBuses", {}), events("ListArchives", {}), events("ListReplays", {})]);
    const counts = await Promise.all(buses.map(b => events("ListRules", { EventBusName: b.Name }).then(r => (r.Rules || []).length, () => "?")));
    main.innerHTML = `<h1>Event buses</h1>
      <form id="create" class="row"><label>New bus name <input name="name" required></label><button>Create bus</button></form>
      <table><thead><tr><th>Bus</th><th class="n">Rules</th></tr></thead><tbody>${buses.map((b, i) => `<tr data-bus="${esc(b.Name)}"><td><a href="#/bus/${enc(b.Name)}">${esc(b.Name)}</a> <span class="muted">${esc(b.Arn)}</span></td><td class="n">${counts[i]}</td></tr>`).join("")}</tbody></table>
      <h2>Archives</h2><table><thead><tr><th>Archive</th><th>Source bus</th><th>State</th><th class="n">Events</th><th class="n">Retention (days)</th></tr></thead><tbody>
      ${archives.map(a => `<tr><td>${esc(a.ArchiveName)}</td><td>${esc(String(a.EventSourceArn).split("/").pop())}</td><td>${esc(a.State)}${a.StateReason ? " — " + esc(a.StateReason) : ""}</td><td class="n">${a.EventCount ?? 0}</td><td class="n">${a.RetentionDays || "∞"}</td></tr>`).join("") || '<tr><td colspan="5" class="muted">No archives.</td></tr>'}</tbody></table>
      <h2>Replays</h2><table><thead><tr><th>Replay</th><th>Archive</th><th>State</th><th>Events from</th><th>to</th><th>Last replayed</th></tr></thead><tbody>
      ${replays.map(r => `<tr><td>${esc(r.ReplayName)}</td><td>${esc(String(r.EventSourceArn).split("/").pop())}</td><td>${esc(r.State)}${r.StateReason ? " — " + esc(r.StateReason) : ""}</td><td>${when(r.EventStartTime)}</td><td>${when(r.EventEndTime)}</td><td>${when(r.EventLastReplayedTime)}</td></tr>`).join("") || '<tr><td colspan="6" class="muted">No replays.</td></tr>'}</tbody></table>`;
    $("#create").onsubmit = async e => {
      e.preventDefault();
      try { await events("CreateEventBus", { Name: e.target.name.value.trim() }); route(); } catch (err) { fail(err); }
    };
  },

  async bus(name) {
    const { Rules: rules = [] } = await events("ListRules", { EventBusName: name });
    const targets = await Promise.all(rules.map(r => events("ListTargetsByRule", { Rule: r.Name, EventBusName: name }).then(t => t.Targets || [], () => [])));
    main.innerHTML = `<h1>${esc(name)} <span class="badge">event bus</span></h1>
      <h2>Rules</h2><table><thead><tr><th>Rule</th><th>State</th><th>Pattern or schedule</th><th>Targets</th><th></th></tr></thead><tbody>
      ${rules.map((r, i) => `<tr data-rule="${esc(r.Name)}"><td>${esc(r.Name)}${r.Description ? `<br><span class="muted">${esc(r.Description)}</span>` : ""}</td>
        <td>${esc(r.State)}</td>
        <td>${r.ScheduleExpression ? `<code>${esc(r.ScheduleExpression)}</code>` : ""}${r.EventPattern ? `<pre>${esc(pretty(r.EventPattern))}</pre>` : ""}</td>
        <td>${targets[i].map(target).join("") || '<span class="muted">none</span>'}</td>
        <td><button data-toggle="${esc(r.Name)}">${r.State === "DISABLED" ? "Enable" : "Disable"}</button>
        ${r.EventPattern ? `<button data-test="${i}">Test pattern</button>` : ""}</td></tr>`).join("") || '<tr><td colspan="5" class="muted">No rules.</td></tr>'}</tbody></table>
      <fieldset><legend>Put an event</legend><form id="put">
        <div class="row"><label>Source<input name="source" required value="orders"></label><label>Detail type<input name="type" required value="OrderPlaced"></label></div>
        <label>Detail (JSON object)<textarea name="detail" required>{"amount": 42}</textarea></label>
        <div class="row"><button>Put event</button></div></form><div id="put-result" role="status"></div></fieldset>`;
    for (const b of main.querySelectorAll("[data-toggle]")) b.onclick = async () => {
      const disable = b.textContent === "Disable";
      try { await events(disable ? "DisableRule" : "EnableRule", { Name: b.dataset.toggle, EventBusName: name }); route(); } catch (err) { fail(err); }
    };
    for (const b of main.querySelectorAll("[data-test]")) b.onclick = () => {
      sessionStorage.setItem("lyrebird.pattern", rules[b.dataset.test].EventPattern);
      location.hash = "#/patterns";
    };
    $("#put").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      try {
        const r = await events("PutEvents", { Entries: [{ EventBusName: name, Source: f.source.value, DetailType: f.type.value, Detail: f.detail.value }] });
        const entry = (r.Entries || [])[0] || {};
        $("#put-result").innerHTML = entry.EventId ? `<span class="ok">Accepted</span> event ${esc(entry.EventId)} (${r.FailedEntryCount} failed)`
          : `<span class="bad">${esc(entry.ErrorCode)}</span>: ${esc(entry.ErrorMessage)}`;
      } catch (err) { $("#put-result").innerHTML = `<span class="bad">${esc(err.code)}</span>: ${esc(err.text || err.message)}`; }
    };
  },

  async patterns() {
    const pattern = sessionStorage.getItem("lyrebird.pattern") || '{"source": ["orders"], "detail": {"amount": [{"numeric": [">", 100]}]}}';
    sessionStorage.removeItem("lyrebird.pattern");
    const event = { version: "0", id: "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "OrderPlaced", source: "orders", account: scope.account,
      time: new Date().toISOString().slice(0, 19) + "Z", region: scope.region, resources: [], detail: { amount: 42 } };
    main.innerHTML = `<h1>Event pattern tester</h1><p class="muted">TestEventPattern decides; when it says no, lyrebird names the key that failed.</p><form id="test">
      <label>Event pattern<textarea name="pattern" required rows="6">${esc(pretty(pattern))}</textarea></label>
      <label>Event<textarea name="event" required rows="12">${esc(JSON.stringify(event, null, 2))}</textarea></label>
      <button>Test</button></form><p id="verdict" role="status"></p>`;
    $("#test").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      let html;
      try {
        const { Result } = await events("TestEventPattern", { EventPattern: f.pattern.value, Event: f.event.value });
        if (Result) html = `<span class="ok">Match</span>`;
        else {
          const r = await api("/_lyrebird/console/api/pattern-explain", { pattern: f.pattern.value, event: f.event.value });
          html = `<span class="bad">No match</span> — ${esc(r.reason || r.error)}`;
        }
      } catch (err) { html = `<span class="bad">${esc(err.code)}</span>: ${esc(err.text || err.message)}`; }
      $("#verdict").innerHTML = html;
    };
  },

  async functions() {
    const { Functions: fns = [] } = await lambda("GET", "/2015-03-31/functions/");
    const reserved = await Promise.all(fns.map(f => lambda("GET", `/2019-09-30/functions/${enc(f.FunctionName)}/concurrency`).then(c => c.ReservedConcurrentExecutions, () => undefined)));
    main.innerHTML = `<h1>Functions</h1><table><thead><tr><th>Function</th><th>Runtime</th><th>Handler</th><th class="n">Timeout (s)</th><th class="n">Memory (MB)</th><th class="n">Reserved concurrency</th><th>Last modified</th></tr></thead><tbody>
      ${fns.map((f, i) => `<tr data-function="${esc(f.FunctionName)}"><td><a href="#/function/${enc(f.FunctionName)}">${esc(f.FunctionName)}</a></td><td>${esc(f.Runtime)}</td><td>${esc(f.Handler)}</td>
        <td class="n">${f.Timeout}</td><td class="n">${f.MemorySize}</td><td class="n">${reserved[i] ?? "–"}</td><td>${esc(f.LastModified)}</td></tr>`).join("") || '<tr><td colspan="7" class="muted">No functions.</td></tr>'}</tbody></table>`;
  },

  async function(name) {
    const path = `/2015-03-31/functions/${enc(name)}`;
    const [{ Configuration: c, Concurrency: conc }, { EventSourceMappings: maps = [] }] = await Promise.all([
      lambda("GET", path), lambda("GET", `/2015-03-31/event-source-mappings/?${q({ FunctionName: name })}`)]);
    const vars = Object.entries(c.Environment?.Variables || {});
    main.innerHTML = `<h1>${esc(name)} <span class="badge">${esc(c.State)}</span></h1><p class="muted">${esc(c.FunctionArn)}</p>
      <details open><summary>Configuration</summary><table>${[["Runtime", c.Runtime], ["Handler", c.Handler], ["Timeout", c.Timeout + " s"], ["Memory", c.MemorySize + " MB"],
        ["Reserved concurrency", conc?.ReservedConcurrentExecutions ?? "–"], ["State", c.State], ["Last update", c.LastUpdateStatus], ["Code size", c.CodeSize + " bytes"],
        ["Last modified", c.LastModified], ["Role", c.Role]].map(([k, v]) => `<tr><th>${k}</th><td>${esc(v)}</td></tr>`).join("")}</table></details>
      <h2>Environment variables</h2><table><tbody>${vars.map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`).join("") || '<tr><td class="muted">None.</td></tr>'}</tbody></table>
      <h2>Event source mappings</h2><table><thead><tr><th>Source</th><th class="n">Batch size</th><th>State</th><th>UUID</th><th></th></tr></thead><tbody>
      ${maps.map(m => `<tr data-mapping="${esc(m.UUID)}"><td>${arnLink(m.EventSourceArn)}</td><td class="n">${m.BatchSize ?? ""}</td><td>${esc(m.State)}</td><td class="muted">${esc(m.UUID)}</td>
        <td><button data-enable="${m.State === "Disabled" || m.State === "Disabling" ? "true" : "false"}">${m.State === "Disabled" || m.State === "Disabling" ? "Enable" : "Disable"}</button></td></tr>`).join("") || '<tr><td colspan="5" class="muted">None.</td></tr>'}</tbody></table>
      <fieldset><legend>Invoke</legend><form id="invoke">
        <textarea name="payload" aria-label="Payload" required>{}</textarea>
        <div class="row"><button>Invoke</button></div></form><div id="result" role="status"></div></fieldset>
      <h2>Recent invocations</h2><table><thead><tr><th>Started</th><th>Source</th><th>Type</th><th>Outcome</th><th class="n">Duration</th><th class="n">Batch</th><th>Error</th></tr></thead><tbody id="invocations"></tbody></table>`;
    for (const b of main.querySelectorAll("[data-enable]")) b.onclick = async () => {
      const uuid = b.closest("tr").dataset.mapping;
      try { await lambda("PUT", `/2015-03-31/event-source-mappings/${enc(uuid)}`, { Enabled: b.dataset.enable === "true" }); route(); } catch (err) { fail(err); }
    };
    $("#invoke").onsubmit = async e => {
      e.preventDefault();
      const r = await lambdaFetch("POST", `${path}/invocations`, e.target.payload.value, { "x-amz-invocation-type": "RequestResponse", "x-amz-log-type": "Tail" });
      const text = await r.text();
      const error = r.headers.get("x-amz-function-error");
      const log = r.headers.get("x-amz-log-result");
      const tail = log ? new TextDecoder().decode(Uint8Array.from(atob(log), ch => ch.charCodeAt(0))) : "";
      $("#result").innerHTML = `<p>Status ${r.status}${error ? ` · <span class="bad">X-Amz-Function-Error: ${esc(error)}</span>` : r.ok ? ' · <span class="ok">OK</span>' : ""}</p>
        <h3>Response</h3><pre id="response">${esc(pretty(text))}</pre>${tail ? `<h3>Log tail</h3><pre id="log">${esc(tail)}</pre>` : ""}`;
      recent();
    };
    async function recent() {
      const { Invocations: list = [] } = await api(`/_lyrebird/lambda/invocations?${q({ function: c.FunctionArn })}`);
      $("#invocations").innerHTML = list.slice(-50).reverse().map(i => `<tr data-request="${esc(i.request_id)}"><td>${when(i.started_ms / 1000)}</td><td>${esc(i.source)}${i.source_arn ? `<br><span class="muted">${esc(i.source_arn)}</span>` : ""}</td>
        <td>${esc(i.invocation_type)}</td><td class="${i.outcome === "success" ? "ok" : "bad"}">${esc(i.outcome)}</td><td class="n">${i.duration_ms.toFixed(1)} ms</td><td class="n">${i.batch_size}</td><td>${esc(i.error)}</td></tr>`).join("")
        || '<tr><td colspan="7" class="muted">No invocations yet.</td></tr>';
    }
    await recent();
    timer = setInterval(recent, 2000);
  },

  async filter() {
    main.innerHTML = `<h1>Filter tester</h1><form id="test">
      <div class="row"><label>Scope<select name="scope"><option>MessageAttributes</option><option>MessageBody</option></select></label></div>
      <label>Filter policy<textarea name="policy" required>{"color": ["red"]}</textarea></label>
      <label>Message body<textarea name="message">{}</textarea></label>
      <label>Message attributes (name=value per line)<textarea name="attrs" rows="2">color=red</textarea></label>
      <button>Test</button></form><p id="verdict" role="status"></p>`;
    $("#test").onsubmit = async e => {
      e.preventDefault();
      const f = e.target;
      const r = await api("/_lyrebird/console/api/filter-test", { policy: f.policy.value, scope: f.scope.value, message: f.message.value, attributes: attrsFrom(f.attrs.value) });
      $("#verdict").innerHTML = !r.valid ? `<span class="bad">Invalid policy:</span> ${esc(r.error)}`
        : r.matches ? `<span class="ok">Match</span> — ${esc(r.reason)}` : `<span class="bad">No match</span> — ${esc(r.reason)}`;
    };
  },

  async deliveries() {
    const { deliveries = [] } = await api("/_lyrebird/sns/deliveries");
    main.innerHTML = `<h1>Captured deliveries</h1><p class="muted">What SNS sent to e-mail, SMS, push, Lambda and Firehose endpoints.</p>
      <table><thead><tr><th>When</th><th>Protocol</th><th>Endpoint</th><th>Subject</th><th>Structure</th><th>Message</th></tr></thead><tbody>
      ${deliveries.slice().reverse().map(d => `<tr><td>${esc(d.timestamp)}</td><td>${esc(d.protocol)}</td><td>${esc(d.endpoint)}</td><td>${esc(d.subject)}</td><td>${esc(d.messageStructure || "–")}</td><td><pre>${esc(pretty(d.message))}</pre></td></tr>`).join("") || '<tr><td colspan="6" class="muted">Nothing captured yet.</td></tr>'}</tbody></table>`;
    timer = setInterval(() => { if (location.hash === "#/deliveries") pages.deliveries(); }, 3000);
  },

  async outputs() {
    const { Outputs = [] } = await api("/_lyrebird/init/outputs");
    main.innerHTML = `<h1>Template outputs</h1><table><thead><tr><th>Key</th><th>Value</th><th>Export</th></tr></thead><tbody>
      ${Outputs.map(o => `<tr><td>${esc(o.OutputKey)}</td><td>${esc(o.OutputValue)}</td><td>${esc(o.ExportName)}</td></tr>`).join("") || '<tr><td colspan="3" class="muted">No templates applied (--init).</td></tr>'}</tbody></table>`;
  },

  async health() {
    const i = await api("/_lyrebird/console/api/info");
    main.innerHTML = `<h1>Health</h1><table>${[["Version", i.version], ["Storage", i.storage], ["Durability", i.durability], ["Data directory", i.dataDir || "none (in memory)"],
      ["Default account", i.account], ["Default region", i.region], ["Uptime", age(i.uptimeSeconds)], ["Queues", i.queues], ["Topics", i.topics],
      ["Event buses", i.eventBuses], ["Functions", i.functions],
      ["Metrics", i.metrics ? '<a href="/metrics">/metrics</a>' : "off"]].map(([k, v]) => `<tr><th>${k}</th><td>${k === "Metrics" ? v : esc(v)}</td></tr>`).join("")}</table>`;
  },
};

async function route() {
  clearInterval(timer);
  const [, page = "queues", ...rest] = location.hash.split("/");
  const arg = decodeURIComponent(rest.join("/"));
  for (const a of document.querySelectorAll("nav a")) a.toggleAttribute("aria-current", a.getAttribute("href") === `#/${page}`);
  try { await (pages[page] || pages.queues)(arg); } catch (e) { main.innerHTML = ""; fail(e); }
  window.lyrebirdReady = performance.now();
}

$("#scope").onsubmit = e => {
  e.preventDefault();
  scope.account = $("#account").value.trim();
  scope.region = $("#region").value.trim();
  localStorage.setItem("lyrebird.account", scope.account);
  localStorage.setItem("lyrebird.region", scope.region);
  route();
};
window.addEventListener("hashchange", route);
// The server's defaults come with the page, so the first page needs no extra round trip.
const boot = JSON.parse($("#boot").textContent);
scope.account ||= boot.account;
scope.region ||= boot.region;
$("#account").value = scope.account;
$("#region").value = scope.region;
route();
