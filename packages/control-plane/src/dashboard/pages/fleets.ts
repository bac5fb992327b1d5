/**
 * Fleets: fleet upgrades (newest first), and one fleet's rings with every instance's state, live through the
 * stream's `fleets` event, with pause and resume and its tracking report. All through /api/v1/fleets
 * (docs/instances.md).
 */
import { html } from 'hono/html';
import type { Fleet, FleetMember } from '../../instances/fleet.js';
import type { Session } from '../capabilities.js';
import { q, type UserApi } from '../client.js';
import { actionForm, badge, deploymentHref, operationHref, time, type Html } from '../layout.js';

export const fleetHref = (id: string) => `/ui/fleets/${encodeURIComponent(id)}`;

function progress(f: Fleet): string {
  const done = f.members.filter((m) => m.state === 'succeeded').length;
  return `${done}/${f.members.length}`;
}

export async function fleetsPage(api: UserApi): Promise<{ title: string; body: Html }> {
  const { fleets } = await api.read<{ fleets: Fleet[] }>('/fleets');
  const body = html`<h1>Fleets</h1>
    <section
      id="live"
      data-stream-fleets
      hx-get="/ui/fleets"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:fleets from:body"
    >
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Fleet</th>
              <th scope="col">To</th>
              <th scope="col">Status</th>
              <th scope="col">Upgraded</th>
              <th scope="col" class="hide-narrow">By</th>
              <th scope="col" class="hide-narrow">Started</th>
            </tr>
          </thead>
          <tbody>
            ${
              fleets.length === 0
                ? html`<tr>
                    <td colspan="6" class="muted">No fleet upgrade yet (<code>msp fleet upgrade</code>).</td>
                  </tr>`
                : fleets.map(
                    (f) =>
                      html`<tr data-fleet="${f.id}">
                        <td><a href="${fleetHref(f.id)}">${f.id}</a></td>
                        <td>${f.toVersion}</td>
                        <td>${badge(f.status)}</td>
                        <td>${progress(f)}</td>
                        <td class="hide-narrow">${f.createdBy}</td>
                        <td class="hide-narrow">${time(f.createdAt)}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
    </section>`;
  return { title: 'Fleets', body };
}

function ring(members: FleetMember[]): Html {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Instance</th>
          <th scope="col" class="hide-narrow">Customer</th>
          <th scope="col">From → to</th>
          <th scope="col">State</th>
          <th scope="col" class="hide-narrow">Why</th>
          <th scope="col" class="hide-narrow">Operation</th>
        </tr>
      </thead>
      <tbody>
        ${members.map(
          (m) =>
            html`<tr data-member="${m.key}" data-state="${m.state}">
              <td><a href="${deploymentHref(m.key)}">${m.key}</a> <small>${m.type}</small></td>
              <td class="hide-narrow">${m.customer}</td>
              <td>${m.from} → ${m.to}</td>
              <td>${badge(m.state)}</td>
              <td class="hide-narrow">${m.reason ?? ''}</td>
              <td class="hide-narrow">
                ${m.operationId ? html`<a href="${operationHref(m.operationId)}">${m.operationId}</a>` : '—'}
              </td>
            </tr>`,
        )}
      </tbody>
    </table>
  </div>`;
}

export async function fleetPage(
  api: UserApi,
  session: Session,
  id: string,
): Promise<{ title: string; body: Html }> {
  const f = await api.read<Fleet>(`/fleets/${q(id)}`);
  const back = fleetHref(f.id);
  const rings = new Map<number, FleetMember[]>();
  for (const m of f.members) rings.set(m.ring, [...(rings.get(m.ring) ?? []), m]);
  const body = html`<h1>Fleet ${f.id}</h1>
    <section
      id="live"
      data-stream-fleets
      hx-get="${back}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:fleets from:body"
    >
      <div class="cards" data-fleet-status="${f.status}">
        <div class="card">
          <div class="v">${badge(f.status)}</div>
          status ${f.stopReason ? html`<small>${f.stopReason}</small>` : ''}
        </div>
        <div class="card">
          <div class="v">${f.toVersion}</div>
          target version
        </div>
        <div class="card">
          <div class="v">${progress(f)}</div>
          upgraded
        </div>
        <div class="card">
          <div class="v">${f.request.concurrency}</div>
          at a time · soak ${Math.round(f.request.soakMs / 1000)} s
        </div>
      </div>
      <p>
        ${f.status === 'running' ? actionForm(session, 'fleet-pause', 'Pause', { id: f.id }, { back }) : ''}
        ${
          f.status === 'paused' || f.status === 'stopped'
            ? actionForm(session, 'fleet-resume', 'Resume', { id: f.id }, { back })
            : ''
        }
        <a href="${back}/report">Tracking report</a>
      </p>
      ${[...rings.entries()]
        .sort(([a], [b]) => a - b)
        .map(
          ([n, members]) =>
            html`<h2>Ring ${n + 1}: ${members[0]?.ringName ?? ''}</h2>
              ${ring(members)}`,
        )}
    </section>`;
  return { title: `Fleet ${f.id}`, body };
}

export async function fleetReportPage(api: UserApi, id: string): Promise<{ title: string; body: Html }> {
  const { markdown } = await api.read<{ markdown: string }>(`/fleets/${q(id)}/report`);
  const body = html`<h1>Fleet ${id}: report</h1>
    <p><a href="${fleetHref(id)}">Back to the fleet</a></p>
    <pre class="report">${markdown}</pre>`;
  return { title: `Fleet ${id} report`, body };
}
