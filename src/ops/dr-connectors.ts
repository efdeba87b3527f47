/**
 * A failover's outbox connectors: the old region's stopped where its Connect answers, and the
 * application's created in the new region's Connect, each on a copy of its replication slot
 * (cdc-slots.ts), found in the old Connect or in its config topic as mirrored.
 */
import type { ConnectorConfig } from "../outbox/index.js";
import { waitUntil } from "../util/index.js";
import { copySlot, dropSlot, slotIn } from "./cdc-slots.js";
import { connectorConfigs, connectorsWriting } from "./connector-routes.js";
import type { RegionEndpoint } from "./dr-failover.js";
import { readMirroredConnectorConfigs } from "./mirrored-connect-configs.js";

/** The old region's connectors writing the application's inputs, stopped where it answers. */
export async function stopConnectors(
  from: RegionEndpoint,
  inputs: readonly string[],
  dryRun: boolean,
  log: (line: string) => void,
): Promise<void> {
  const connect = from.connect;
  if (connect === undefined) return;
  const configs = await connectorConfigs(connect).catch(() => undefined);
  if (configs === undefined) {
    log(`Connect of region ${from.name} does not answer: its connectors are not stopped`);
    return;
  }
  for (const { name } of connectorsWriting(configs, inputs)) {
    if (dryRun) {
      log(`would stop connector ${name} in ${from.name}`);
      continue;
    }
    await connect.stop(name);
    log(`connector ${name} in ${from.name} stopped`);
  }
}

/**
 * The application's outbox connectors, found in the old region's Connect or, when it does not
 * answer, in its config topic mirrored into the new region, created in the new region's Connect
 * on a copy of their slots.
 */
export async function createConnectors(options: {
  applicationId: string;
  from: RegionEndpoint;
  to: RegionEndpoint;
  /** Whether the old region answered: its Connect is asked first. */
  fromReachable: boolean;
  /** The old Connect's config topic as mirrored into the new region. */
  mirroredConnectConfigs?: string | undefined;
  /** The application's input topics. */
  inputs: readonly string[];
  dryRun: boolean;
  log: (line: string) => void;
}): Promise<string[]> {
  const { from, to, log } = options;
  if (to.connect === undefined) {
    log(
      `no Connect given for region ${to.name}: create ${options.applicationId}'s outbox connectors there yourself`,
    );
    return [];
  }
  const fromConnect = options.fromReachable ? from.connect : undefined;
  let configs =
    fromConnect === undefined
      ? undefined
      : await connectorConfigs(fromConnect).catch(() => undefined);
  if (configs === undefined && options.mirroredConnectConfigs !== undefined) {
    configs = await readMirroredConnectorConfigs(to.kafka, options.mirroredConnectConfigs);
    log(`connectors read from ${options.mirroredConnectConfigs} as mirrored into ${to.name}`);
  }
  if (configs === undefined) {
    log(
      `the connectors of region ${from.name} cannot be read: create ${options.applicationId}'s outbox connectors in ${to.name} yourself`,
    );
    return [];
  }
  const created: string[] = [];
  for (const { name, config } of connectorsWriting(configs, options.inputs)) {
    const slot = config["slot.name"] ?? `${name}_slot`;
    const copy = slotIn(slot, from.name, to.name);
    if (options.dryRun) {
      log(
        `would copy slot ${slot} to ${copy} and create connector ${name} in ${to.name} reading it`,
      );
      continue;
    }
    const copied = await copySlot(config, slot, copy);
    if (copied === "no source") {
      log(
        `slot ${slot} is gone: connector ${name} in ${to.name} starts a new slot ${copy} at the WAL's end (rows since ${slot}'s last confirmed position are not published)`,
      );
    }
    await to.connect.put(name, withSlot(config, copy));
    created.push(name);
    log(
      `connector ${name} created in ${to.name}, reading slot ${copy}${copied === "copied" ? ` (a copy of ${slot})` : ""}`,
    );
  }
  for (const name of created) {
    await waitUntil(async () => (await to.connect?.isRunning(name)) || undefined, {
      timeoutMs: 120_000,
      description: `connector ${name} to run in region ${to.name}`,
    });
  }
  return created;
}

/** The config with another slot (and without the `name` Connect's REST API adds). */
function withSlot(config: ConnectorConfig, slot: string): ConnectorConfig {
  const rest = Object.fromEntries(Object.entries(config).filter(([k]) => k !== "name"));
  return { ...rest, "slot.name": slot };
}

/**
 * A connector's config for region `to` on a copy of its slot in region `from`, where it stands
 * now: the slot of that name, left by `to`'s connector from before the failover (behind what
 * `from` has published since), is dropped first.
 */
export async function onSlotCopy(
  config: ConnectorConfig,
  from: string,
  to: string,
  log: (line: string) => void,
): Promise<ConnectorConfig> {
  const slot = config["slot.name"];
  if (slot === undefined) throw new Error("an outbox connector's config names its slot.name");
  const copy = slotIn(slot, from, to);
  if (await dropSlot(config, copy)) log(`slot ${copy}, left from before the failover, dropped`);
  const copied = await copySlot(config, slot, copy);
  log(
    copied === "copied"
      ? `slot ${slot} copied to ${copy}`
      : `slot ${slot} is gone: ${copy} starts at the WAL's end`,
  );
  return withSlot(config, copy);
}

/** The connectors `names` deleted from a region's Connect, and their slots dropped. */
export async function removeConnectors(
  region: RegionEndpoint,
  names: readonly string[],
  dryRun: boolean,
  log: (line: string) => void,
): Promise<void> {
  const { connect } = region;
  if (connect === undefined) return;
  for (const name of names) {
    const config = await connect.config(name);
    if (config === undefined) continue;
    const slot = config["slot.name"];
    if (dryRun) {
      log(`would delete connector ${name} in ${region.name} and drop its slot ${slot ?? "?"}`);
      continue;
    }
    await connect.delete(name);
    const dropped = slot !== undefined && (await dropSlot(config, slot));
    log(
      `connector ${name} deleted in ${region.name}${dropped ? `, its slot ${slot} dropped` : ""}`,
    );
  }
}
