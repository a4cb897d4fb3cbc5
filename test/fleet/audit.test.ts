// The hash-chained audit log on a real PGlite fleet store: appends chain, decisions are appended
// once, and a changed, removed or re-linked entry is named by the verify walk.
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AUDIT_GENESIS, auditEntryHash } from '../../fleet/audit.js';
import { FleetStore } from '../../fleet/fleet-store.js';

describe('audit log', () => {
  let fleet: FleetStore;
  beforeEach(async () => {
    fleet = await FleetStore.open('pglite:memory:');
  });
  afterEach(async () => {
    await fleet.close();
  });

  const append = (i: number) => fleet.appendAudit({ actor: `user-${i}`, role: 'admin', action: 'rollout.pause', target: 'r1', reason: `why ${i}`, result: 'ok', detail: { b: 2, a: 1 } });

  it('chains each entry to the one before and verifies intact', async () => {
    for (let i = 1; i <= 5; i++) await append(i);
    const entries = await fleet.listAudit();
    expect(entries.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(entries[0]!.prevHash).toBe(AUDIT_GENESIS);
    for (let i = 1; i < entries.length; i++) expect(entries[i]!.prevHash).toBe(entries[i - 1]!.hash);
    const { hash, ...rest } = entries[2]!;
    expect(auditEntryHash(rest)).toBe(hash);
    expect(entries[2]!.detail).toEqual({ b: 2, a: 1 });
    expect(await fleet.verifyAuditChain()).toEqual({ ok: true, entries: 5 });
  });

  it('names the first changed entry', async () => {
    for (let i = 1; i <= 4; i++) await append(i);
    await fleet.db.query("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3");
    expect(await fleet.verifyAuditChain()).toMatchObject({ ok: false, firstBroken: { seq: 3, problem: expect.stringContaining('changed') } });
  });

  it('names the entry after a removed one, and an entry whose hash was recomputed without its successor', async () => {
    for (let i = 1; i <= 4; i++) await append(i);
    await fleet.db.query('DELETE FROM audit_log WHERE seq = 2');
    expect(await fleet.verifyAuditChain()).toMatchObject({ ok: false, firstBroken: { seq: 3, problem: expect.stringContaining('missing') } });

    const other = await FleetStore.open('pglite:memory:');
    try {
      for (let i = 1; i <= 3; i++) await other.appendAudit({ actor: 'a', role: 'viewer', action: 'x', target: 't', result: 'ok' });
      // A forger rewrites entry 2 and its own hash: entry 3 no longer links to it.
      const [, second] = await other.listAudit();
      const forged = { ...second!, actor: 'mallory' };
      const { hash: _h, ...unhashed } = forged;
      await other.db.query('UPDATE audit_log SET actor = $1, hash = $2 WHERE seq = 2', ['mallory', auditEntryHash(unhashed)]);
      expect(await other.verifyAuditChain()).toMatchObject({ ok: false, firstBroken: { seq: 3, problem: expect.stringContaining('previous hash') } });
    } finally {
      await other.close();
    }
  });

  it('appends a workflow decision once, however often it is read', async () => {
    const decision = (at: string) => ({ key: `${at}|canary|open-ring`, input: { actor: 'workflow', role: 'workflow', action: 'decision.open-ring', target: 'r1', reason: 'opened', result: 'ok' as const } });
    expect(await fleet.appendNewDecisions('r1', [decision('t1'), decision('t2')])).toBe(2);
    expect(await fleet.appendNewDecisions('r1', [decision('t1'), decision('t2'), decision('t3')])).toBe(1);
    expect((await fleet.listAudit({ target: 'r1' })).map((e) => e.detail.decisionKey)).toEqual(['t1|canary|open-ring', 't2|canary|open-ring', 't3|canary|open-ring']);
    expect((await fleet.verifyAuditChain()).ok).toBe(true);
  });
});
