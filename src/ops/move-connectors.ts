/**
 * A move's outbox connectors (repartition.ts): the ones writing the application's start and
 * reply topics stopped at the freeze, then at the switch rerouted to the next generation, or,
 * when it is made in another region, taken over by that region's Connect.
 */
import { UsageError } from "../errors/index.js";
import type { KafkaSettings } from "../kafka/index.js";
import type { ConnectClient, ConnectorConfig } from "../outbox/index.js";
import { waitUntil } from "../util/index.js";
import { connectorConfigs, connectorsWriting, ROUTE_KEY } from "./connector-routes.js";

export interface ConnectorRoute {
  name: string;
  /** The route's topic replacement before and after. */
  from: string;
  to: string;
}

/** Another region's cluster, where the next generation is made. */
export interface MoveTarget {
  region: string;
  kafka: KafkaSettings;
  /** Its Connect, where the application's outbox connectors are made to run. */
  connect?: ConnectClient | undefined;
  /** A connector's config there, from its config in the old region (the route already new). */
  connectorConfig: (config: ConnectorConfig) => Promise<ConnectorConfig>;
}

/**
 * The connectors whose route writes one of `inputs` (start and reply topics), stopped (their
 * services keep writing their outbox tables; the rows wait in the WAL).
 */
export async function stopRoutedConnectors(
  connect: ConnectClient | undefined,
  inputs: readonly { topic: string; newTopic: string }[],
  fromGeneration: number,
  log: (line: string) => void,
): Promise<ConnectorRoute[]> {
  if (connect === undefined) return [];
  const routes: ConnectorRoute[] = [];
  const writing = connectorsWriting(
    await connectorConfigs(connect),
    inputs.map((t) => t.topic),
  );
  for (const { name, route, topic } of writing) {
    const written = inputs.find((t) => t.topic === topic);
    if (written === undefined) continue;
    // The new route names what the old one did with the new topic's suffix in place of the old.
    const to = written.newTopic.slice(written.topic.length);
    const from = fromGeneration === 0 ? route : route.replace(/\.g\d+$/, "");
    routes.push({ name, from: route, to: `${from}${to}` });
    await connect.stop(name);
    log(`connector ${name} stopped (it routes to ${written.topic})`);
  }
  for (const { name } of routes) {
    await waitUntil(async () => (await connect.isStopped(name)) || undefined, {
      timeoutMs: 60_000,
      description: `connector ${name} to stop`,
    });
  }
  return routes;
}

/**
 * A connector of the old region made to run in the new one, stopped: its config there from
 * the old region's (a stopped connector keeps it) with the new route, whatever offsets an
 * earlier connector of its name left there forgotten (they are the old region's, from before
 * its failover).
 */
export async function takeOver(
  from: ConnectClient | undefined,
  into: MoveTarget,
  route: ConnectorRoute,
): Promise<void> {
  const config = await from?.config(route.name);
  if (config === undefined) {
    throw new UsageError(
      `connector ${route.name} is gone from the old region's Connect: create it in region ${into.region} routing to ${route.to}`,
    );
  }
  const { connect, connectorConfig } = into;
  const moved = await connectorConfig({ ...config, [ROUTE_KEY]: route.to });
  if (connect === undefined) return;
  if ((await connect.status(route.name)) !== undefined) {
    await connect.stop(route.name);
    await waitUntil(async () => (await connect.isStopped(route.name)) || undefined, {
      timeoutMs: 60_000,
      description: `connector ${route.name} to stop in region ${into.region}`,
    });
    await connect.resetOffsets(route.name);
  }
  await connect.put(route.name, moved);
}

export async function reroute(
  connect: ConnectClient | undefined,
  route: ConnectorRoute,
): Promise<void> {
  if (connect === undefined) return;
  const config = await connect.config(route.name);
  if (config === undefined) {
    throw new UsageError(`connector ${route.name} is gone: recreate it routing to ${route.to}`);
  }
  if (config[ROUTE_KEY] !== route.to)
    await connect.put(route.name, { ...config, [ROUTE_KEY]: route.to });
}
