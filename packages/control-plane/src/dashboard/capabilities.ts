/**
 * What a role may do, as the dashboard asks it: one lookup, so a page shows an action's button only when
 * the API would accept the action from this user. Today the API knows one role (admin, every token
 * `msp up` makes); the viewer and operator roles arrive with access control (issue 13), whose policy
 * then answers `GET /api/v1/dashboard/session` instead of this table. An unknown role may do nothing.
 */
export const ACTIONS = [
  'promote',
  'suspend',
  'resume',
  'rollback',
  'deploy',
  'stop',
  'backup',
  'restore',
  'reconcile',
] as const;
export type Action = (typeof ACTIONS)[number];

const BY_ROLE: Readonly<Record<string, readonly Action[]>> = {
  admin: ACTIONS,
  operator: ['promote', 'suspend', 'resume', 'rollback', 'deploy', 'backup', 'reconcile'],
  viewer: [],
};

export function capabilitiesOf(role: string): Action[] {
  return [...(Object.hasOwn(BY_ROLE, role) ? BY_ROLE[role]! : [])];
}

/** The signed-in user as a page sees them. */
export interface Session {
  name: string;
  role: string;
  can: ReadonlySet<Action>;
}
