/**
 * The saga definitions a worker runs, by name and version. New instances start on a saga's
 * latest version; an instance in flight keeps the version it started with, so every version
 * with instances still running must stay deployed.
 */
import { SagaDefinitionError } from "../errors/index.js";
import type { AnySagaDefinition, SagaDefinition } from "./definition.js";
import type { SagaState } from "./state.js";

export class SagaRegistry {
  private readonly byVersion = new Map<string, SagaDefinition<unknown>>();
  private readonly latestByName = new Map<string, SagaDefinition<unknown>>();

  constructor(definitions: readonly AnySagaDefinition[]) {
    for (const definition of definitions as readonly SagaDefinition<unknown>[]) {
      const key = `${definition.name}@${definition.version}`;
      if (this.byVersion.has(key)) {
        throw new SagaDefinitionError(
          definition.name,
          `version ${definition.version} is deployed twice`,
        );
      }
      this.byVersion.set(key, definition);
      const latest = this.latestByName.get(definition.name);
      if (latest === undefined || latest.version < definition.version) {
        this.latestByName.set(definition.name, definition);
      }
    }
  }

  latest(name: string): SagaDefinition<unknown> | undefined {
    return this.latestByName.get(name);
  }

  version(name: string, version: number): SagaDefinition<unknown> | undefined {
    return this.byVersion.get(`${name}@${version}`);
  }

  /**
   * The definition an instance in flight runs on: its version, as it was when the instance
   * started (same fingerprint); or why this worker cannot run it.
   */
  runnerOf(state: SagaState): { definition: SagaDefinition<unknown> } | { reason: string } {
    const definition = this.version(state.sagaType, state.version);
    if (definition === undefined) {
      return {
        reason: `saga ${state.sagaType} v${state.version} is not deployed on this worker: deploy it again, and keep every version with instances in flight deployed`,
      };
    }
    if (state.fingerprint !== undefined && state.fingerprint !== definition.fingerprint) {
      return {
        reason: `saga ${state.sagaType} v${state.version} was edited since this instance started (fingerprint ${state.fingerprint}, deployed ${definition.fingerprint}): deploy the edit as a new version and the original as v${state.version}`,
      };
    }
    return { definition };
  }

  all(): SagaDefinition<unknown>[] {
    return [...this.byVersion.values()];
  }

  participants(): string[] {
    return [...new Set(this.all().flatMap((d) => d.participants))].sort();
  }
}
