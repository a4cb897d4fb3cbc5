// The role -> action table and the four-eyes rule, as pure functions.
import { describe, expect, it } from 'vitest';
import { ACTIONS, fourEyes, mayPerform, ROLES, rolesFor, type OperatorAction, type Role } from '../../operator/roles.js';

const changes: Record<Role, OperatorAction[]> = {
  viewer: [],
  'release-engineer': ['rollout.start', 'rollout.pause', 'rollout.resume', 'rollout.abort'],
  approver: ['release.approve', 'rollout.pause', 'rollout.abort', 'rollout.approve'],
  'fleet-admin': ['fleet.revoke', 'fleet.retry', 'fleet.accept', 'fleet.reject', 'fleet.quarantine-release'],
  admin: ACTIONS.filter((a) => !a.endsWith('.read') && a !== 'rollout.plan'),
};

describe('role -> action table', () => {
  it('every role reads everything; changes only as the table says', () => {
    for (const role of ROLES) {
      const allowedChanges = ACTIONS.filter((a) => !a.endsWith('.read') && a !== 'rollout.plan' && mayPerform(role, a));
      expect(allowedChanges.sort(), role).toEqual([...changes[role]].sort());
      for (const read of ACTIONS.filter((a) => a.endsWith('.read'))) expect(mayPerform(role, read), `${role} ${read}`).toBe(true);
    }
  });

  it('a viewer changes nothing; a release engineer never approves; only fleet admins and admins revoke devices', () => {
    expect(mayPerform('viewer', 'rollout.start')).toBe(false);
    expect(mayPerform('release-engineer', 'rollout.approve')).toBe(false);
    expect(mayPerform('release-engineer', 'release.approve')).toBe(false);
    expect(rolesFor('fleet.revoke')).toEqual(['fleet-admin', 'admin']);
    expect(rolesFor('rollout.approve')).toEqual(['approver', 'admin']);
  });
});

describe('four eyes', () => {
  it('the starter cannot approve; anyone else can; an unknown starter refuses nobody', () => {
    expect(fourEyes('alice', 'alice')).toMatchObject({ allowed: false, reason: expect.stringContaining('alice started this') });
    expect(fourEyes('alice', 'bob')).toEqual({ allowed: true });
    expect(fourEyes(undefined, 'bob')).toEqual({ allowed: true });
  });
});
