// src/handlers/processStandardOrder.ts
//
// Not in the seed: its template names this handler (StandardOrderProcessor, MEDIUM and LOW
// orders, BatchSize 10) but the post only shows the critical one. Written the same way:
// parse the SNS envelope from each SQS record, validate, route by event type, and throw when
// any message of the batch failed so that SQS retries it (and, after maxReceiveCount, moves it
// to the dead-letter queue).
import { SQSEvent, SQSRecord, Context } from 'aws-lambda';
import { OrderEvent, OrderEventType } from '../types/events';

export const handler = async (event: SQSEvent, context: Context): Promise<void> => {
  console.log(`Processing ${event.Records.length} standard order messages`);

  const results = await Promise.allSettled(
    event.Records.map(record => processMessage(record, context))
  );

  const failures = results.filter(result => result.status === 'rejected');
  if (failures.length > 0) {
    console.error(`${failures.length} messages failed processing`);
    throw new Error('Some messages failed processing');
  }
};

async function processMessage(record: SQSRecord, context: Context): Promise<void> {
  try {
    // Parse the SNS message from SQS record
    const snsMessage = JSON.parse(record.body);
    const orderEvent: OrderEvent = JSON.parse(snsMessage.Message);

    validateOrderEvent(orderEvent);

    switch (orderEvent.eventType) {
      case OrderEventType.CREATED:
        await handleStandardOrderCreated(orderEvent);
        break;
      case OrderEventType.CANCELLED:
        await handleOrderCancelled(orderEvent);
        break;
      default:
        console.warn(`Unhandled event type for standard processing: ${orderEvent.eventType}`);
    }

    console.log(`Successfully processed standard order event: ${orderEvent.orderId}`);
  } catch (error) {
    console.error('Error processing standard order message:', error);
    throw error;
  }
}

async function handleStandardOrderCreated(event: OrderEvent): Promise<void> {
  console.log(`Processing standard order creation: ${event.orderId} (${event.metadata.priority})`);
  await reserveInventory(event.data.items);
}

async function handleOrderCancelled(event: OrderEvent): Promise<void> {
  console.log(`Processing order cancellation: ${event.orderId}`);
  await releaseInventory(event.data.items);
}

function validateOrderEvent(event: OrderEvent): void {
  if (!event.eventId || !event.orderId || !event.eventType) {
    throw new Error('Invalid order event: missing required fields');
  }

  if (!event.data || !event.metadata) {
    throw new Error('Invalid order event: missing data or metadata');
  }
}

// Placeholder implementations for business logic
async function reserveInventory(items: any[]): Promise<void> {
  // Implementation would integrate with inventory system
}

async function releaseInventory(items: any[]): Promise<void> {
  // Implementation would return items to the inventory system
}
