/**
 * A deployment (a service's environment or a managed instance): health, release, instances, its recent
 * operations, and its backups with the recoverable window drawn as a timeline (with the times its recent
 * restores went back to); a time picked on it (or typed) is the restore target.
 */
import { html } from 'hono/html';
import type { Operation, RecoverableWindow } from '@msp/core';
import type { DeploymentRow } from '../../state/store.js';
import type { DeploymentRuntimeStatus } from '../../runtime-port.js';
import type { BackupRow } from '../../backups/store.js';
import type { Session } from '../capabilities.js';
import { q, type UserApi } from '../client.js';
import {
  actionForm,
  badge,
  bytes,
  deploymentHref,
  jsonData,
  serviceHref,
  time,
  type Html,
} from '../layout.js';
import { operationsTable } from './operations.js';
import { incidentsTable } from './alerts.js';
import { instanceSection } from './instance.js';
import { signalsSection } from './signals.js';
import type { IncidentRow } from '../../alerts/store.js';

interface BackupsView {
  window: RecoverableWindow | null;
  lastGoodBaseBackup: { id: string; finishedAt: string; ageSeconds: number } | null;
  lastArchivedWal: { name: string; walEndTime: string; ageSeconds: number } | null;
  backups: BackupRow[];
}

function restoreForm(session: Session, key: string, view: BackupsView, back: string): Html {
  if (!session.can.has('restore') || !view.window) return html``;
  const from = Math.floor(Date.parse(view.window.from) / 1000);
  const to = Math.floor(Date.parse(view.window.to) / 1000);
  return html`<form
    id="restore-form"
    method="post"
    action="/ui/act/restore"
    data-confirm="Restore ${key} to {to} {where}? This cannot be undone in place."
    data-target="${key}"
    data-confirm-typed="in-place"
  >
    <input type="hidden" name="deployment" value="${key}" />
    <input type="hidden" name="back" value="${back}" />
    <input type="hidden" name="confirm" value="" />
    <label for="restore-slider">Restore point (drag, use the arrow keys, or click the timeline)</label>
    <input
      id="restore-slider"
      type="range"
      min="${from}"
      max="${to}"
      step="1"
      value="${to}"
      style="width:100%"
    />
    <div class="row">
      <div>
        <label for="restore-to">Time (RFC 3339, UTC)</label>
        <input id="restore-to" name="to" value="${view.window.to}" size="26" required />
      </div>
      <div>
        <label for="restore-type">What</label>
        <select id="restore-type" name="type">
          <option value="full">everything</option>
          <option value="database">the database</option>
        </select>
      </div>
      <div>
        <label for="restore-into">Into a clone named (empty: in place)</label>
        <input id="restore-into" name="into" value="" size="14" pattern="[a-z0-9][a-z0-9-]*" />
      </div>
      <div><button type="submit" class="danger">Restore…</button></div>
    </div>
  </form>`;
}

/** Stored and raw size of each base backup, in MiB, for a chart (dashboard.js `charts`). */
function sizes(bases: BackupRow[]) {
  const sorted = [...bases].sort((a, b) => Date.parse(a.finishedAt!) - Date.parse(b.finishedAt!));
  const mib = (n: number | null) => (n === null ? null : Math.round((n / 1048576) * 100) / 100);
  return {
    x: sorted.map((b) => Math.floor(Date.parse(b.finishedAt!) / 1000)),
    series: [
      { label: 'stored (MiB)', values: sorted.map((b) => mib(b.storedBytes)) },
      { label: 'raw (MiB)', values: sorted.map((b) => mib(b.rawBytes)) },
    ],
  };
}

/** The times this deployment's succeeded restores (among `ops`) brought it back to, for the timeline. */
function restoresOf(key: string, ops: Operation[]): Array<{ to: string; into: string | null }> {
  return ops.flatMap((o) => {
    const input = o.input as { target?: { kind?: string; time?: string }; into?: string } | undefined;
    const to = input?.target?.kind === 'time' ? input.target.time : undefined;
    return o.kind === 'restore' && o.status === 'succeeded' && o.deploymentKey === key && to
      ? [{ to, into: input?.into ?? null }]
      : [];
  });
}

