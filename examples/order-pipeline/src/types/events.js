"use strict";
Object.defineProperty(exports, "__esModule", { value: true });
exports.OrderStatus = exports.MessagePriority = exports.OrderEventType = void 0;
var OrderEventType;
(function (OrderEventType) {
    OrderEventType["CREATED"] = "ORDER_CREATED";
    OrderEventType["UPDATED"] = "ORDER_UPDATED";
    OrderEventType["CANCELLED"] = "ORDER_CANCELLED";
    OrderEventType["PAYMENT_PROCESSED"] = "PAYMENT_PROCESSED";
    OrderEventType["FULFILLED"] = "ORDER_FULFILLED";
})(OrderEventType || (exports.OrderEventType = OrderEventType = {}));
var MessagePriority;
(function (MessagePriority) {
    MessagePriority["HIGH"] = "HIGH";
    MessagePriority["MEDIUM"] = "MEDIUM";
    MessagePriority["LOW"] = "LOW";
})(MessagePriority || (exports.MessagePriority = MessagePriority = {}));
var OrderStatus;
(function (OrderStatus) {
    OrderStatus["PENDING"] = "PENDING";
    OrderStatus["CONFIRMED"] = "CONFIRMED";
    OrderStatus["PROCESSING"] = "PROCESSING";
    OrderStatus["SHIPPED"] = "SHIPPED";
    OrderStatus["DELIVERED"] = "DELIVERED";
    OrderStatus["CANCELLED"] = "CANCELLED";
})(OrderStatus || (exports.OrderStatus = OrderStatus = {}));
