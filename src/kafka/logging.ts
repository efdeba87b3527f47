/**
 * @platformatic/kafka has no logger option: it emits events on each client and writes debug
 * output through the `debug` package (DEBUG=plt:kafka:*). Both are routed to pino here, at
 * levels an operator can live with: connections and retries at debug, group changes at info,
 * what may need a look (a broker unreachable, a heartbeat failing) at warn.
 */
import {
  loggers,
  type ConnectionPoolEventPayload,
  type ConsumerGroupJoinPayload,
  type ConsumerGroupLeavePayload,
  type ConsumerHeartbeatErrorPayload,
  type ConsumerHeartbeatStalledPayload,
} from "@platformatic/kafka";
import type { Logger } from "../log/index.js";

/** Any client of the library: they are event emitters. */
interface Client {
  on(event: string, listener: (...args: never[]) => void): unknown;
}

function broker(payload: ConnectionPoolEventPayload): string {
  return `${payload.broker.host}:${payload.broker.port}`;
}

/** Connections, metadata refreshes that had to retry, and a client's close. */
export function logClientEvents(client: Client, logger: Logger): void {
  client.on("client:broker:connect", (payload: ConnectionPoolEventPayload) => {
    logger.debug({ broker: broker(payload) }, "connected to a broker");
  });
  client.on("client:broker:disconnect", (payload: ConnectionPoolEventPayload) => {
    logger.debug({ broker: broker(payload) }, "disconnected from a broker");
  });
  client.on("client:broker:failed", (payload: ConnectionPoolEventPayload) => {
    logger.warn({ broker: broker(payload) }, "cannot connect to a broker; retrying");
  });
  client.on(
    "client:performWithRetry:retry",
    (operation: string, attempt: number, retries: number, delay: number) => {
      logger.debug({ operation, attempt, retries, delayMs: delay }, "retrying a Kafka request");
    },
  );
}

/** A consumer's group membership: joins, leaves, rebalances, heartbeats that fail. (`logger` names the group.) */
export function logConsumerEvents(consumer: Client, logger: Logger): void {
  consumer.on(
    "consumer:group:join",
    ({ memberId, generationId, assignments }: ConsumerGroupJoinPayload) => {
      logger.info(
        {
          memberId,
          generationId,
          assignments: assignments?.map((a) => `${a.topic}[${a.partitions.join(",")}]`),
        },
        "joined the consumer group",
      );
    },
  );
  consumer.on("consumer:group:leave", ({ memberId }: ConsumerGroupLeavePayload) => {
    logger.info({ memberId }, "left the consumer group");
  });
  consumer.on("consumer:group:rebalance", () => {
    logger.info("the consumer group is rebalancing");
  });
  consumer.on("consumer:heartbeat:error", ({ error }: ConsumerHeartbeatErrorPayload) => {
    logger.warn({ err: error }, "a consumer heartbeat failed; retrying");
  });
  consumer.on(
    "consumer:heartbeat:stalled",
    ({ stalledFor, lastError }: ConsumerHeartbeatStalledPayload) => {
      logger.warn({ stalledForMs: stalledFor, err: lastError }, "consumer heartbeats have stalled");
    },
  );
}

let debugRouted = false;

/**
 * Sends the client's debug output (enabled by DEBUG=plt:kafka:*, off otherwise) to `logger`
 * at debug instead of stderr. The `debug` loggers are global, so the first logger wins.
 */
export function routeClientDebugOutput(logger: Logger): void {
  if (debugRouted) return;
  debugRouted = true;
  const child = logger.child({ component: "platformatic-kafka" });
  const sections = loggers as Record<string, { log: (...args: unknown[]) => void }>;
  for (const [section, debug] of Object.entries(sections)) {
    debug.log = (...args: unknown[]) => {
      child.debug({ section }, args.map(String).join(" "));
    };
  }
}
