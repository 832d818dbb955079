// What every JS scenario shares (the twin of ../checks.py): check reporting, the EventBridge
// rule and Lambda handler of the events/lambda scenarios, a zip writer, lyrebird's invocation
// record. Each check prints one line (PASS/FAIL); run() ends with "N passed, M failed" and
// exit code 1 on any failure, which ../run.sh adds up.
"use strict";

const zlib = require("node:zlib");

const ENDPOINT = process.env.AWS_ENDPOINT_URL.replace(/\/+$/, "");
const ACCOUNT = "000000000000";
const REGION = "us-east-1";

let passed = 0;
let failed = 0;

function check(name, cond, detail = "") {
  if (cond) {
    passed += 1;
    console.log(`PASS ${name}`);
  } else {
    failed += 1;
    console.log(`FAIL ${name}${detail ? `: ${detail}` : ""}`);
  }
  return cond;
}

const show = (v) => JSON.stringify(v, (_, x) => (x instanceof Uint8Array ? Array.from(x) : x));

function eq(name, got, want) {
  // Key order does not matter: compare canonical forms.
  const canon = (v) => show(sortKeys(v));
  return check(name, canon(got) === canon(want), `got ${show(got)}, want ${show(want)}`);
}

function sortKeys(v) {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (v && typeof v === "object" && !(v instanceof Uint8Array)) {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeys(v[k])]));
  }
  return v;
}

/** Runs fn(); an unexpected exception is one failed check (and the scenario goes on). */
async function step(name, fn) {
  try {
    return await fn();
  } catch (e) {
    check(name, false, `${e.name}: ${e.message}${e.$metadata ? ` ${JSON.stringify(e.$metadata)}` : ""}`);
    return undefined;
  }
}

/** Runs a scenario to the end; an exception that escapes it is one more failure. */
function run(main) {
  main()
    .catch((e) => check("scenario ran to the end", false, `${e.name}: ${e.message}\n${e.stack}`))
    .finally(() => {
      console.log(`${passed} passed, ${failed} failed`);
      process.exitCode = failed ? 1 : 0;
    });
}

/** The error a call must fail with: [name, message], or ["no error"]. */
async function errorOf(fn) {
  try {
    await fn();
    return ["no error"];
  } catch (e) {
    return [e.name, e.message];
  }
}

/** Polls fn() until it returns something truthy or the timeout passes; returns the last value. */
async function waitFor(fn, timeoutMs = 15000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

// --- EventBridge and Lambda: the same values as ../checks.py ---------------------------------

const EVENT_PATTERN = { source: [{ prefix: "shop." }], detail: { amount: [{ numeric: [">", 100] }] } };
const INPUT_PATHS = { amount: "$.detail.amount", src: "$.source" };
const INPUT_TEMPLATE = '{"order": <amount>, "from": "<src>"}';
const TRANSFORMED = '{"order": 150, "from": "shop.orders"}';

const HANDLER_JS = `exports.handler = async (event, context) => {
  console.log("hello from " + context.functionName);
  if (event.fail) { throw new TypeError("bad order " + event.fail); }
  return { echo: event, fn: context.functionName };
};
`;

/** What Invoke's LogResult (LogType Tail) decodes to on AWS (as ../checks.py log_tail_pattern). */
function logTailPattern(fn) {
  const name = fn.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(
    "^START RequestId: (\\S+) Version: \\$LATEST\n(?:.*\n)*?" +
      `\\S+\\t\\1\\tINFO\\thello from ${name}\\n` +
      "END RequestId: \\1\nREPORT RequestId: \\1\tDuration: [\\d.]+ ms\tBilled Duration: \\d+ ms\t" +
      "Memory Size: 128 MB\tMax Memory Used: \\d+ MB\t",
  );
}

/** A zip archive of { name: text } entries, deflated (PKZIP local headers + central directory). */
function zip(files) {
  const locals = [];
  const centrals = [];
  let offset = 0;
  for (const [name, text] of Object.entries(files)) {
    const data = Buffer.from(text, "utf8");
    const packed = zlib.deflateRawSync(data);
    const fileName = Buffer.from(name, "utf8");
    const crc = zlib.crc32(data);
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(20, 4); // version needed
    local.writeUInt16LE(8, 8); // deflate
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(packed.length, 18);
    local.writeUInt32LE(data.length, 22);
    local.writeUInt16LE(fileName.length, 26);
    const central = Buffer.alloc(46);
    central.writeUInt32LE(0x02014b50, 0);
    central.writeUInt16LE(20, 4); // version made by
    central.writeUInt16LE(20, 6);
    central.writeUInt16LE(8, 10);
    central.writeUInt32LE(crc, 16);
    central.writeUInt32LE(packed.length, 20);
    central.writeUInt32LE(data.length, 24);
    central.writeUInt16LE(fileName.length, 28);
    central.writeUInt32LE(offset, 42);
    locals.push(local, fileName, packed);
    centrals.push(central, fileName);
    offset += local.length + fileName.length + packed.length;
  }
  const directory = Buffer.concat(centrals);
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(centrals.length / 2, 8);
  end.writeUInt16LE(centrals.length / 2, 10);
  end.writeUInt32LE(directory.length, 12);
  end.writeUInt32LE(offset, 16);
  return Buffer.concat([...locals, directory, end]);
}

/** lyrebird's record of finished invocations of one function (GET /_lyrebird/lambda/invocations). */
async function invocations(fn) {
  const r = await fetch(`${ENDPOINT}/_lyrebird/lambda/invocations?function=${encodeURIComponent(fn)}`);
  return (await r.json()).Invocations;
}

module.exports = {
  ACCOUNT, ENDPOINT, REGION, check, eq, show, step, run, errorOf, waitFor,
  EVENT_PATTERN, INPUT_PATHS, INPUT_TEMPLATE, TRANSFORMED, HANDLER_JS, logTailPattern, zip, invocations,
};
