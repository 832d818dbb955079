// Ledger: an ES module with an async handler, on the FIFO ledger queue. Entries of one account
// (message group) must apply in order: after the first failure in a group, that record and every
// later one of the same group are returned as failures, as AWS's docs ask of FIFO consumers.
// A direct invoke with {"sleepMs": N} sleeps (Timeout is 3 s in the template).
import { setTimeout as sleep } from 'node:timers/promises';

export const handler = async (event, context) => {
  if (!event.Records) {
    if (event.sleepMs) {
      await sleep(event.sleepMs);
      return { slept: event.sleepMs };
    }
    if (event.throw) {
      throw new TypeError(event.throw);
    }
    return { mode: process.env.LEDGER_MODE, stage: process.env.STAGE, timeoutLeft: context.getRemainingTimeInMillis() };
  }
  const failedGroups = new Set();
  const batchItemFailures = [];
  for (const record of event.Records) {
    const group = record.attributes.MessageGroupId;
    const entry = JSON.parse(record.body);
    if (failedGroups.has(group)) {
      batchItemFailures.push({ itemIdentifier: record.messageId });
      continue;
    }
    const failNow = entry.failOnFirstTry && record.attributes.ApproximateReceiveCount === '1';
    console.log('CAPTURE ledger ' + JSON.stringify({ batch: event.Records.length, applied: !failNow, record }));
    if (failNow) {
      failedGroups.add(group);
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
};
