/**
 * The managed-instance part of a deployment page (issue 10): version, type, customer, TTL and expiry, with
 * upgrade (the confirmation names the instance and the version) and extend TTL, through /api/v1/instances.
 */
import { html } from 'hono/html';
import type { InstanceView } from '../../instances/service.js';
import type { Session } from '../capabilities.js';
import { q, type UserApi } from '../client.js';
import { badge, type Html } from '../layout.js';

function upgradeForm(session: Session, i: InstanceView, back: string): Html {
  if (!session.can.has('upgrade')) return html``;
  const name = `${i.env}/${i.id}`;
  return html`<form
    id="upgrade-form"
    method="post"
    action="/ui/act/upgrade"
    class="inline"
    data-confirm="Upgrade instance ${name} from ${i.version} to version {to}?"
    data-target="${name}@{to}"
  >
    <input type="hidden" name="env" value="${i.env}" />
    <input type="hidden" name="id" value="${i.id}" />
    <input type="hidden" name="back" value="${back}" />
    <input type="hidden" name="confirm" value="" />
    <label for="upgrade-to">Upgrade to version</label>
    <input id="upgrade-to" name="to" required maxlength="100" size="10" />
    <button type="submit" class="danger">Upgrade…</button>
  </form>`;
}

function extendForm(session: Session, i: InstanceView, back: string): Html {
  if (!session.can.has('extend') || !i.ttl) return html``;
  return html`<form id="extend-form" method="post" action="/ui/act/extend" class="inline">
    <input type="hidden" name="env" value="${i.env}" />
    <input type="hidden" name="id" value="${i.id}" />
    <input type="hidden" name="back" value="${back}" />
    <label for="extend-ttl">TTL from now</label>
    <input id="extend-ttl" name="ttl" value="${i.ttl}" required maxlength="20" size="6" />
    <button type="submit">Extend</button>
  </form>`;
}

/** The instance panel, or nothing when the instances API does not know this deployment. */
export async function instanceSection(
  api: UserApi,
  session: Session,
  env: string,
  id: string,
  back: string,
): Promise<Html> {
  const r = await api.get<{ instance: InstanceView }>(`/instances/${q(env)}/${q(id)}`);
  if (r.status !== 200) return html``;
  const i = r.body.instance;
  return html`<section id="instance">
    <h2>Managed instance</h2>
    <div class="cards">
      <div class="card">
        <div class="v">${i.version}</div>
        version${i.release && i.release !== i.version ? ` (running ${i.release})` : ''}
      </div>
      <div class="card">
        <div class="v">${i.type}</div>
        type · channel ${i.channel}${i.paused ? ' (paused)' : ''}
      </div>
      <div class="card">
        <div class="v">${i.customer}</div>
        customer
      </div>
      <div class="card">
        <div class="v">${i.ttl ?? 'none'}</div>
        TTL · expires ${i.expiresAt ? html`<time datetime="${i.expiresAt}">${i.expiresAt}</time>` : 'never'}
      </div>
    </div>
    ${
      i.runningOperation
        ? html`<p>Running: ${i.runningOperation.kind} ${badge(i.runningOperation.status)}</p>`
        : ''
    }
    <p>${upgradeForm(session, i, back)} ${extendForm(session, i, back)}</p>
  </section>`;
}
