/**
 * Which outbox connectors write an application's input topics: a Debezium Outbox EventRouter
 * (outbox/connector-config.ts) names its topics by a route with `${routedByValue}` in it.
 */
import type { ConnectClient, ConnectorConfig } from "../outbox/index.js";

/** The EventRouter's route setting. */
export const ROUTE_KEY = "transforms.outbox.route.topic.replacement";

export interface RoutedConnector {
  name: string;
  config: ConnectorConfig;
  /** Its route setting. */
  route: string;
  /** The topic of the application it writes. */
  topic: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Whether a connector routing by `route` may write `topic`. */
export function routeWrites(route: string, topic: string): boolean {
  const pattern = new RegExp(`^${route.split("${routedByValue}").map(escapeRegExp).join(".+")}$`);
  return pattern.test(topic);
}

/** The connectors among `configs` whose route writes one of `topics`. */
export function connectorsWriting(
  configs: ReadonlyMap<string, ConnectorConfig>,
  topics: readonly string[],
): RoutedConnector[] {
  const found: RoutedConnector[] = [];
  for (const [name, config] of configs) {
    const route = config[ROUTE_KEY];
    if (route === undefined) continue;
    const topic = topics.find((t) => routeWrites(route, t));
    if (topic !== undefined) found.push({ name, config, route, topic });
  }
  return found;
}

/** Every connector's config, as Connect's REST API lists them. */
export async function connectorConfigs(
  connect: ConnectClient,
): Promise<Map<string, ConnectorConfig>> {
  const configs = new Map<string, ConnectorConfig>();
  for (const name of await connect.list()) {
    const config = await connect.config(name);
    if (config !== undefined) configs.set(name, config);
  }
  return configs;
}
