/**
 * What the control plane needs from a runtime target (the local runtime today; Kubernetes and GCP later).
 * The API and the reconciler speak to this port only.
 */
import type { OperationExecutor } from './operations/engine.js';

export interface InstanceStatus {
  id: string;
  state: string;
  pid?: number;
  port?: number;
  restarts: number;
  release?: string;
  lastError?: string;
}

export interface DeploymentRuntimeStatus {
  key: string;
  instances: InstanceStatus[];
  urls: string[];
  database?: { port: number; databases: string[]; running: boolean };
  pendingRequests: number;
}

export interface TemporaryDbAccess {
  user: string;
  password: string;
  host: string;
  port: number;
  databases: string[];
  validUntil?: string;
}

export interface LogQuery {
  since?: Date;
  follow?: boolean;
  signal?: AbortSignal;
}

export interface RuntimeTarget {
  readonly name: string;
  executor: OperationExecutor;
  status(key: string): DeploymentRuntimeStatus | undefined;
  isRunning(key: string): boolean;
  proxyUrl(): string | undefined;
  logs(
    key: string,
    query: LogQuery,
  ): AsyncIterable<{ at: string; stream: string; instance: string; line: string }>;
  grantDatabaseAccess(
    key: string,
    request: { access: 'read' | 'write'; validForSeconds: number },
  ): Promise<TemporaryDbAccess>;
  metrics(): { pendingRequests: Record<string, number> };
  stop(): Promise<void>;
}
