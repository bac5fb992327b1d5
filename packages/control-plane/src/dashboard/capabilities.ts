/**
 * What a role may do, as the dashboard asks it: one lookup, so a page shows an action's button only when
 * the API would accept the action from this user. It mirrors the access module's role rule (access/policy.ts):
 * a viewer reads only; an operator and an admin may run every operation (in a restricted environment the
 * API also asks for an active grant, and the page shows its refusal). Access requests (access/service.ts):
 * an operator or admin asks for access and may revoke a grant; approving and denying is for the roles an
 * environment's `access.approverRoles` names (admin unless msp.yaml widens it to operator), never on one's
 * own request: an operator holds the capability, and the Access page shows the buttons per request by the
 * API's own rule (`mayDecide` in access/policy.ts). An unknown role may do nothing.
 */
const ACCESS_ACTIONS = ['request-access', 'approve', 'deny', 'revoke'] as const;
const OPERATIONS = [
  'promote',
  'suspend',
  'resume',
  'rollback',
  'deploy',
  'stop',
  'backup',
  'restore',
  'reconcile',
  // Alerts (issue 11) and instances and fleets (issue 10): every write there is an operator's (access/policy.ts).
  'ack',
  'silence',
  'unsilence',
  'upgrade',
  'extend',
  'fleet-pause',
  'fleet-resume',
] as const;
export const ACTIONS = [...OPERATIONS, ...ACCESS_ACTIONS] as const;
export type Action = (typeof ACTIONS)[number];

const BY_ROLE: Readonly<Record<string, readonly Action[]>> = {
  admin: ACTIONS,
  operator: [...OPERATIONS, 'request-access', 'approve', 'deny', 'revoke'],
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
