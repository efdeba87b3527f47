/**
 * The example order saga: an order placed by the order service is paid for, its stock is
 * reserved, and it is shipped. Shipping is the pivot: once a parcel has left, the order is
 * never undone. A refused payment ends the saga at once; a refused reservation refunds the
 * payment first.
 */
import { defineSaga, step } from "sagastream";

export interface OrderLine {
  sku: string;
  quantity: number;
}

export interface OrderData {
  orderId: string;
  customerId: string;
  amountCents: number;
  items: OrderLine[];
  paymentId?: string;
  reservationId?: string;
  trackingNumber?: string;
}

export const PARTICIPANTS = ["payment", "inventory", "shipping"] as const;

export interface OrderSagaTimeouts {
  /** How long each participant may take to answer (default 2 s). */
  stepTimeoutMs?: number | undefined;
}

/** The order saga's steps, each answered within `timeoutMs`; versions arrange them. */
export function orderSteps(timeoutMs = 2_000) {
  return {
    chargePayment: step<OrderData>({
      name: "charge-payment",
      participant: "payment",
      command: (o) => ({
        type: "ChargePayment",
        payload: { orderId: o.orderId, customerId: o.customerId, amountCents: o.amountCents },
      }),
      compensation: (o) => ({
        type: "RefundPayment",
        payload: { orderId: o.orderId, paymentId: o.paymentId ?? "" },
      }),
      timeoutMs,
      onSuccess: (o, result) => ({ ...o, paymentId: result.paymentId ?? "" }),
    }),
    reserveStock: step<OrderData>({
      name: "reserve-stock",
      participant: "inventory",
      command: (o) => ({ type: "ReserveStock", payload: { orderId: o.orderId, items: o.items } }),
      compensation: (o) => ({
        type: "ReleaseStock",
        payload: { orderId: o.orderId, reservationId: o.reservationId ?? "" },
      }),
      timeoutMs,
      onSuccess: (o, result) => ({ ...o, reservationId: result.reservationId ?? "" }),
    }),
    shipOrder: step<OrderData>({
      name: "ship-order",
      participant: "shipping",
      command: (o) => ({ type: "ShipOrder", payload: { orderId: o.orderId } }),
      pivot: true,
      timeoutMs,
      onSuccess: (o, result) => ({ ...o, trackingNumber: result.trackingNumber ?? "" }),
    }),
  };
}

export function orderSaga(options: OrderSagaTimeouts = {}) {
  const { chargePayment, reserveStock, shipOrder } = orderSteps(options.stepTimeoutMs ?? 2_000);
  return defineSaga<OrderData>({
    name: "order",
    version: 1,
    participants: PARTICIPANTS,
    stages: [chargePayment, reserveStock, shipOrder],
  });
}
