/**
 * Audit: the hash-chained log, newest first (who, what, to what, when), filtered by actor, and whether the
 * chain verifies (`GET /api/v1/audit/verify`: the first record whose chain breaks). Read-only.
 */
import { html } from 'hono/html';
import type { AuditRecord, VerifyResult } from '../../audit/log.js';
import { q, type UserApi } from '../client.js';
import { badge, time, type Html } from '../layout.js';

const LIMIT = 200;

function verification(v: VerifyResult): Html {
  return html`<p id="audit-verify">
    Chain ${badge(v.ok ? 'intact' : 'broken')} ${v.records} records checked, head
    <code title="${v.head}">${v.head.slice(0, 12)}</code>
    ${
      v.broken
        ? html`<span class="error" role="alert">record ${v.broken.seq}: ${v.broken.problem}</span>`
        : ''
    }
  </p>`;
}

function summary(r: AuditRecord): string {
  const d = r.data;
  if (typeof d.status === 'number') return `HTTP ${d.status}`;
  if (typeof d.error === 'string') return d.error;
  if (typeof d.kind === 'string' && typeof d.step === 'string') return `${d.kind}: ${d.step}`;
  return '';
}

export async function auditPage(api: UserApi, actor: string): Promise<{ title: string; body: Html }> {
  const filter = actor.trim();
  const [{ records }, verify] = await Promise.all([
    api.read<{ records: AuditRecord[] }>(`/audit?limit=${LIMIT}${filter ? `&actor=${q(filter)}` : ''}`),
    api.read<VerifyResult>('/audit/verify'),
  ]);
  const body = html`<h1>Audit</h1>
    ${verification(verify)}
    <form method="get" action="/ui/audit" class="row" role="search">
      <div>
        <label for="audit-actor">Actor</label>
        <input id="audit-actor" name="actor" value="${filter}" maxlength="200" placeholder="alice" />
      </div>
      <div><button type="submit">Filter</button></div>
    </form>
    <section id="live">
      <p class="muted">
        The ${LIMIT} newest records${filter ? html` by <strong>${filter}</strong>` : ''}; the whole log:
        <code>msp audit list</code>.
      </p>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Actor</th>
              <th scope="col">Action</th>
              <th scope="col">Target</th>
              <th scope="col" class="hide-narrow">Detail</th>
            </tr>
          </thead>
          <tbody>
            ${
              records.length === 0
                ? html`<tr>
                    <td colspan="5" class="muted">No records${filter ? ` by ${filter}` : ''}.</td>
                  </tr>`
                : records.map(
                    (r) =>
                      html`<tr data-seq="${r.seq}" data-action="${r.action}">
                        <td>${time(r.at)}</td>
                        <td>${r.actor}</td>
                        <td>${r.action}</td>
                        <td>${r.target ?? '—'}</td>
                        <td class="hide-narrow"><small>${summary(r)}</small></td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
    </section>`;
  return { title: 'Audit', body };
}
