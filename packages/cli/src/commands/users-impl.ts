import { printJson } from '../cli-support.js';
import { call, connect } from '../client.js';
import type { CommonOptions, TokenCreateOptions, UserAddOptions } from './users.js';

const client = (opts: CommonOptions) => connect(opts.repo ? { repo: opts.repo } : {});
type Role = 'viewer' | 'operator' | 'admin';

export function pad(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

export async function usersAdd(name: string, opts: UserAddOptions): Promise<void> {
  const user = await call(client(opts).api.users.$post({ json: { name, role: opts.role as Role } }));
  if (opts.json) return printJson(user);
  console.log(`added ${user.name} (${user.role}); give them a token: msp tokens create --user ${user.name}`);
}

export async function usersList(opts: CommonOptions): Promise<void> {
  const { users } = await call(client(opts).api.users.$get());
  if (opts.json) return printJson(users);
  console.log(
    pad([
      ['NAME', 'ROLE', 'ADDED', 'BY', 'DISABLED'],
      ...users.map((u) => [u.name, u.role, u.createdAt, u.createdBy, u.disabledAt ?? '']),
    ]),
  );
}

export async function usersRole(name: string, role: string, opts: CommonOptions): Promise<void> {
  const user = await call(
    client(opts).api.users[':name'].role.$post({ param: { name }, json: { role: role as Role } }),
  );
  if (opts.json) return printJson(user);
  console.log(`${user.name} is now a ${user.role}`);
}

export async function usersDisable(name: string, opts: CommonOptions): Promise<void> {
  const user = await call(client(opts).api.users[':name'].disable.$post({ param: { name } }));
  if (opts.json) return printJson(user);
  console.log(`${user.name} is disabled; their tokens are revoked`);
}

export async function tokensCreate(opts: TokenCreateOptions): Promise<void> {
  const created = await call(
    client(opts).api.tokens.$post({
      json: {
        ...(opts.user ? { user: opts.user } : {}),
        ...(opts.label ? { label: opts.label } : {}),
        ...(opts.expiresIn ? { expiresIn: opts.expiresIn } : {}),
      },
    }),
  );
  if (opts.json) return printJson(created);
  process.stderr.write(
    `token ${created.id} for ${created.user}, valid until ${created.expiresAt}; it is shown only now (set MSP_TOKEN to it):\n`,
  );
  console.log(created.token);
}

export async function tokensList(opts: CommonOptions): Promise<void> {
  const { tokens } = await call(client(opts).api.tokens.$get());
  if (opts.json) return printJson(tokens);
  console.log(
    pad([
      ['ID', 'USER', 'LABEL', 'EXPIRES', 'REVOKED', 'LAST USED'],
      ...tokens.map((t) => [t.id, t.user, t.label, t.expiresAt, t.revokedAt ?? '', t.lastUsedAt ?? '']),
    ]),
  );
}

export async function tokensRevoke(id: string, opts: CommonOptions): Promise<void> {
  const token = await call(client(opts).api.tokens[':id'].revoke.$post({ param: { id } }));
  if (opts.json) return printJson(token);
  console.log(`token ${token.id} of ${token.user} is revoked`);
}

export async function whoami(opts: CommonOptions): Promise<void> {
  const me = await call(client(opts).api.whoami.$get());
  if (opts.json) return printJson(me);
  console.log(`${me.name} (${me.role}${me.kind === 'bootstrap' ? ', bootstrap admin token' : ''})`);
  for (const g of me.grants)
    console.log(`  grant ${g.id}: ${g.role} on ${g.target} in ${g.environment} until ${g.endsAt}`);
}