function backupsSection(
  session: Session,
  key: string,
  view: BackupsView | null,
  ops: Operation[],
  back: string,
): Html {
  if (!view)
    return html`<p class="muted">This deployment has no backups API answer (no database or volumes).</p>`;
  const bases = view.backups.filter((b) => b.type === 'base' && b.status === 'succeeded' && b.finishedAt);
  const timeline = {
    window: view.window,
    backups: bases.map((b) => ({
      at: b.finishedAt,
      mib: Math.round(((b.storedBytes ?? 0) / 1048576) * 100) / 100,
    })),
    restores: restoresOf(key, ops),
  };
  return html`<p>
      Recoverable window:
      ${
        view.window
          ? html`<strong data-window-from="${view.window.from}">${view.window.from}</strong> →
              <strong data-window-to="${view.window.to}">${view.window.to}</strong>`
          : html`<span class="muted">none yet (no good base backup with archived WAL)</span>`
      }
      · last base backup ${time(view.lastGoodBaseBackup?.finishedAt)} · last archived WAL
      ${time(view.lastArchivedWal?.walEndTime)}
    </p>
    <div
      id="timeline"
      class="chart"
      role="img"
      aria-label="Backups and the recoverable window over time"
    ></div>
    ${jsonData('timeline-data', timeline)}
    ${
      bases.length > 1
        ? html`<h3>Base backup sizes</h3>
            <div
              class="chart"
              data-chart="sizes-data"
              role="img"
              aria-label="Base backup sizes over time"
            ></div>
            ${jsonData('sizes-data', sizes(bases))}`
        : ''
    }
    ${actionForm(session, 'backup', 'Back up now', { deployment: key }, { back })}
    ${restoreForm(session, key, view, back)}
    <h2>Backups</h2>
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Backup</th>
            <th scope="col">Type</th>
            <th scope="col">Status</th>
            <th scope="col">Finished</th>
            <th scope="col">Size</th>
            <th scope="col" class="hide-narrow">Verified</th>
          </tr>
        </thead>
        <tbody>
          ${
            view.backups.length === 0
              ? html`<tr>
                  <td colspan="6" class="muted">No backups yet.</td>
                </tr>`
              : [...view.backups].reverse().map(
                  (b) =>
                    html`<tr>
                      <td>${b.id}</td>
                      <td>${b.type}${b.volume ? ` ${b.volume}` : ''} <small>${b.kind}</small></td>
                      <td>${badge(b.status)}</td>
                      <td>${time(b.finishedAt)}</td>
                      <td>${bytes(b.storedBytes)}</td>
                      <td class="hide-narrow">
                        ${b.verifiedAt ? html`${b.verifyOk ? 'ok' : badge('corrupt')} ${time(b.verifiedAt)}` : html`<span class="muted">no</span>`}
                      </td>
                    </tr>`,
                )
          }
        </tbody>
      </table>
    </div>`;
}

export async function deploymentPage(
  api: UserApi,
  session: Session,
  key: string,
): Promise<{ title: string; body: Html; charts: boolean }> {
  const [d, backups, ops] = await Promise.all([
    api.read<DeploymentRow & { runtime: DeploymentRuntimeStatus | null }>(`/deployments/${q(key)}`),
    api.get<BackupsView>(`/backups?deployment=${q(key)}`),
    api.get<{ operations: Operation[] }>(`/operations?deployment=${q(key)}&limit=15`),
  ]);
  const back = deploymentHref(key);
  const [managed, signals, incidents] = await Promise.all([
    d.kind === 'instance' && d.instance
      ? instanceSection(api, session, d.environment, d.instance, back)
      : Promise.resolve(html``),
    signalsSection(api, key),
    api.get<{ incidents: IncidentRow[] }>(`/alerts/incidents?deployment=${q(key)}`),
  ]);
  const open = incidents.status === 200 ? incidents.body.incidents : [];
  const instances = d.runtime?.instances ?? [];
  const body = html`<h1>${d.kind === 'instance' ? 'Instance' : 'Deployment'} ${d.key}</h1>
    <section
      id="live"
      hx-get="${back}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:health from:body, msp:operations from:body, msp:incidents from:body"
    >
      <div class="cards">
        <div class="card">
          <div class="v">${badge(d.desiredState === 'running' ? d.status : d.desiredState)}</div>
          health ${d.statusDetail ? html`<small>${d.statusDetail}</small>` : ''}
        </div>
        <div class="card">
          <div class="v">${d.release ?? '—'}</div>
          release
        </div>
        <div class="card">
          <div class="v"><a href="${serviceHref(d.service)}">${d.service}</a></div>
          service · ${d.environment}${d.instance ? ` · ${d.instance}` : ''}
        </div>
        <div class="card">
          <div class="v">${d.restarts}</div>
          restarts
        </div>
      </div>
      <p>
        ${(d.runtime?.urls ?? []).map((u) => html`<a href="${u}" rel="noreferrer">${u}</a> `)}
        ${actionForm(session, 'deploy', 'Deploy', { deployment: key }, { back })}
        ${
          d.desiredState === 'running'
            ? actionForm(
                session,
                'stop',
                'Stop',
                { deployment: key },
                { back, danger: true, target: key, confirm: `Stop ${key}? It stops serving.` },
              )
            : ''
        }
      </p>
      ${managed}
      ${
        open.length > 0
          ? html`<h2>Open incidents</h2>
              ${incidentsTable(session, open, back)}`
          : ''
      }
      <h2>Instances</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Instance</th>
              <th scope="col">State</th>
              <th scope="col">Release</th>
              <th scope="col">Restarts</th>
              <th scope="col" class="hide-narrow">Last error</th>
            </tr>
          </thead>
          <tbody>
            ${
              instances.length === 0
                ? html`<tr>
                    <td colspan="5" class="muted">No instances running.</td>
                  </tr>`
                : instances.map(
                    (i) =>
                      html`<tr>
                        <td>${i.id}</td>
                        <td>${badge(i.state)}</td>
                        <td>${i.release ?? '—'}</td>
                        <td>${i.restarts}</td>
                        <td class="hide-narrow">${i.lastError ?? ''}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
      <h2>Operations</h2>
      ${operationsTable(ops.status === 200 ? ops.body.operations : [])}
    </section>
    ${signals}
    <h2>Backups and restore</h2>
    ${backupsSection(
      session,
      key,
      backups.status === 200 ? backups.body : null,
      ops.status === 200 ? ops.body.operations : [],
      back,
    )}`;
  return { title: key, body, charts: true };
}
