// Shipments ingest: a CommonJS, callback-style handler (CodeUri src/ingest/, Handler
// handlers/ingest.handler). Each SQS record's body is a shipment; "reject" ones are reported
// as batch item failures (ReportBatchItemFailures), so only they go back to the queue.
// A direct invoke with {"action": "explode"} fails the invocation through the callback.
'use strict';

const { describe } = require('../lib/shipment');

class ShipmentRejected extends Error {
  constructor(message) {
    super(message);
    this.name = 'ShipmentRejected';
  }
}

exports.handler = function (event, context, callback) {
  if (!event.Records) {
    if (event.action === 'explode') {
      console.error('about to fail', context.awsRequestId);
      callback(new ShipmentRejected(`cannot ship ${event.id}`));
      return;
    }
    console.log('direct invoke', JSON.stringify(event));
    if (event.sleepMs) {
      setTimeout(() => callback(null, { slept: event.sleepMs }), event.sleepMs);
      return;
    }
    callback(null, {
      ok: true,
      stage: process.env.STAGE,
      service: process.env.SERVICE_NAME,
      functionName: context.functionName,
      memoryLimitInMB: String(context.memoryLimitInMB),
      remainingMs: context.getRemainingTimeInMillis(),
      requestId: context.awsRequestId,
    });
    return;
  }
  const batchItemFailures = [];
  for (const record of event.Records) {
    // One line per record, for check.py (it reads lyrebird's log, as one reads CloudWatch).
    console.log('CAPTURE ingest ' + JSON.stringify({ batch: event.Records.length, record }));
    const shipment = JSON.parse(record.body);
    if (shipment.action === 'reject') {
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } else {
      console.log('shipped', describe(shipment));
    }
  }
  setImmediate(() => callback(null, { batchItemFailures }));
};
