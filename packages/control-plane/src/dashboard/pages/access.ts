/**
 * Access: requests for time-bound access to restricted environments (pending, active, past) with approve,
 * deny and revoke where the role may, and a form to ask for access. All through /api/v1/access (docs/access.md);
 * the API decides (an approver cannot approve their own request), and its refusal is the page's error.
 */
import { html } from 'hono/html';
import type { RequestView, WhoAmI } from '../../access/schemas.js';
import { mayDecide } from '../../access/policy.js';
import type { Session } from '../capabilities.js';
import type { UserApi } from '../client.js';
import { actionForm, badge, time, type Html } from '../layout.js';

const BACK = '/ui/access';

function duration(seconds: number): string {
  if (seconds % 3600 === 0) return `${seconds / 3600} h`;
  if (seconds % 60 === 0) return `${seconds / 60} min`;
  return `${seconds} s`;
}

function decisions(session: Session, r: RequestView): Html {
  const fields = { id: r.id, requester: r.requester, target: r.target, environment: r.environment };
  const what = `${r.requester}'s ${r.role} access to ${r.target} in ${r.environment}`;
  const mine = r.requester === session.name;
  // The API's rule (access/policy.ts): one of the environment's approver roles, never one's own request.
  const decides = !mine && mayDecide(session.role, r.approverRoles ?? ['admin']);
  if (r.status === 'pending') {
    return html`${decides ? actionForm(session, 'approve', 'Approve', fields, { back: BACK }) : ''}
    ${
      !decides
        ? ''
        : actionForm(session, 'deny', 'Deny…', fields, {
            back: BACK,
            confirm: `Deny ${what}?`,
            target: r.target,
            danger: true,
          })
    }`;
  }
  if (r.status === 'approved' && (mine || session.can.has('revoke'))) {
    return actionForm(session, 'revoke', 'Revoke…', fields, {
      back: BACK,
      confirm: `Revoke ${what} now?`,
      target: r.target,
      danger: true,
    });
  }
  return html``;
}

function table(session: Session, rows: RequestView[], empty: string): Html {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Who</th>
          <th scope="col">Access</th>
          <th scope="col">Status</th>
          <th scope="col" class="hide-narrow">Reason</th>
          <th scope="col" class="hide-narrow">When</th>
          <th scope="col">Actions</th>
        </tr>
      </thead>
      <tbody>
        ${
          rows.length === 0
            ? html`<tr>
                <td colspan="6" class="muted">${empty}</td>
              </tr>`
            : rows.map(
                (r) =>
                  html`<tr data-request="${r.id}" data-status="${r.status}">
                    <td>${r.requester}${r.breakGlass ? html` <strong>break-glass</strong>` : ''}</td>
                    <td>
                      ${r.role} on <strong>${r.target}</strong> in ${r.environment}
                      <small>for ${duration(r.durationSeconds)}</small>
                    </td>
                    <td>
                      ${badge(r.status === 'approved' ? 'active' : r.status)}
                      ${r.decidedBy ? html`<small>by ${r.decidedBy}</small>` : ''}
                    </td>
                    <td class="hide-narrow">${r.reason}</td>
                    <td class="hide-narrow">
                      ${r.status === 'approved' ? html`until ${time(r.endsAt)}` : time(r.createdAt)}
                    </td>
                    <td>${decisions(session, r)}</td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

function requestForm(session: Session, who: WhoAmI): Html {
  if (!session.can.has('request-access')) return html``;
  if (who.kind === 'bootstrap') {
    return html`<p class="muted">The bootstrap admin needs no grant: sign in with your own token to ask.</p>`;
  }
  return html`<h2>Ask for access</h2>
    <form method="post" action="/ui/act/request-access" id="request-access">
      <input type="hidden" name="back" value="${BACK}" />
      <div class="row">
        <div>
          <label for="ra-target">Target (service, instance or env/instance)</label>
          <input id="ra-target" name="target" required maxlength="300" />
        </div>
        <div>
          <label for="ra-environment">Environment</label>
          <input id="ra-environment" name="environment" required maxlength="100" placeholder="prod" />
        </div>
        <div>
          <label for="ra-role">Role</label>
          <select id="ra-role" name="role">
            <option value="operate">operate</option>
            <option value="db-read">db-read</option>
            <option value="db-write">db-write</option>
          </select>
        </div>
        <div>
          <label for="ra-duration">For</label>
          <input id="ra-duration" name="duration" value="1h" required size="6" maxlength="20" />
        </div>
        <div>
          <label for="ra-reason">Reason</label>
          <input id="ra-reason" name="reason" required maxlength="500" size="30" />
        </div>
        <div><button type="submit">Ask for access</button></div>
      </div>
    </form>`;
}

export async function accessPage(api: UserApi, session: Session): Promise<{ title: string; body: Html }> {
  const [{ requests }, who] = await Promise.all([
    api.read<{ requests: RequestView[] }>('/access/requests'),
    api.read<WhoAmI>('/whoami'),
  ]);
  const now = Date.now();
  const pending = requests.filter((r) => r.status === 'pending');
  const active = requests.filter((r) => r.status === 'approved' && (!r.endsAt || Date.parse(r.endsAt) > now));
  const past = requests.filter((r) => !pending.includes(r) && !active.includes(r)).slice(0, 20);
  const body = html`<h1>Access</h1>
    <section
      id="live"
      data-stream-access
      hx-get="${BACK}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:access from:body"
    >
      <h2>Pending</h2>
      ${table(session, pending, 'No request waits for a decision.')}
      <h2>Active grants</h2>
      ${table(session, active, 'No active grant.')}
      <h2>Past</h2>
      ${table(session, past, 'None yet.')}
    </section>
    ${requestForm(session, who)}`;
  return { title: 'Access', body };
}
