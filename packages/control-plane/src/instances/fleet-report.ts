/** The tracking report of a fleet upgrade, in Markdown (`msp fleet report <id>`). */
import type { Fleet, MemberState } from './fleet.js';

const secs = (a: string | null, b: string | null) =>
  a && b ? `${Math.round((Date.parse(b) - Date.parse(a)) / 1000)} s` : '';

/** The tracking report: every instance with from/to, state, timings and its operation. */
export function fleetReport(f: Fleet): string {
  const count = (s: MemberState) => f.members.filter((m) => m.state === s).length;
  const lines = [
    `# Fleet ${f.id}: upgrade to ${f.toVersion}`,
    '',
    `- Status: **${f.status}**${f.stopReason ? ` (${f.stopReason})` : ''}`,
    `- Started by ${f.createdBy} at ${f.createdAt}; concurrency ${f.request.concurrency}, soak ${Math.round(f.request.soakMs / 1000)} s between rings`,
    `- Selection: ${[f.request.env ? `env ${f.request.env}` : 'every environment', f.request.types?.length ? `types ${f.request.types.join(', ')}` : '', ...(f.request.filters ?? [])].filter(Boolean).join('; ')}`,
    ...(f.request.now ? [`- Maintenance windows overridden (--now): ${f.request.now.reason}`] : []),
    `- ${count('succeeded')} succeeded, ${count('failed')} failed, ${count('running')} running, ${count('pending') + count('waiting-window')} to go, ${count('skipped')} skipped`,
    '',
    '| Ring | Instance | Customer | Type | From | To | State | Started | Took | Operation | Note |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
    ...f.members.map(
      (m) =>
        `| ${m.ring + 1} ${m.ringName} | ${m.env}/${m.id} | ${m.customer} | ${m.type} | ${m.from} | ${m.to} | ${m.state} | ${m.startedAt ?? ''} | ${secs(m.startedAt, m.finishedAt)} | ${m.operationId ?? ''} | ${(m.reason ?? '').split('\n')[0]!.replace(/\|/g, '\\|')} |`,
    ),
    '',
  ];
  return lines.join('\n');
}
