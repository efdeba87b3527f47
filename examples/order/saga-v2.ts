/**
 * Candidate next versions of the order saga, for `sagastream whatif` against a recorded run:
 * `reserveFirst` reserves the stock before charging (an order out of stock is then never
 * charged and refunded), `fraudChecked` asks a fraud service before charging.
 */
import { defineSaga } from "sagastream";
import { orderSteps, PARTICIPANTS, type OrderData } from "./saga.js";

const { chargePayment, reserveStock, shipOrder } = orderSteps();

export const reserveFirst = defineSaga<OrderData>({
  name: "order",
  version: 2,
  participants: PARTICIPANTS,
  stages: [reserveStock, chargePayment, shipOrder],
});

export const fraudChecked = defineSaga<OrderData>({
  name: "order",
  version: 2,
  participants: [...PARTICIPANTS, "fraud"],
  stages: [
    {
      name: "fraud-check",
      participant: "fraud",
      command: (o) => ({
        type: "CheckOrder",
        payload: { orderId: o.orderId, amountCents: o.amountCents },
      }),
      retriableOnly: true,
    },
    chargePayment,
    reserveStock,
    shipOrder,
  ],
});
