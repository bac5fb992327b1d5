/**
 * The architecture diagram of one service environment: a Graphviz graph built from the deployment's
 * model and laid out by Graphviz itself (compiled to WebAssembly by @viz-js/viz). The same model gives
 * the same DOT text, and Graphviz lays out the same text the same way, so the SVG is byte-stable.
 */
import type { Viz } from '@viz-js/viz';

export interface ArchitectureModel {
  readonly service: { readonly id: string; readonly name: string; readonly kind: 'service' | 'job' };
  readonly environment: { readonly id: string; readonly category: string; readonly runtime: string };
  readonly domain?: string;
  readonly workload: {
    readonly minCount: number;
    readonly maxCount: number;
    readonly cpu: number;
    readonly memory: string;
  };
  readonly postgreSQL?: {
    readonly databases: readonly string[];
    readonly cpu: number;
    readonly memoryGB: number;
    readonly maxConnections: number;
    readonly highAvailability: boolean;
  };
  readonly volumes: readonly { readonly name: string; readonly sizeGB: number }[];
  readonly alerting: {
    readonly policies: number;
    readonly channels: readonly string[];
    readonly pagesOwners: boolean;
  };
}

/** At most this many workload instances are drawn; the rest are summarised in one node. */
const DRAWN_INSTANCES = 3;

/** A DOT string literal. */
function q(text: string): string {
  return '"' + text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') + '"';
}

function attrs(values: Record<string, string | number | undefined>): string {
  const parts = Object.entries(values)
    .filter((e): e is [string, string | number] => e[1] !== undefined)
    .map(([k, v]) => `${k}=${typeof v === 'number' ? String(v) : q(v)}`);
  return parts.length === 0 ? '' : ` [${parts.join(', ')}]`;
}

const palette = {
  workload: '#e3f2fd',
  database: '#e8f5e9',
  storage: '#fff8e1',
  alerting: '#fce4ec',
  edge: '#455a64',
} as const;

