/** The worked example: an order saga over payment, inventory and shipping services. */
export { orderSaga, PARTICIPANTS, type OrderData, type OrderLine } from "./saga.js";
export { FaultPlan, type FaultRates } from "./faults.js";
export {
  startParticipants,
  serviceSchemas,
  type ParticipantServicesOptions,
} from "./participants.js";
export {
  startOrderService,
  orderTopic,
  type OrderService,
  type OrderServiceOptions,
} from "./order-service.js";
