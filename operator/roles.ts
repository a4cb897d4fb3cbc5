// Who may do what through the operator API: the role -> action table, and the four-eyes rule.
// Pure functions; the API asks them before any change and records the answer in the audit log.

export const ROLES = ['viewer', 'release-engineer', 'approver', 'fleet-admin', 'admin'] as const;
export type Role = (typeof ROLES)[number];

export const ACTIONS = [
  'release.read',
  'release.approve',
  'rollout.read',
  'rollout.plan',
  'rollout.start',
  'rollout.pause',
  'rollout.resume',
  'rollout.abort',
  'rollout.approve',
  'fleet.read',
  'fleet.revoke',
  'fleet.retry',
  'fleet.accept',
  'fleet.reject',
  'fleet.quarantine-release',
  'trust.read',
  'audit.read',
] as const;
export type OperatorAction = (typeof ACTIONS)[number];

const READS: readonly OperatorAction[] = ['release.read', 'rollout.read', 'rollout.plan', 'fleet.read', 'trust.read', 'audit.read'];

/** Each role's actions beyond reading (every role reads). Admin may do everything. */
const CHANGES: Record<Role, readonly OperatorAction[]> = {
  viewer: [],
  // Starts, steers and stops rollouts; never approves them (that is someone else's).
  'release-engineer': ['rollout.start', 'rollout.pause', 'rollout.resume', 'rollout.abort'],
  // Approves rings waiting for a person and releases on two-person channels; may stop a rollout too.
  approver: ['rollout.approve', 'release.approve', 'rollout.pause', 'rollout.abort'],
  'fleet-admin': ['fleet.revoke', 'fleet.retry', 'fleet.accept', 'fleet.reject', 'fleet.quarantine-release'],
  admin: ACTIONS,
};

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function mayPerform(role: Role, action: OperatorAction): boolean {
  return READS.includes(action) || CHANGES[role].includes(action);
}

/** The roles that may perform an action, for a refusal that says who could. */
export function rolesFor(action: OperatorAction): Role[] {
  return ROLES.filter((role) => mayPerform(role, action));
}

export type FourEyesAnswer = { allowed: true } | { allowed: false; reason: string };

/**
 * The approver of a ring or a release cannot be the one who started it. `startedBy` unknown (a
 * rollout started outside the API before it recorded its starter) refuses nobody.
 */
export function fourEyes(startedBy: string | undefined, approver: string): FourEyesAnswer {
  if (startedBy !== undefined && startedBy === approver) return { allowed: false, reason: `${approver} started this and cannot approve it too: another approver must` };
  return { allowed: true };
}
