// lyrebird's Node.js runtime client: speaks the Lambda Runtime API (2018-06-01) at
// AWS_LAMBDA_RUNTIME_API and runs the handler named by _HANDLER ("dir/file.export") from
// LAMBDA_TASK_ROOT, as the official nodejs runtimes do: CommonJS (.js, .cjs) and ES modules
// (.mjs, or .js under "type": "module"); async, promise and callback handlers; errors posted
// as {errorType, errorMessage, trace}.
import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';
import util from 'node:util';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

const [apiHost, apiPort] = process.env.AWS_LAMBDA_RUNTIME_API.split(':');
const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
const BASE = '/2018-06-01/runtime';

function call(method, urlPath, body, headers = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(
      {
        host: apiHost,
        port: apiPort,
        method,
        path: urlPath,
        agent,
        headers: data ? { 'content-type': 'application/json', 'content-length': data.length, ...headers } : headers,
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    if (data) req.write(data);
    req.end();
  });
}

function errorDocument(err) {
  if (err instanceof Error) {
    return {
      errorType: err.name || 'Error',
      errorMessage: err.message,
      trace: (err.stack || '').split('\n'),
    };
  }
  return { errorType: typeof err, errorMessage: typeof err === 'string' ? err : JSON.stringify(err), trace: [] };
}

class RuntimeError extends Error {
  constructor(name, message) {
    super(message);
    this.name = name;
  }
}

let currentRequestId = '';
// The invocation whose answer is not posted yet (null during init and between invocations),
// and whether the process is failing it on its way out (an unhandled rejection).
let unanswered = null;
let failing = false;
let initDone = false;

// What the handler printed reaches lyrebird before its answer does, as it reaches Lambda's log
// before the invocation ends: Node queues writes to a full pipe, and a handler that prints a lot
// and returns would otherwise answer first (its lines then miss the invocation's Tail log).
function flushed() {
  const pending = [process.stdout, process.stderr].filter((s) => s.writableLength > 0);
  return Promise.all(pending.map((s) => new Promise((resolve) => s.write('', () => resolve()))));
}
function patchConsole() {
  const levels = { log: 'INFO', info: 'INFO', warn: 'WARN', error: 'ERROR', debug: 'DEBUG', trace: 'TRACE' };
  for (const [method, level] of Object.entries(levels)) {
    const stream = method === 'error' || method === 'warn' ? process.stderr : process.stdout;
    console[method] = (...args) => {
      stream.write(`${new Date().toISOString()}\t${currentRequestId}\t${level}\t${util.format(...args)}\n`);
    };
  }
}

function moduleType(dir) {
  for (let d = dir; ; d = path.dirname(d)) {
    const pkg = path.join(d, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        return JSON.parse(fs.readFileSync(pkg, 'utf8')).type === 'module' ? 'module' : 'commonjs';
      } catch {
        return 'commonjs';
      }
    }
    if (path.dirname(d) === d) return 'commonjs';
  }
}

async function loadHandler() {
  const root = process.env.LAMBDA_TASK_ROOT;
  const handlerString = process.env._HANDLER || '';
  const slash = handlerString.lastIndexOf('/') + 1;
  const dot = handlerString.indexOf('.', slash);
  if (dot < 0) {
    throw new RuntimeError('Runtime.MalformedHandlerName', `Bad handler ${handlerString}`);
  }
  const modulePath = handlerString.slice(0, dot);
  const handlerPath = handlerString.slice(dot + 1);
  const base = path.resolve(root, modulePath);
  let mod;
  const candidates = [['.js', null], ['.mjs', 'module'], ['.cjs', 'commonjs']];
  const found = candidates.find(([ext]) => fs.existsSync(base + ext));
  if (!found) {
    throw new RuntimeError('Runtime.ImportModuleError', `Error: Cannot find module '${modulePath}'\nRequire stack:\n- ${import.meta.url}`);
  }
  const file = base + found[0];
  const type = found[1] || moduleType(path.dirname(file));
  try {
    if (type === 'module') {
      mod = await import(pathToFileURL(file).href);
    } else {
      mod = createRequire(file)(file);
    }
  } catch (err) {
    if (err instanceof SyntaxError) {
      throw new RuntimeError('Runtime.UserCodeSyntaxError', `${err.name}: ${err.message}`);
    }
    if (err && err.code === 'MODULE_NOT_FOUND') {
      throw new RuntimeError('Runtime.ImportModuleError', `Error: ${err.message}`);
    }
    throw err;
  }
  let handler = handlerPath.split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), mod);
  if (handler === undefined && mod && mod.default) {
    handler = handlerPath.split('.').reduce((obj, key) => (obj == null ? undefined : obj[key]), mod.default);
  }
  if (handler === undefined) {
    throw new RuntimeError('Runtime.HandlerNotFound', `${modulePath}.${handlerPath} is undefined or not exported`);
  }
  if (typeof handler !== 'function') {
    throw new RuntimeError('Runtime.HandlerNotFound', `${modulePath}.${handlerPath} is not a function`);
  }
  return handler;
}

