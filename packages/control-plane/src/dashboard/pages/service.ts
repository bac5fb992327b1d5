/** A service: its rollout stages side by side with its releases, the history, and the pipeline's actions. */
import { html } from 'hono/html';
import type { RolloutRecord } from '@msp/core';
import type { Release } from '@msp/releaseregistry';
import type { RolloutStatusView } from '../../rollouts/schemas.js';
import type { Session } from '../capabilities.js';
import { q, type UserApi } from '../client.js';
import { actionForm, badge, deploymentHref, operationHref, time, type Html } from '../layout.js';

type Stage = RolloutStatusView['stages'][number];

function stageCard(
  session: Session,
  service: string,
  stage: Stage,
  next: Stage | undefined,
  suspended: boolean,
  back: string,
): Html {
  const healthy = stage.instances.filter((i) => i.state === 'healthy').length;
  // What the healthy instances run now (the stage's release is its target from the moment a move starts).
  const running = [
    ...new Set(stage.instances.filter((i) => i.state === 'healthy').map((i) => i.release ?? '—')),
  ];
  const canPromote =
    next &&
    stage.release &&
    stage.release !== next.release &&
    !suspended &&
    !stage.operation &&
    !next.operation;
  return html`<article
    class="stage"
    data-stage="${stage.environment}"
    aria-label="Stage ${stage.environment}"
  >
    <h3>${stage.environment}</h3>
    <div class="release" data-release>${stage.release ?? '—'}</div>
    <div>${badge(stage.status)} ${stage.statusDetail ? html`<small>${stage.statusDetail}</small>` : ''}</div>
    <div>
      <small>${healthy}/${stage.instances.length} instances healthy, running</small>
      <span data-running>${running.join(', ') || '—'}</span>
    </div>
    ${stage.previous ? html`<div><small>previous: ${stage.previous}</small></div>` : ''}
    ${stage.deployment ? html`<div><a href="${deploymentHref(stage.deployment)}">${stage.deployment}</a></div>` : ''}
    ${
      stage.operation
        ? html`<div><a href="${operationHref(stage.operation)}">operation in progress</a></div>`
        : ''
    }
    ${
      stage.pendingCandidates.length > 0
        ? html`<div><small>waiting: ${stage.pendingCandidates.join(', ')}</small></div>`
        : ''
    }
    ${
      canPromote
        ? actionForm(
            session,
            'promote',
            `Promote ${stage.release} to ${next.environment}`,
            {
              service,
              to: next.environment,
              version: stage.release!,
            },
            { back },
          )
        : ''
    }
    ${
      stage.previous
        ? actionForm(
            session,
            'rollback',
            `Roll back to ${stage.previous}`,
            { service, environment: stage.environment },
            {
              back,
              danger: true,
              target: `${service}/${stage.environment}`,
              confirm: `Roll ${service}/${stage.environment} back from ${stage.release ?? '?'} to ${stage.previous}?`,
            },
          )
        : ''
    }
  </article>`;
}

export async function servicePage(
  api: UserApi,
  session: Session,
  service: string,
): Promise<{ title: string; body: Html }> {
  const [status, releases, history] = await Promise.all([
    api.read<RolloutStatusView>(`/rollouts/status?service=${q(service)}`),
    api.get<{ releases: Release[] }>(`/releases?service=${q(service)}`),
    api.get<{ history: RolloutRecord[] }>(`/rollouts/history?service=${q(service)}`),
  ]);
  const back = `/ui/services/${q(service)}`;
  const where = (version: string) =>
    status.stages.filter((s) => s.release === version).map((s) => s.environment);
  const rels = releases.status === 200 ? [...releases.body.releases].reverse() : [];
  const hist = history.status === 200 ? [...history.body.history].reverse().slice(0, 30) : [];
  const body = html`<h1>Service ${service}</h1>
    <section
      id="live"
      hx-get="${back}"
      hx-select="#live > *"
      hx-target="this"
      hx-swap="innerHTML"
      hx-trigger="msp:health from:body, msp:operations from:body"
    >
      <p>
        Pipeline: ${status.suspended ? badge('suspended') : badge('running')}
        ${
          status.suspended
            ? actionForm(session, 'resume', 'Resume the pipeline', { service }, { back })
            : actionForm(session, 'suspend', 'Suspend the pipeline', { service }, { back })
        }
      </p>
      <h2>Stages</h2>
      <div class="stages">
        ${status.stages.map((s, i) => stageCard(session, service, s, status.stages[i + 1], status.suspended, back))}
      </div>
      <h2>Releases</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">Version</th>
              <th scope="col">Created</th>
              <th scope="col">Published</th>
              <th scope="col">Runs in</th>
            </tr>
          </thead>
          <tbody>
            ${
              rels.length === 0
                ? html`<tr>
                    <td colspan="4" class="muted">No releases yet (msp release create).</td>
                  </tr>`
                : rels.map(
                    (r) =>
                      html`<tr>
                        <td>${r.version} ${r.is_development ? html`<small>(development)</small>` : ''}</td>
                        <td>${time(r.created_at)}</td>
                        <td>${r.promoted_at ? time(r.promoted_at) : html`<span class="muted">no</span>`}</td>
                        <td>${where(r.version).join(', ') || html`<span class="muted">—</span>`}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
      <h2>History</h2>
      <div class="table-wrap">
        <table>
          <thead>
            <tr>
              <th scope="col">When</th>
              <th scope="col">Action</th>
              <th scope="col">Release</th>
              <th scope="col">To</th>
              <th scope="col">Outcome</th>
              <th scope="col" class="hide-narrow">By</th>
            </tr>
          </thead>
          <tbody>
            ${
              hist.length === 0
                ? html`<tr>
                    <td colspan="6" class="muted">Nothing moved yet.</td>
                  </tr>`
                : hist.map(
                    (h) =>
                      html`<tr>
                        <td>${time(h.startedAt)}</td>
                        <td>${h.action}</td>
                        <td>
                          ${h.version}
                          ${h.previousVersion ? html`<small>(was ${h.previousVersion})</small>` : ''}
                        </td>
                        <td>${h.fromEnvironment ? `${h.fromEnvironment} → ` : ''}${h.toEnvironment}</td>
                        <td>
                          ${badge(h.outcome)} ${h.reason ? html`<small>${h.reason}</small>` : ''}
                          ${h.operationId ? html`<a href="${operationHref(h.operationId)}">operation</a>` : ''}
                        </td>
                        <td class="hide-narrow">${h.actor}</td>
                      </tr>`,
                  )
            }
          </tbody>
        </table>
      </div>
    </section>`;
  return { title: `Service ${service}`, body };
}
