"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.handler = void 0;
const events_1 = require("../types/events");
const handler = async (event, context) => {
    console.log(`Processing ${event.Records.length} critical order messages`);
    const results = await Promise.allSettled(event.Records.map(record => processMessage(record, context)));
    // Handle partial failures
    const failures = results.filter(result => result.status === 'rejected');
    if (failures.length > 0) {
        console.error(`${failures.length} messages failed processing`);
        // In a real implementation, you might implement selective retry
        throw new Error('Some messages failed processing');
    }
};
exports.handler = handler;
async function processMessage(record, context) {
    try {
        // Parse the SNS message from SQS record
        const snsMessage = JSON.parse(record.body);
        const orderEvent = JSON.parse(snsMessage.Message);
        // Validate event structure
        validateOrderEvent(orderEvent);
        // Route to appropriate handler
        switch (orderEvent.eventType) {
            case events_1.OrderEventType.CREATED:
                await handleCriticalOrderCreated(orderEvent);
                break;
            case events_1.OrderEventType.PAYMENT_PROCESSED:
                await handleCriticalPaymentProcessed(orderEvent);
                break;
            default:
                console.warn(`Unhandled event type for critical processing: ${orderEvent.eventType}`);
        }
        console.log(`Successfully processed critical order event: ${orderEvent.orderId}`);
    }
    catch (error) {
        console.error('Error processing critical order message:', error);
        // Re-throw to trigger SQS retry mechanism
        throw error;
    }
}
async function handleCriticalOrderCreated(event) {
    // Prioritized processing for high-value orders
    console.log(`Processing critical order creation: ${event.orderId}`);
    // Implement expedited inventory reservation
    await reserveInventoryUrgent(event.data.items);
    // Send immediate notification to fulfillment team
    await notifyFulfillmentTeam(event);
    // Update analytics with high-priority flag
    await recordCriticalOrderMetrics(event);
}
async function handleCriticalPaymentProcessed(event) {
    console.log(`Processing critical payment: ${event.orderId}`);
    // Immediate fraud check for high-value transactions
    await performEnhancedFraudCheck(event);
    // Expedite shipping preparation
    await initiatePriorityShipping(event);
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
async function reserveInventoryUrgent(items) {
    // Implementation would integrate with inventory system
}
async function notifyFulfillmentTeam(event) {
    // Implementation would send alerts to fulfillment team
}
async function recordCriticalOrderMetrics(event) {
    // Implementation would record metrics in CloudWatch
}
async function performEnhancedFraudCheck(event) {
    // Implementation would perform additional fraud checks
}
async function initiatePriorityShipping(event) {
    // Implementation would prioritize in shipping queue
}