/** Builds the Graphviz DOT text of an environment's architecture. Pure and deterministic. */
export function architectureDot(model: ArchitectureModel): string {
  const lines: string[] = [];
  const add = (line: string): void => {
    lines.push(line);
  };
  const { service, environment, workload } = model;
  add(`digraph ${q(`${service.id}-${environment.id}`)} {`);
  add(
    `  graph${attrs({
      rankdir: 'LR',
      fontname: 'Helvetica',
      fontsize: 14,
      labelloc: 't',
      label: `${service.name} - ${environment.id} (${environment.category}, ${environment.runtime} runtime)`,
      nodesep: 0.35,
      ranksep: 0.7,
      compound: 'true',
      pad: 0.3,
    })};`,
  );
  add(
    `  node${attrs({ fontname: 'Helvetica', fontsize: 11, shape: 'box', style: 'rounded,filled', margin: '0.2,0.08' })};`,
  );
  add(`  edge${attrs({ fontname: 'Helvetica', fontsize: 9, color: palette.edge })};`);

  // Entry: clients reach the workload through the proxy on the domain.
  const instanceIds: string[] = [];
  const drawn = Math.max(1, Math.min(workload.minCount, DRAWN_INSTANCES));
  for (let i = 1; i <= drawn; i++) instanceIds.push(`instance_${i}`);
  if (model.domain !== undefined && service.kind === 'service') {
    add(`  clients${attrs({ label: 'Clients', shape: 'oval', style: 'filled', fillcolor: 'white' })};`);
    add(
      `  proxy${attrs({ label: `Proxy\nhttps://${model.domain}`, shape: 'box', fillcolor: palette.workload })};`,
    );
    add(`  clients -> proxy${attrs({ label: 'HTTPS' })};`);
  }

  // The workload: its instances, drawn up to a few, and what scaling allows.
  const scaling =
    service.kind === 'job'
      ? 'job'
      : workload.minCount === workload.maxCount
        ? `${workload.minCount} instance(s)`
        : `${workload.minCount}-${workload.maxCount} instances`;
  add(`  subgraph cluster_workload {`);
  add(
    `    graph${attrs({
      label: `${service.id} workload: ${scaling}, ${workload.cpu} CPU, ${workload.memory} each`,
      style: 'rounded,dashed',
      color: palette.edge,
    })};`,
  );
  for (const [index, id] of instanceIds.entries()) {
    add(`    ${id}${attrs({ label: `${service.id}\ninstance ${index + 1}`, fillcolor: palette.workload })};`);
  }
  const extra = workload.maxCount - drawn;
  if (service.kind === 'service' && extra > 0) {
    add(
      `    instance_more${attrs({
        label: `up to ${extra} more\n(autoscaled)`,
        style: 'rounded,dashed',
        fillcolor: 'white',
      })};`,
    );
    instanceIds.push('instance_more');
  }
  add('  }');
  if (model.domain !== undefined && service.kind === 'service') {
    for (const id of instanceIds) add(`  proxy -> ${id};`);
  }

  // PostgreSQL: one cluster per deployment, one node per database.
  const databaseIds: string[] = [];
  if (model.postgreSQL !== undefined) {
    const pg = model.postgreSQL;
    add('  subgraph cluster_postgresql {');
    add(
      `    graph${attrs({
        label: `PostgreSQL cluster${pg.highAvailability ? ' (primary + standby)' : ''}\n${pg.cpu} CPU, ${pg.memoryGB} GB, max ${pg.maxConnections} connections`,
        style: 'rounded',
        color: palette.edge,
      })};`,
    );
    for (const [index, name] of pg.databases.entries()) {
      const id = `database_${index + 1}`;
      databaseIds.push(id);
      add(
        `    ${id}${attrs({ label: name, shape: 'cylinder', style: 'filled', fillcolor: palette.database })};`,
      );
    }
    add('  }');
    const first = instanceIds[0];
    for (const id of instanceIds)
      for (const db of databaseIds)
        add(`  ${id} -> ${db}${attrs({ label: id === first ? 'SQL' : undefined })};`);
  }

  // Volumes: persistent disks the workload keeps state in.
  const volumeIds: string[] = [];
  for (const [index, volume] of model.volumes.entries()) {
    const id = `volume_${index + 1}`;
    volumeIds.push(id);
    add(
      `  ${id}${attrs({
        label: `volume ${volume.name}\n${volume.sizeGB} GB`,
        shape: 'folder',
        style: 'filled',
        fillcolor: palette.storage,
      })};`,
    );
    for (const instance of instanceIds) add(`  ${instance} -> ${id}${attrs({ dir: 'both' })};`);
  }

  // Backups: WAL archive and base backups of the cluster, snapshots of the volumes.
  if (databaseIds.length > 0 || volumeIds.length > 0) {
    add(
      `  backups${attrs({ label: 'Backup repository', shape: 'box3d', style: 'filled', fillcolor: palette.storage })};`,
    );
    const firstDb = databaseIds[0];
    if (firstDb !== undefined)
      add(
        `  ${firstDb} -> backups${attrs({ label: 'WAL archive +\nbase backups', style: 'dashed', ltail: 'cluster_postgresql' })};`,
      );
    for (const id of volumeIds) add(`  ${id} -> backups${attrs({ label: 'snapshots', style: 'dashed' })};`);
  }

  // Alerting: the policies watching this environment and where they notify.
  const notify = [
    ...model.alerting.channels,
    ...(model.alerting.pagesOwners ? ['pages owners (CRITICAL)'] : []),
  ];
  add(
    `  alerting${attrs({
      label: `Alerting: ${model.alerting.policies} policies\n${notify.join('\n')}`,
      shape: 'note',
      style: 'filled',
      fillcolor: palette.alerting,
    })};`,
  );
  const watched = instanceIds[0];
  if (watched !== undefined)
    add(
      `  ${watched} -> alerting${attrs({ style: 'dotted', arrowhead: 'none', ltail: 'cluster_workload' })};`,
    );
  const firstDb = databaseIds[0];
  if (firstDb !== undefined)
    add(
      `  ${firstDb} -> alerting${attrs({ style: 'dotted', arrowhead: 'none', ltail: 'cluster_postgresql' })};`,
    );

  add('}');
  return lines.join('\n') + '\n';
}

let vizInstance: Promise<Viz> | undefined;

/** One Graphviz instance per process: loading the WebAssembly module is the expensive part. */
function viz(): Promise<Viz> {
  vizInstance ??= import('@viz-js/viz').then((m) => m.instance());
  return vizInstance;
}

/** Lays out DOT text with Graphviz and returns the SVG document. */
export async function renderSvg(dot: string): Promise<string> {
  const result = (await viz()).render(dot, { format: 'svg', engine: 'dot' });
  if (result.status !== 'success') {
    const messages = result.errors.map((e) => e.message).join('; ');
    throw new Error(`Graphviz could not lay out the architecture diagram: ${messages}`);
  }
  return result.output;
}

/** The SVG architecture diagram of one service environment. */
export async function renderArchitectureDiagram(model: ArchitectureModel): Promise<string> {
  return renderSvg(architectureDot(model));
}
