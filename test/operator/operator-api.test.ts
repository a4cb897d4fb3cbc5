// The operator API for real: Fastify on a port, the PGlite fleet store shared with a real gateway
// and rollout worker (InProcessServices), a real Temporal dev server, a local OIDC issuer and API
// tokens. Refusals have distinct codes (401 vs 403), the four-eyes rule holds, every change is in
// the audit log with an intact hash chain, and a tampered entry is named. The compiled CLI's
// --server path goes through the same API.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import type { AuditEntry } from '../../fleet/fleet-store.js';
import { startOperatorApi, type RunningOperatorApi } from '../../operator/app.js';
import type { RolloutStatus } from '../../rollout/types.js';
import { generateSigningKeyPem, loadOrCreateSigningKey } from '../../signing/keys.js';
import { signingKeyFile } from '../../trust/key-files.js';
import { readRepository, writeRepository } from '../../trust/metadata-store.js';
import { releaseView } from '../../trust/publish-role.js';
import { releaseSignatures } from '../../trust/release-approvals.js';
import { addTarget } from '../../trust/repository.js';
import { tufPublicKey } from '../../trust/tuf-keys.js';
import { ensureDist, OTA_BIN } from '../support/dist.js';
import { otaIn } from '../support/ota-cli.js';
import { startOidcIssuer, type TestIssuer } from '../support/oidc-issuer.js';
import { HARDWARE, ReleaseHarness } from '../support/release-harness.js';
import { enrollFleet, InProcessServices } from '../support/rollout-fleet.js';
import { startTemporal } from '../support/temporal.js';
import { operatorCaller } from '../support/operator-calls.js';

const run = promisify(execFile);
const QUEUE = 'operator-api-rollouts';

