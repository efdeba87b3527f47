/** Participants: handle saga commands once, behind circuit breakers, and reply. */
export {
  createParticipant,
  type Participant,
  type ParticipantOptions,
  type ParticipantStats,
  type CommandContext,
  type CommandHandler,
} from "./participant.js";
export {
  CircuitBreaker,
  CircuitBreakers,
  CircuitState,
  DEFAULT_CIRCUIT_BREAKER,
  type CircuitBreakerOptions,
} from "./circuit-breaker.js";
export { IdempotencyStore, Outcome, type HandledCommand } from "./idempotency.js";