// A callback handler's callback while it has not been called: AWS's Node runtime calls it
// implicitly (result null) once the event loop is empty ("If you don't use callback in your
// code, AWS Lambda will call it implicitly and the return value is null").
let implicitCallback = null;
process.on('beforeExit', () => {
  if (implicitCallback) implicitCallback(null, null);
});

function invoke(handler, event, context) {
  return new Promise((resolve, reject) => {
    let settled = false;
    const callback = (err, result) => {
      if (settled) return;
      settled = true;
      implicitCallback = null;
      if (err !== undefined && err !== null) reject(err);
      else resolve(result);
    };
    context.succeed = (result) => callback(null, result);
    context.fail = (err) => callback(err ?? 'handled');
    context.done = (err, result) => callback(err, result);
    let returned;
    try {
      returned = handler(event, context, callback);
    } catch (err) {
      callback(err);
      return;
    }
    if (returned && typeof returned.then === 'function') {
      returned.then((r) => callback(null, r), (e) => callback(e ?? new Error('the handler rejected with no reason')));
    } else if (handler.length < 3) {
      callback(null, returned);
    } else if (!settled) {
      implicitCallback = callback;
    }
  });
}

async function main() {
  patchConsole();
  let handler;
  try {
    handler = await loadHandler();
  } catch (err) {
    const doc = errorDocument(err);
    console.error(`Init Error\t${JSON.stringify(doc)}`);
    await call('POST', `${BASE}/init/error`, JSON.stringify(doc), { 'lambda-runtime-function-error-type': doc.errorType });
    process.exit(1);
  }
  initDone = true;
  const env = process.env;
  for (;;) {
    if (failing) await new Promise(() => {});
    const next = await call('GET', `${BASE}/invocation/next`);
    if (next.status !== 200) {
      throw new Error(`invocation/next answered ${next.status}: ${next.body}`);
    }
    const requestId = next.headers['lambda-runtime-aws-request-id'];
    const deadline = Number(next.headers['lambda-runtime-deadline-ms']);
    currentRequestId = requestId;
    process.env._X_AMZN_TRACE_ID = next.headers['lambda-runtime-trace-id'] || '';
    const context = {
      callbackWaitsForEmptyEventLoop: true,
      functionName: env.AWS_LAMBDA_FUNCTION_NAME,
      functionVersion: env.AWS_LAMBDA_FUNCTION_VERSION,
      invokedFunctionArn: next.headers['lambda-runtime-invoked-function-arn'],
      memoryLimitInMB: env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
      awsRequestId: requestId,
      logGroupName: env.AWS_LAMBDA_LOG_GROUP_NAME,
      logStreamName: env.AWS_LAMBDA_LOG_STREAM_NAME,
      getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    };
    let result;
    unanswered = requestId;
    try {
      const event = next.body.length ? JSON.parse(next.body) : {};
      result = await invoke(handler, event, context);
    } catch (err) {
      if (failing) await new Promise(() => {});
      unanswered = null;
      const doc = errorDocument(err);
      console.error(`Invoke Error \t${JSON.stringify(doc)}`);
      await flushed();
      await call('POST', `${BASE}/invocation/${requestId}/error`, JSON.stringify(doc), { 'lambda-runtime-function-error-type': doc.errorType });
      continue;
    }
    // The process is reporting an unhandled rejection for this invocation and exiting.
    if (failing) await new Promise(() => {});
    unanswered = null;
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (err) {
      const doc = { errorType: 'Runtime.MarshalError', errorMessage: `Unable to stringify response body: ${err.message}`, trace: [] };
      await flushed();
      await call('POST', `${BASE}/invocation/${requestId}/error`, JSON.stringify(doc), { 'lambda-runtime-function-error-type': doc.errorType });
      continue;
    }
    await flushed();
    await call('POST', `${BASE}/invocation/${requestId}/response`, body);
  }
}

// As AWS's Node runtime: a rejection nobody handles fails the invocation in progress (or the
// init) with Runtime.UnhandledPromiseRejection, whose message is the reason as a string, and the
// process exits; the next invocation gets a new one.
process.on('unhandledRejection', (reason) => {
  if (failing) return;
  failing = true;
  const errorType = 'Runtime.UnhandledPromiseRejection';
  const errorMessage = String(reason);
  const frames = {};
  Error.captureStackTrace(frames);
  const doc = { errorType, errorMessage, trace: [`${errorType}: ${errorMessage}`, ...frames.stack.split('\n').slice(1)] };
  console.error(`Unhandled Promise Rejection\t${JSON.stringify(doc)}`);
  const requestId = unanswered;
  unanswered = null;
  const path = requestId !== null ? `${BASE}/invocation/${requestId}/error` : initDone ? null : `${BASE}/init/error`;
  const exit = () => process.exit(128);
  if (path === null) {
    flushed().then(exit, exit);
    return;
  }
  flushed()
    .then(() => call('POST', path, JSON.stringify(doc), { 'lambda-runtime-function-error-type': errorType }))
    .then(exit, exit);
});

main().catch((err) => {
  process.stderr.write(`lyrebird node bootstrap: ${err && err.stack ? err.stack : err}\n`);
  process.exit(1);
});
