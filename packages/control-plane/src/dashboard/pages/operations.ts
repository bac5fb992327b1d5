/** Operations: the recent ones with their step progress, and one operation's steps and log, live. */
import { html } from 'hono/html';
import type { Operation } from '@msp/core';
import type { OperationLogLine } from '../../state/operation-store.js';
import { q, type UserApi } from '../client.js';
import { badge, deploymentHref, operationHref, time, type Html } from '../layout.js';

const LIVE = 'msp:operations from:body';

export function progress(op: Operation): Html {
  const done = op.steps.filter((s) => s.status === 'succeeded' || s.status === 'skipped').length;
  const current = op.steps.find((s) => s.status === 'running');
  return html`<progress
      class="progress"
      max="${op.steps.length || 1}"
      value="${done}"
      aria-label="${done} of ${op.steps.length} steps done"
    ></progress>
    <small>${done}/${op.steps.length}${current ? ` · ${current.name}` : ''}</small>`;
}

export function operationsTable(ops: Operation[]): Html {
  return html`<div class="table-wrap">
    <table>
      <thead>
        <tr>
          <th scope="col">Operation</th>
          <th scope="col">Deployment</th>
          <th scope="col">Status</th>
          <th scope="col">Steps</th>
          <th scope="col" class="hide-narrow">Created</th>
          <th scope="col" class="hide-narrow">By</th>
        </tr>
      </thead>
      <tbody>
        ${
          ops.length === 0
            ? html`<tr>
                <td colspan="6" class="muted">No operations yet.</td>
              </tr>`
            : ops.map(
                (o) =>
                  html`<tr data-operation="${o.id}">
                    <td><a href="${operationHref(o.id)}">${o.kind}</a> <small>${o.reason}</small></td>
                    <td><a href="${deploymentHref(o.deploymentKey)}">${o.deploymentKey}</a></td>
                    <td>${badge(o.status)}</td>
                    <td>${progress(o)}</td>
                    <td class="hide-narrow">${time(o.createdAt)}</td>
                    <td class="hide-narrow">${o.createdBy}</td>
                  </tr>`,
              )
        }
      </tbody>
    </table>
  </div>`;
}

export async function operationsPage(api: UserApi): Promise<{ title: string; body: Html }> {
  const { operations } = await api.read<{ operations: Operation[] }>('/operations?limit=50');
  const body = html`<h1>Operations</h1>
    <section
      id="live"
      hx-get="/ui/operations"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="${LIVE}"
    >
      ${operationsTable(operations)}
    </section>`;
  return { title: 'Operations', body };
}

export async function operationPage(api: UserApi, id: string): Promise<{ title: string; body: Html }> {
  const op = await api.read<Operation & { log: OperationLogLine[] }>(`/operations/${q(id)}`);
  const href = operationHref(op.id);
  const body = html`<h1>Operation ${op.kind} <small>${op.id}</small></h1>
    <section
      id="live"
      hx-get="${href}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="${LIVE}"
    >
      <p>
        <span data-status>${badge(op.status)}</span> on
        <a href="${deploymentHref(op.deploymentKey)}">${op.deploymentKey}</a>, by ${op.createdBy},
        ${time(op.createdAt)} · ${op.reason}
      </p>
      ${op.error ? html`<p class="error" role="alert">${op.error}</p>` : ''}
      <p>${progress(op)}</p>
      <h2>Steps</h2>
      <ol class="steps">
        ${op.steps.map(
          (s) =>
            html`<li data-step="${s.name}">
              ${badge(s.status)} ${s.name} ${s.detail ? html`<small>${s.detail}</small>` : ''}
              ${
                s.finishedAt && s.startedAt
                  ? html`<small
                      >(${((Date.parse(s.finishedAt) - Date.parse(s.startedAt)) / 1000).toFixed(1)} s)</small
                    >`
                  : ''
              }
            </li>`,
        )}
      </ol>
      ${
        op.result
          ? html`<h2>Result</h2>
              <pre class="log">${JSON.stringify(op.result, null, 2)}</pre>`
          : ''
      }
      <h2>Log</h2>
      <pre class="log">${op.log.map((l) => `${l.at} ${l.level} ${l.message}\n`).join('')}</pre>
    </section>`;
  return { title: `Operation ${op.kind}`, body };
}
