/**
 * The saga definitions a worker runs, by name and version. New instances start on a saga's
 * latest version; an instance in flight keeps the version it started with, so every version
 * with instances still running must stay deployed.
 */
import { SagaDefinitionError } from "../errors/index.js";
import type { AnySagaDefinition, SagaDefinition } from "./definition.js";

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

  all(): SagaDefinition<unknown>[] {
    return [...this.byVersion.values()];
  }

  participants(): string[] {
    return [...new Set(this.all().flatMap((d) => d.participants))].sort();
  }
}
