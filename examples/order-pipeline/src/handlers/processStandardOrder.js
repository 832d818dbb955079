"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.handler = void 0;
const events_1 = require("../types/events");
const handler = async (event, context) => {
    console.log(`Processing ${event.Records.length} standard order messages`);
    const results = await Promise.allSettled(event.Records.map(record => processMessage(record, context)));
    const failures = results.filter(result => result.status === 'rejected');
    if (failures.length > 0) {
        console.error(`${failures.length} messages failed processing`);
        throw new Error('Some messages failed processing');
    }
};
exports.handler = handler;
async function processMessage(record, context) {
    try {
        // Parse the SNS message from SQS record
        const snsMessage = JSON.parse(record.body);
        const orderEvent = JSON.parse(snsMessage.Message);
        validateOrderEvent(orderEvent);
        switch (orderEvent.eventType) {
            case events_1.OrderEventType.CREATED:
                await handleStandardOrderCreated(orderEvent);
                break;
            case events_1.OrderEventType.CANCELLED:
                await handleOrderCancelled(orderEvent);
                break;
            default:
                console.warn(`Unhandled event type for standard processing: ${orderEvent.eventType}`);
        }
        console.log(`Successfully processed standard order event: ${orderEvent.orderId}`);
    }
    catch (error) {
        console.error('Error processing standard order message:', error);
        throw error;
    }
}
async function handleStandardOrderCreated(event) {
    console.log(`Processing standard order creation: ${event.orderId} (${event.metadata.priority})`);
    await reserveInventory(event.data.items);
}
async function handleOrderCancelled(event) {
    console.log(`Processing order cancellation: ${event.orderId}`);
    await releaseInventory(event.data.items);
}
function validateOrderEvent(event) {
    if (!event.eventId || !event.orderId || !event.eventType) {
        throw new Error('Invalid order event: missing required fields');
    }
    if (!event.data || !event.metadata) {
        throw new Error('Invalid order event: missing data or metadata');
    }
}
// Placeholder implementations for business logic
async function reserveInventory(items) {
    // Implementation would integrate with inventory system
}
async function releaseInventory(items) {
    // Implementation would return items to the inventory system
}
