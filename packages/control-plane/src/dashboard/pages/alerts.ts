/**
 * Alerts: open incidents (live through the stream's `incidents` event) with acknowledge, active silences with
 * a form to add one and a button to end one, and the recent notification deliveries. All through /api/v1/alerts
 * (docs/alerts.md); the API decides and its refusal is the page's error.
 */
import { html } from 'hono/html';
import type { DeliveryRow, IncidentRow, SilenceRow } from '../../alerts/store.js';
import type { Session } from '../capabilities.js';
import type { UserApi } from '../client.js';
import { actionForm, badge, deploymentHref, time, type Html } from '../layout.js';

const BACK = '/ui/alerts';

const severity = (s: string) => html`<span class="badge ${s === 'CRITICAL' ? 'bad' : 'mid'}">${s}</span>`;

export function incidentsTable(session: Session, incidents: IncidentRow[], back = BACK): Html {
  return html`<div class="table-wrap">
    <table id="incidents">
      <thead>
        <tr>
          <th scope="col">Severity</th>
          <th scope="col">Policy</th>
          <th scope="col">Deployment</th>
          <th scope="col">Since</th>
          <th scope="col">Value / threshold</th>
          <th scope="col" class="hide-narrow">Summary</th>
          <th scope="col">Ack</th>
        </tr>
      </thead>
      <tbody>
        ${
          incidents.length === 0
            ? html`<tr>
                <td colspan="7" class="muted">No open incident.</td>
              </tr>`
            : incidents.map(
                (i) =>
                  html`<tr data-incident="${i.id}" data-deployment="${i.deploymentKey}">
                    <td>${severity(i.severity)}</td>
                    <td>${i.policyId}</td>
                    <td><a href="${deploymentHref(i.deploymentKey)}">${i.deploymentKey}</a></td>
                    <td>${time(i.openedAt)}</td>
                    <td>${i.value ?? '—'} / ${i.threshold}</td>
                    <td class="hide-narrow">${i.summary}</td>
                    <td>
                      ${
                        i.ackedAt
                          ? html`${i.ackedBy} ${time(i.ackedAt)}`
                          : actionForm(session, 'ack', 'Acknowledge', { id: i.id }, { back })
                      }
                    </td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

function silencesTable(session: Session, silences: SilenceRow[]): Html {
  return html`<div class="table-wrap">
    <table id="silences">
      <thead>
        <tr>
          <th scope="col">Policy</th>
          <th scope="col">Service / environment</th>
          <th scope="col">Until</th>
          <th scope="col" class="hide-narrow">Reason</th>
          <th scope="col" class="hide-narrow">By</th>
          <th scope="col">End</th>
        </tr>
      </thead>
      <tbody>
        ${
          silences.length === 0
            ? html`<tr>
                <td colspan="6" class="muted">No active silence.</td>
              </tr>`
            : silences.map(
                (s) =>
                  html`<tr data-silence="${s.id}">
                    <td>${s.policy}</td>
                    <td>${s.service} / ${s.environment}</td>
                    <td><time datetime="${s.endsAt}">${s.endsAt}</time></td>
                    <td class="hide-narrow">${s.reason}</td>
                    <td class="hide-narrow">${s.createdBy}</td>
                    <td>
                      ${actionForm(
                        session,
                        'unsilence',
                        'End…',
                        { id: s.id },
                        {
                          back: BACK,
                          danger: true,
                          target: s.id,
                          confirm: `End silence ${s.id} (${s.policy} for ${s.service}/${s.environment}) now?`,
                        },
                      )}
                    </td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

function silenceForm(session: Session): Html {
  if (!session.can.has('silence')) return html``;
  return html`<h2>New silence</h2>
    <form id="silence-form" method="post" action="/ui/act/silence" class="panel">
      <input type="hidden" name="back" value="${BACK}" />
      <div class="row">
        <div>
          <label for="si-policy">Policy (or *)</label>
          <input id="si-policy" name="policy" value="*" required maxlength="200" size="12" />
        </div>
        <div>
          <label for="si-service">Service (or *)</label>
          <input id="si-service" name="service" value="*" required maxlength="200" size="12" />
        </div>
        <div>
          <label for="si-environment">Environment (or *)</label>
          <input id="si-environment" name="environment" value="*" required maxlength="200" size="10" />
        </div>
        <div>
          <label for="si-duration">For</label>
          <input id="si-duration" name="duration" value="2h" required size="6" maxlength="20" />
        </div>
        <div>
          <label for="si-reason">Reason</label>
          <input id="si-reason" name="reason" required maxlength="500" size="30" />
        </div>
        <div><button type="submit">Silence</button></div>
      </div>
    </form>`;
}

function deliveriesTable(deliveries: DeliveryRow[]): Html {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Channel</th>
          <th scope="col">Kind</th>
          <th scope="col">Status</th>
          <th scope="col" class="hide-narrow">Deployment</th>
          <th scope="col" class="hide-narrow">Attempts</th>
          <th scope="col">When</th>
        </tr>
      </thead>
      <tbody>
        ${
          deliveries.length === 0
            ? html`<tr>
                <td colspan="6" class="muted">No notification sent yet.</td>
              </tr>`
            : deliveries.map(
                (d) =>
                  html`<tr>
                    <td>${d.channel} <small>${d.channelType}</small></td>
                    <td>${d.kind}</td>
                    <td>
                      ${badge(d.status === 'delivered' ? 'succeeded' : d.status)}
                      ${d.lastError ? html`<small>${d.lastError}</small>` : ''}
                    </td>
                    <td class="hide-narrow">${d.deploymentKey ?? '—'}</td>
                    <td class="hide-narrow">${d.attempts}</td>
                    <td>${time(d.deliveredAt ?? d.createdAt)}</td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

export async function alertsPage(api: UserApi, session: Session): Promise<{ title: string; body: Html }> {
  const [{ incidents }, { silences }, { deliveries }] = await Promise.all([
    api.read<{ incidents: IncidentRow[] }>('/alerts/incidents'),
    api.read<{ silences: SilenceRow[] }>('/alerts/silences'),
    api.read<{ deliveries: DeliveryRow[] }>('/alerts/deliveries?limit=20'),
  ]);
  const body = html`<h1>Alerts</h1>
    <section
      id="live"
      hx-get="${BACK}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:incidents from:body"
    >
      <h2>Open incidents</h2>
      ${incidentsTable(session, incidents)}
      <h2>Silences</h2>
      ${silencesTable(session, silences)}
      <h2>Recent notifications</h2>
      ${deliveriesTable(deliveries)}
    </section>
    ${silenceForm(session)}`;
  return { title: 'Alerts', body };
}