const policy = {
  target: { hardware: HARDWARE },
  rings: [
    { name: 'canary', size: { count: 2 }, bakeTime: '1h', minReports: 2, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt', approval: true },
    { name: 'fleet', size: { percent: 100 }, bakeTime: '1h', minReports: 4, thresholds: { failureRate: 0.2, maxFailures: 0 }, onBreach: 'halt' },
  ],
  exposureBudget: { percent: 100 },
  maxConcurrentInstalls: 4,
  pollInterval: '200ms',
};

describe('operator API', () => {
  let env: TestWorkflowEnvironment;
  let releases: ReleaseHarness;
  let services: InProcessServices;
  let issuer: TestIssuer;
  let api: RunningOperatorApi;
  const tokens: Record<string, string> = {};

  const call = operatorCaller(() => api.url);
  const waitFor = async (id: string, reached: (s: RolloutStatus) => boolean): Promise<RolloutStatus> => {
    let s = (await call('GET', `/v1/rollouts/${id}`, tokens.viewer)).body as RolloutStatus;
    for (let i = 0; i < 150 && !reached(s); i++) {
      await new Promise((r) => setTimeout(r, 200));
      s = (await call('GET', `/v1/rollouts/${id}`, tokens.viewer)).body as RolloutStatus;
    }
    return s;
  };

  beforeAll(async () => {
    ({ env } = await startTemporal());
    releases = await ReleaseHarness.start(env.address, 'operator-api-releases');
    await releases.publishSampleReleases(['1.0.0', '1.1.0'], releases.stateDir);
    services = await InProcessServices.start(releases, QUEUE);
    await enrollFleet(releases, services.admission, 4);
    issuer = await startOidcIssuer();
    api = await startOperatorApi({
      host: '127.0.0.1',
      port: 0,
      version: 'test',
      fleet: services.fleetStore,
      store: releases.store,
      temporal: { client: releases.client, taskQueue: QUEUE },
      oidc: { issuer: issuer.url, audience: 'edge-ota' },
      // The TUF keys `ota trust init` writes into the state dir (the release-approval test creates them).
      trustSigning: async () => ({ targetsKeys: [await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'targets.pem'))], onlineKey: await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'online.pem')), publishKey: await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'release-publish.pem')), now: new Date() }),
    });
    const fleet = services.fleetStore;
    const apiToken = async (name: string, role: string, ttlSeconds = 3600, now?: Date) => (await fleet.createOperatorToken({ name, role, ttlSeconds, createdBy: 'test', now })).token;
    tokens.viewer = await apiToken('dashboard', 'viewer');
    tokens.fleetAdmin = await apiToken('fleet-ops', 'fleet-admin');
    tokens.expired = await apiToken('old-ci', 'admin', 3600, new Date(Date.now() - 2 * 3600_000));
    const revoked = await fleet.createOperatorToken({ name: 'leaked', role: 'admin', ttlSeconds: 3600, createdBy: 'test' });
    await fleet.revokeOperatorToken(revoked.record.id);
    tokens.revoked = revoked.token;
    tokens.alice = await issuer.token('alice', { ota_role: 'admin' });
    tokens.bob = await issuer.token('bob', { ota_role: ['approver'] });
    tokens.engineer = await issuer.token('erin', { ota_role: 'release-engineer' });
  }, 300_000);

  afterAll(async () => {
    await api?.close();
    await issuer?.close();
    await services?.close();
    await releases?.close();
    await env?.teardown();
  });

  it('refuses a missing, unreadable, forged, expired or revoked token with 401 and a role that may not with 403', async () => {
    const pause = (token?: string) => call('POST', '/v1/rollouts/no-such-rollout/pause', token, { reason: 'probe' });
    const code = (r: { status: number; body: Record<string, any> }) => [r.status, r.body.error?.code];
    expect(code(await pause())).toEqual([401, 'MISSING_TOKEN']);
    expect(code(await pause('not-a-token'))).toEqual([401, 'INVALID_TOKEN']);
    expect(code(await pause(await issuer.token('mallory', { ota_role: 'admin' }, { forged: true })))).toEqual([401, 'INVALID_TOKEN']);
    expect(code(await pause(await issuer.token('alice', { ota_role: 'admin' }, { audience: 'someone-else' })))).toEqual([401, 'INVALID_TOKEN']);
    expect(code(await pause(await issuer.token('alice', { ota_role: 'admin' }, { expiresIn: -60 })))).toEqual([401, 'TOKEN_EXPIRED']);
    expect(code(await pause(tokens.expired))).toEqual([401, 'TOKEN_EXPIRED']);
    expect(code(await pause(tokens.revoked))).toEqual([401, 'TOKEN_REVOKED']);
    expect(code(await pause('ota_0123456789ab_unknown'))).toEqual([401, 'INVALID_TOKEN']);
    expect(code(await pause(await issuer.token('nobody')))).toEqual([403, 'NO_ROLE']);
    expect(code(await pause(tokens.viewer))).toEqual([403, 'FORBIDDEN']);
    expect(code(await call('POST', '/v1/rollouts', tokens.viewer, { release: '1.1.0', hardware: HARDWARE, policy }))).toEqual([403, 'FORBIDDEN']);
    expect(code(await call('POST', '/v1/devices/x/revoke', tokens.engineer, { reason: 'no' }))).toEqual([403, 'FORBIDDEN']);
    // A role that may: the request reaches the workflow, which has no such rollout.
    expect(code(await pause(tokens.alice))).toEqual([404, 'NOT_FOUND']);
    expect(code(await call('POST', '/v1/rollouts', tokens.engineer, { release: '1.1.0', hardware: HARDWARE, policy: { target: {} } }))).toEqual([400, 'BAD_REQUEST']);
    expect(code(await call('GET', '/v1/devices'))).toEqual([401, 'MISSING_TOKEN']);
  });

  it('shows releases with SBOM components and provenance, the fleet, and the OpenAPI document', async () => {
    const list = await call('GET', `/v1/releases/${HARDWARE}`, tokens.viewer);
    expect(list.body.releases.map((r: { version: string }) => r.version)).toEqual(['1.1.0', '1.0.0']);
    const detail = await call('GET', `/v1/releases/${HARDWARE}/1.1.0`, tokens.viewer);
    expect(detail.status).toBe(200);
    expect(detail.body.manifest.version).toBe('1.1.0');
    expect(detail.body.components.length).toBeGreaterThan(0);
    expect(detail.body.provenance.predicateType).toMatch(/slsa\.dev\/provenance/);
    expect(Array.isArray(detail.body.vex)).toBe(true);
    expect((await call('GET', `/v1/releases/${HARDWARE}/9.9.9`, tokens.viewer)).body.error.code).toBe('NOT_FOUND');
    const manifest = await fetch(`${api.url}/v1/releases/${HARDWARE}/1.1.0/manifest`, { headers: { authorization: `Bearer ${tokens.viewer}` } });
    expect(Buffer.from(await manifest.arrayBuffer()).equals(await releases.manifestBytes('1.1.0'))).toBe(true);

    const devices = (await call('GET', '/v1/devices', tokens.viewer)).body.devices as Array<{ id: string }>;
    expect(devices).toHaveLength(4);
    const one = await call('GET', `/v1/devices/${devices[0]!.id}`, tokens.viewer);
    expect(one.body).toMatchObject({ id: devices[0]!.id, hardwareId: HARDWARE, reports: expect.any(Array), heartbeats: expect.any(Array) });

    const doc = (await call('GET', '/openapi.json')).body;
    expect(doc.openapi).toBe('3.1.0');
    expect(doc.paths['/v1/rollouts/{id}/approve'].post['x-ota-action']).toBe('rollout.approve');
    expect(doc.paths['/v1/rollouts'].post.requestBody.content['application/json'].schema.properties.release.type).toBe('string');
    expect(doc.paths['/v1/audit'].get.parameters.map((p: { name: string }) => p.name)).toEqual(expect.arrayContaining(['after', 'target', 'limit']));
  });

  it('starts, refuses the starter as approver, approves by another person, pauses, resumes and aborts', async () => {
    const started = await call('POST', '/v1/rollouts', tokens.alice, { release: '1.1.0', hardware: HARDWARE, policy, id: 'rollout-operator-api', reason: 'release train 12' });
    expect(started).toMatchObject({ status: 200, body: { rolloutId: 'rollout-operator-api' } });
    const id = 'rollout-operator-api';
    expect((await waitFor(id, (s) => s.state === 'waiting-approval')).waitingApprovalFor).toBe('canary');

    const self = await call('POST', `/v1/rollouts/${id}/approve`, tokens.alice, { reason: 'my own' });
    expect([self.status, self.body.error.code]).toEqual([403, 'FOUR_EYES']);
    expect(self.body.error.message).toContain('alice started this');
    const engineer = await call('POST', `/v1/rollouts/${id}/approve`, tokens.engineer, {});
    expect([engineer.status, engineer.body.error.code]).toEqual([403, 'FORBIDDEN']);
    const approved = await call('POST', `/v1/rollouts/${id}/approve`, tokens.bob, { reason: 'read the release notes' });
    expect(approved.status).toBe(200);
    expect(approved.body.answer).toContain('approved ring canary');
    const again = await call('POST', `/v1/rollouts/${id}/approve`, tokens.bob, {});
    expect([again.status, again.body.error.code]).toEqual([422, 'REFUSED']);

    expect((await call('POST', `/v1/rollouts/${id}/pause`, tokens.engineer, { reason: 'change freeze' })).status).toBe(200);
    expect((await waitFor(id, (s) => s.paused)).paused).toBe(true);
    expect((await call('POST', `/v1/rollouts/${id}/resume`, tokens.engineer, {})).status).toBe(200);
    expect((await call('POST', `/v1/rollouts/${id}/abort`, tokens.bob, { reason: 'test over' })).body.answer).toContain('aborting');
    const done = await waitFor(id, (s) => s.state === 'aborted');
    expect(done.state).toBe('aborted');
    expect(done.decisions.find((d) => d.action === 'approve')).toMatchObject({ by: 'bob', reason: 'read the release notes' });

    const revoked = await call('POST', `/v1/devices/${(await call('GET', '/v1/devices', tokens.viewer)).body.devices[3].id}/revoke`, tokens.fleetAdmin, { reason: 'stolen' });
    expect(revoked.body).toMatchObject({ revoked: true });
  }, 120_000);

  it('keeps every action and the workflow decisions in the audit log; the chain verifies until an entry is tampered with', async () => {
    const entries = (await call('GET', '/v1/audit?limit=5000', tokens.viewer)).body.entries as AuditEntry[];
    const brief = entries.map((e) => `${e.actor} ${e.action} ${e.target} ${e.result}${e.detail.code ? ` ${String(e.detail.code)}` : ''}`);
    expect(brief).toEqual(
      expect.arrayContaining([
        'anonymous rollout.pause no-such-rollout refused MISSING_TOKEN',
        'anonymous rollout.pause no-such-rollout refused TOKEN_REVOKED',
        'anonymous rollout.pause no-such-rollout refused TOKEN_EXPIRED',
        'token:dashboard rollout.pause no-such-rollout refused FORBIDDEN',
        'anonymous rollout.pause no-such-rollout refused NO_ROLE',
        `token:dashboard rollout.start ${HARDWARE}@1.1.0 refused FORBIDDEN`,
        'erin fleet.revoke x refused FORBIDDEN',
        'alice rollout.start rollout-operator-api ok',
        'alice rollout.approve rollout-operator-api refused FOUR_EYES',
        'erin rollout.approve rollout-operator-api refused FORBIDDEN',
        'bob rollout.approve rollout-operator-api ok',
        'bob rollout.approve rollout-operator-api refused REFUSED',
        'erin rollout.pause rollout-operator-api ok',
        'erin rollout.resume rollout-operator-api ok',
        'workflow decision.open-ring rollout-operator-api ok',
        'bob rollout.abort rollout-operator-api ok',
        'token:fleet-ops fleet.revoke ' + entries.find((e) => e.action === 'fleet.revoke' && e.result === 'ok')!.target + ' ok',
      ]),
    );
    expect(entries.find((e) => e.action === 'rollout.start' && e.result === 'ok')).toMatchObject({ role: 'admin', reason: 'release train 12' });
    // The workflow's own decisions, in the same timeline.
    expect(entries.filter((e) => e.actor === 'workflow' && e.target === 'rollout-operator-api').map((e) => e.action)).toEqual(expect.arrayContaining(['decision.plan']));
    expect(entries.find((e) => e.action === 'decision.approve')).toMatchObject({ actor: 'bob', reason: 'read the release notes' });
    // Reads are not actions: a status read leaves no entry of its own.
    expect(entries.some((e) => e.action === 'rollout.read')).toBe(false);

    expect((await call('GET', '/v1/audit/verify', tokens.viewer)).body).toEqual({ ok: true, entries: entries.length });
    const victim = entries.find((e) => e.action === 'rollout.start' && e.result === 'ok')!;
    await services.fleetStore.db.query("UPDATE audit_log SET actor = 'mallory' WHERE seq = $1", [victim.seq]);
    expect((await call('GET', '/v1/audit/verify', tokens.viewer)).body).toMatchObject({ ok: false, firstBroken: { seq: victim.seq } });
    await services.fleetStore.db.query('UPDATE audit_log SET actor = $2 WHERE seq = $1', [victim.seq, victim.actor]);
    expect((await call('GET', '/v1/audit/verify', tokens.viewer)).body.ok).toBe(true);
  });

  it('the compiled CLI goes through the API with --server and OTA_TOKEN', async (ctx) => {
    const skip = await ensureDist();
    if (skip) {
      console.error(`\n*** SKIPPING operator CLI --server test: ${skip} ***\n`);
      return ctx.skip();
    }
    const ota = (token: string, ...args: string[]) =>
      run(process.execPath, [OTA_BIN, ...args, '--server', api.url], { env: { ...process.env, OTA_TOKEN: token }, timeout: 60_000 }).then(
        ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
        (err: { code: number; stdout: string; stderr: string }) => ({ code: err.code, stdout: err.stdout, stderr: err.stderr }),
      );
    const status = await ota(tokens.viewer, 'rollout', 'status', 'rollout-operator-api', '--json');
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout)).toMatchObject({ rolloutId: 'rollout-operator-api', state: 'aborted' });
    const refused = await ota(tokens.viewer, 'rollout', 'pause', 'rollout-operator-api');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^ota: FORBIDDEN: token:dashboard \(viewer\) may not rollout\.pause/);
    expect(refused.stderr.trim().split('\n')).toHaveLength(1);
    const missing = await ota('ota_0123456789ab_unknown', 'rollout', 'abort', 'rollout-operator-api');
    expect(missing.stderr).toContain('INVALID_TOKEN');
    const policyFile = join(releases.stateDir, 'api-policy.json');
    await writeFile(policyFile, JSON.stringify({ ...policy, target: { hardware: 'other-hw' } }));
    const start = (token: string) => ota(token, 'rollout', 'start', '--release', '1.1.0', '--hardware', HARDWARE, '--policy', policyFile);
    expect((await start(tokens.viewer)).stderr).toMatch(/^ota: FORBIDDEN: /);
    expect((await start(tokens.engineer)).stderr.trim()).toBe(`ota: BAD_REQUEST: policy targets hardware other-hw, not ${HARDWARE}`);
    const verify = await ota(tokens.viewer, 'audit', '--verify');
    expect(verify).toMatchObject({ code: 0, stdout: expect.stringMatching(/^audit chain intact: \d+ entries/) });
  }, 120_000);

  // Last: it turns on two-person releases for the channel the rollout above used.
  it('a second signer approves a release through the API; the key stays with the approver', async (ctx) => {
    if (await ensureDist()) return ctx.skip();
    const local = otaIn(releases.stateDir);
    expect((await local(['trust', 'init'])).code).toBe(0);
    const path = `releases/${HARDWARE}/1.1.0/manifest.json`;
    const bytes = await releases.manifestBytes('1.1.0');
    const before = await readRepository(releases.store);
    const releaseKey = tufPublicKey((await loadOrCreateSigningKey(releases.config.signing.keyPath)).publicKey);
    const signing = { targetsKeys: [await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'targets.pem'))], onlineKey: await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'online.pem')), publishKey: await signingKeyFile(join(releases.stateDir, 'keys', 'tuf', 'release-publish.pem')), now: new Date() };
    await writeRepository(releases.store, addTarget(before.repo, { path, length: bytes.length, sha256: createHash('sha256').update(bytes).digest('hex'), signerKeyID: releaseKey.keyID }, signing), before);
    await writeFile(join(releases.stateDir, 'engineer.pem'), generateSigningKeyPem(), { mode: 0o600 });
    expect((await local(['trust', 'add-signer', '--key', 'engineer.pem'])).code).toBe(0);
    expect((await local(['trust', 'require-signatures', '--channel', 'stable', '--threshold', '2'])).code).toBe(0);

    const approve = (token: string, key: string) =>
      run(process.execPath, [OTA_BIN, 'release', 'approve', '1.1.0', '--hardware', HARDWARE, '--key', key, '--reason', 'second look', '--server', api.url], { env: { ...process.env, OTA_TOKEN: token }, timeout: 60_000 }).then(
        ({ stdout }) => ({ code: 0, out: stdout }),
        (err: { code: number; stderr: string }) => ({ code: err.code, out: err.stderr }),
      );
    const engineerKey = join(releases.stateDir, 'engineer.pem');
    expect(await approve(tokens.engineer, engineerKey)).toMatchObject({ code: 1, out: expect.stringContaining('FORBIDDEN') });
    expect(await approve(tokens.bob, releases.config.signing.keyPath)).toMatchObject({ code: 1, out: expect.stringMatching(/REFUSED: TUF_INVALID_CHANGE: .*another release signer/) });
    const approved = await approve(tokens.bob, engineerKey);
    expect(approved).toMatchObject({ code: 0, out: expect.stringContaining(`approved ${HARDWARE} 1.1.0`) });
    const engineer = tufPublicKey((await loadOrCreateSigningKey(engineerKey)).publicKey).keyID;
    // The release and its approval are in the publish role (targets delegates it since `ota trust init`).
    const approvedRepo = (await readRepository(releases.store)).repo;
    expect(releaseSignatures(releaseView(approvedRepo.targets, approvedRepo.published), path, bytes)).toEqual([releaseKey.keyID, engineer]);

    // A signature that is not over these bytes is refused, and the trust repository is described.
    const forged = await call('POST', `/v1/releases/${HARDWARE}/1.1.0/approve`, tokens.bob, { keyID: engineer, signature: '30'.repeat(35) });
    expect([forged.status, forged.body.error.code]).toEqual([422, 'REFUSED']);
    const trust = await call('GET', '/v1/trust', tokens.viewer);
    expect(trust.body.releaseSigners.map((k: { keyID: string }) => k.keyID)).toEqual(expect.arrayContaining([releaseKey.keyID, engineer]));
    const audit = (await call('GET', `/v1/audit?target=release:${HARDWARE}@1.1.0`, tokens.viewer)).body.entries as AuditEntry[];
    expect(audit.map((e) => `${e.actor} ${e.result}`)).toEqual(['erin refused', 'bob refused', 'bob ok', 'bob refused']);
    expect(audit[2]).toMatchObject({ action: 'release.approve', reason: 'second look' });
  }, 180_000);
});
