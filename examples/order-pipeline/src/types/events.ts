// src/types/events.ts
export interface OrderEvent {
  eventId: string;
  eventType: OrderEventType;
  orderId: string;
  timestamp: string;
  version: string;
  source: string;
  data: OrderData;
  metadata: EventMetadata;
}

export enum OrderEventType {
  CREATED = 'ORDER_CREATED',
  UPDATED = 'ORDER_UPDATED',
  CANCELLED = 'ORDER_CANCELLED',
  PAYMENT_PROCESSED = 'PAYMENT_PROCESSED',
  FULFILLED = 'ORDER_FULFILLED'
}

export interface OrderData {
  customerId: string;
  items: OrderItem[];
  totalAmount: number;
  currency: string;
  status: OrderStatus;
  shippingAddress?: Address;
}

export interface EventMetadata {
  priority: MessagePriority;
  correlationId: string;
  causationId?: string;
  userId?: string;
}

export enum MessagePriority {
  HIGH = 'HIGH',
  MEDIUM = 'MEDIUM', 
  LOW = 'LOW'
}

export interface OrderItem {
  productId: string;
  quantity: number;
  unitPrice: number;
  productName: string;
}

export enum OrderStatus {
  PENDING = 'PENDING',
  CONFIRMED = 'CONFIRMED',
  PROCESSING = 'PROCESSING',
  SHIPPED = 'SHIPPED',
  DELIVERED = 'DELIVERED',
  CANCELLED = 'CANCELLED'
}

// Not in the seed: OrderData refers to Address, which the post never defines.
export interface Address {
  street: string;
  city: string;
  postalCode: string;
  country: string;
}
