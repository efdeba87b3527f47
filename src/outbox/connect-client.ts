/** A small client of the Kafka Connect REST API: put, inspect and delete connectors. */
import { waitUntil } from "../util/index.js";

export type ConnectorConfig = Record<string, string>;

export interface ConnectorStatus {
  name: string;
  connector: { state: string; trace?: string };
  tasks: { id: number; state: string; trace?: string }[];
}

export class ConnectError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class ConnectClient {
  /** `timeoutMs`: how long a request may take (default 30 s). */
  constructor(
    private readonly baseUrl: string,
    private readonly timeoutMs = 30_000,
  ) {}

  private async request<T>(method: string, path: string, body?: unknown): Promise<T | undefined> {
    const init: RequestInit = { method, signal: AbortSignal.timeout(this.timeoutMs) };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { "content-type": "application/json" };
    }
    const response = await fetch(`${this.baseUrl}${path}`, init);
    if (response.status === 404 && method === "GET") return undefined;
    const text = await response.text();
    if (!response.ok) {
      throw new ConnectError(
        response.status,
        `Connect ${method} ${path} answered ${response.status}: ${text}`,
      );
    }
    return text === "" ? undefined : (JSON.parse(text) as T);
  }

  /** Creates the connector, or updates its config if it exists (idempotent). */
  async put(name: string, config: ConnectorConfig): Promise<void> {
    await this.request("PUT", `/connectors/${encodeURIComponent(name)}/config`, config);
  }

  async list(): Promise<string[]> {
    return (await this.request<string[]>("GET", "/connectors")) ?? [];
  }

  async config(name: string): Promise<ConnectorConfig | undefined> {
    return this.request<ConnectorConfig>("GET", `/connectors/${encodeURIComponent(name)}/config`);
  }

  /**
   * Shuts its tasks down, their offsets committed and their configs dropped (KIP-875; Connect
   * 3.5 and later): unlike a pause, no task of the old config is left to send what it holds
   * once resumed. A new config keeps it stopped; `resume` starts tasks of the latest config.
   */
  async stop(name: string): Promise<void> {
    await this.request("PUT", `/connectors/${encodeURIComponent(name)}/stop`);
  }

  /**
   * Forgets the offsets it committed (KIP-875; it must be stopped): it starts again as a new
   * connector would, a Debezium one where its replication slot stands.
   */
  async resetOffsets(name: string): Promise<void> {
    await this.request("DELETE", `/connectors/${encodeURIComponent(name)}/offsets`);
  }

  async resume(name: string): Promise<void> {
    await this.request("PUT", `/connectors/${encodeURIComponent(name)}/resume`);
  }

  /** True when the connector is stopped and has no task left. */
  async isStopped(name: string): Promise<boolean> {
    const status = await this.status(name);
    return status?.connector.state === "STOPPED" && status.tasks.length === 0;
  }

  async status(name: string): Promise<ConnectorStatus | undefined> {
    return this.request<ConnectorStatus>("GET", `/connectors/${encodeURIComponent(name)}/status`);
  }

  /** Deletes the connector and waits until Connect no longer lists it (deletion is async). */
  async delete(name: string, timeoutMs = 30_000): Promise<void> {
    await this.request("DELETE", `/connectors/${encodeURIComponent(name)}`);
    await waitUntil(async () => ((await this.status(name)) === undefined ? true : undefined), {
      timeoutMs,
      description: `Connect to forget connector ${name}`,
    });
  }

  /** True when the connector and all its tasks run; throws with the trace if one failed. */
  async isRunning(name: string): Promise<boolean> {
    const status = await this.status(name);
    if (status === undefined) return false;
    const failed = [status.connector, ...status.tasks].find((s) => s.state === "FAILED");
    if (failed !== undefined) {
      throw new ConnectError(500, `connector ${name} failed: ${failed.trace ?? "no trace"}`);
    }
    return (
      status.connector.state === "RUNNING" &&
      status.tasks.length > 0 &&
      status.tasks.every((t) => t.state === "RUNNING")
    );
  }
}
