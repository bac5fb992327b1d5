/** The overview: every deployment's health, release, instances and last backup, with links. */
import { html } from 'hono/html';
import type { StatusView } from '../../api/routes.js';
import type { IncidentRow } from '../../alerts/store.js';
import type { UserApi } from '../client.js';
import type { Session } from '../capabilities.js';
import { actionForm, ago, badge, deploymentHref, serviceHref, type Html } from '../layout.js';

type Row = StatusView['deployments'][number];

function instances(d: Row): Html {
  const all = d.runtime?.instances ?? [];
  if (all.length === 0) return html`<span class="muted">none</span>`;
  const healthy = all.filter((i) => i.state === 'healthy').length;
  return html`<span title="${all.map((i) => `${i.id}: ${i.state}`).join(', ')}"
    >${healthy}/${all.length} healthy</span
  >`;
}

export async function overviewPage(api: UserApi, session: Session): Promise<{ title: string; body: Html }> {
  const [status, open] = await Promise.all([
    api.read<StatusView>('/status'),
    api.get<{ incidents: IncidentRow[] }>('/alerts/incidents'),
  ]);
  const incidents = new Map<string, IncidentRow[]>();
  for (const i of open.status === 200 ? open.body.incidents : []) {
    incidents.set(i.deploymentKey, [...(incidents.get(i.deploymentKey) ?? []), i]);
  }
  const alerting = (key: string): Html => {
    const list = incidents.get(key) ?? [];
    if (list.length === 0) return html``;
    const critical = list.some((i) => i.severity === 'CRITICAL');
    return html`<a
      href="/ui/alerts"
      class="badge ${critical ? 'bad' : 'mid'}"
      data-incidents="${list.length}"
      title="${list.map((i) => i.title).join(', ')}"
      >${list.length} incident${list.length > 1 ? 's' : ''}</a
    >`;
  };
  const rows = [...status.deployments].sort((a, b) => a.key.localeCompare(b.key));
  const unhealthy = rows.filter((d) => d.desiredState === 'running' && d.status !== 'healthy').length;
  const services = new Set(rows.map((d) => d.service)).size;
  const repo = status.repo as { ok?: boolean; problems?: unknown[] } | null;
  const body = html`<h1>Overview</h1>
    ${actionForm(session, 'reconcile', 'Reconcile with the platform repo', {}, { back: '/' })}
    <section
      id="live"
      hx-get="/"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:health from:body, msp:incidents from:body"
    >
      <div class="cards">
        <div class="card">
          <div class="v">${rows.length}</div>
          deployments
        </div>
        <div class="card">
          <div class="v">${services}</div>
          services
        </div>
        <div class="card">
          <div class="v">${unhealthy}</div>
          not healthy
        </div>
        <div class="card">
          <div class="v">
            <a href="/ui/alerts">${open.status === 200 ? open.body.incidents.length : '—'}</a>
          </div>
          open incidents
        </div>
        <div class="card">
          <div class="v">${repo === null ? '—' : repo.ok === false ? 'invalid' : 'valid'}</div>
          platform repo
        </div>
      </div>
      <h2>Deployments</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Deployment</th>
              <th scope="col">Service</th>
              <th scope="col">Health</th>
              <th scope="col">Release</th>
              <th scope="col">Instances</th>
              <th scope="col" class="hide-narrow">Last backup</th>
              <th scope="col" class="hide-narrow">Links</th>
            </tr>
          </thead>
          <tbody>
            ${
              rows.length === 0
                ? html`<tr>
                    <td colspan="7" class="muted">
                      No deployments yet: declare a service in the platform repo (see
                      docs/getting-started.md).
                    </td>
                  </tr>`
                : rows.map(
                    (d) =>
                      html`<tr data-key="${d.key}">
                        <td><a href="${deploymentHref(d.key)}">${d.key}</a></td>
                        <td><a href="${serviceHref(d.service)}">${d.service}</a></td>
                        <td>
                          ${badge(d.desiredState === 'running' ? d.status : d.desiredState)}
                          ${d.statusDetail ? html`<small>${d.statusDetail}</small>` : ''} ${alerting(d.key)}
                        </td>
                        <td>${d.release ?? html`<span class="muted">working tree</span>`}</td>
                        <td>${instances(d)}</td>
                        <td
                          class="hide-narrow"
                          hx-get="/ui/fragments/last-backup?key=${encodeURIComponent(d.key)}"
                          hx-trigger="revealed"
                        >
                          <span class="muted">…</span>
                        </td>
                        <td class="hide-narrow">
                          ${(d.runtime?.urls ?? []).map((u) => html`<a href="${u}" rel="noreferrer">${u}</a> `)}
                        </td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
    </section>`;
  return { title: 'Overview', body };
}

/** The last good base backup's age, for one overview cell (loaded when the row is shown). */
export async function lastBackupCell(api: UserApi, key: string): Promise<Html> {
  const r = await api.get<{ lastGoodBaseBackup: { finishedAt: string; ageSeconds: number } | null }>(
    `/backups?deployment=${encodeURIComponent(key)}`,
  );
  if (r.status !== 200) return html`<span class="muted">—</span>`;
  const last = r.body.lastGoodBaseBackup;
  return last
    ? html`<time datetime="${last.finishedAt}">${ago(last.ageSeconds)}</time>`
    : html`<span class="muted">none</span>`;
}
