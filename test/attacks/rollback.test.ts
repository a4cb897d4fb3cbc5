// Attack class: rollback. A correctly signed older release (below the stored security version, or
// an older version), and the ways around the floor a device's owner or an attacker with a shell
// might try: provision --force with a lower security version, reset statements that are not for
// this device, used before, expired or not signed by the pinned key. Each is refused with its own
// code and changes nothing: slots, boot state, agent state, floor record and trust root.
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { provisionDevice, type ProvisionOptions } from '../../device-client/agent/provision.js';
import { generateSigningKeyPem, loadOrCreateSigningKey, signingKeyFromPem, type SigningKey } from '../../signing/keys.js';
import { installFromBundle, refusal, useAttackBench } from '../support/attack-device.js';
import type { SimDevice } from '../support/device-sim.js';
import { signFloorReset } from '../support/device-state-snapshot.js';

const bench = useAttackBench('rollback');
let releaseKey: SigningKey;
beforeAll(async () => {
  releaseKey = await loadOrCreateSigningKey(bench().fixture.signingKeyPath);
});

const reprovision = async (sim: SimDevice, options: Partial<ProvisionOptions> = {}) =>
  provisionDevice(await sim.open(), { slot: 'A', version: '1.0.0', length: bench().fixture.releases['1.0.0']!.length, writeBootState: true, force: true, ...options });
const inAnHour = () => new Date(Date.now() + 3600_000).toISOString();

describe('attack: rollback', () => {
  it('a correctly signed release below the stored security version: SECURITY_VERSION_DOWNGRADE', async () => {
    const sim = await bench().device({ securityVersion: 5 });
    const result = await refusal(sim, () => installFromBundle(sim, bench().fixture.storeDir));
    expect(result.code).toBe('SECURITY_VERSION_DOWNGRADE');
    expect(result.after).toEqual(result.before);
  });

  it('an older version with the same security version, unasked: VERSION_DOWNGRADE', async () => {
    const sim = await bench().device();
    await expect(installFromBundle(sim, bench().fixture.storeDir)).resolves.toMatchObject({ outcome: 'installed', version: '1.0.1' });
    await sim.reboot();
    const { bootCheck } = await import('../../device-client/agent/boot-check.js');
    await bootCheck(await sim.open());
    // 1.0.0 signed again with security version 2 (a release key holder re-issuing an old image).
    const bundle = await bench().resigned('old', '1.0.0', (m) => ({ ...m, securityVersion: 2 }));
    const result = await refusal(sim, () => installFromBundle(sim, bundle, { version: '1.0.0' }));
    expect(result.code).toBe('VERSION_DOWNGRADE');
    expect(result.after).toEqual(result.before);
  });

  it('provision --force with a lower security version: SECURITY_FLOOR_LOWER_REFUSED', async () => {
    const sim = await bench().device({ securityVersion: 3 });
    const result = await refusal(sim, () => reprovision(sim, { securityVersion: 0 }));
    expect(result.code).toBe('SECURITY_FLOOR_LOWER_REFUSED');
    expect(result.message).toMatch(/below this device's anti-rollback floor 3/);
    expect(result.after).toEqual(result.before);
    expect(result.after.securityVersion).toBe(3);
  });

  it('reset statements that are not for this device, not signed by the pinned key, expired, or asking a lower floor: FLOOR_RESET_REJECTED', async () => {
    const sim = await bench().device({ securityVersion: 3 });
    const deviceId = sim.config.deviceId;
    const stranger = signingKeyFromPem(generateSigningKeyPem());
    const cases: Array<[string, SigningKey, Parameters<typeof signFloorReset>[2], number]> = [
      ['wrong-device', releaseKey, { deviceId: 'another-device', floor: 0, sequence: 0, expires: inAnHour() }, 0],
      ['bad-signature', stranger, { deviceId, floor: 0, sequence: 0, expires: inAnHour() }, 0],
      ['expired', releaseKey, { deviceId, floor: 0, sequence: 0, expires: new Date(Date.now() - 1000).toISOString() }, 0],
      ['floor-mismatch', releaseKey, { deviceId, floor: 2, sequence: 0, expires: inAnHour() }, 1],
    ];
    for (const [reason, key, statement, securityVersion] of cases) {
      const path = await signFloorReset(join(sim.dir, `reset-${reason}.json`), key, statement);
      const result = await refusal(sim, () => reprovision(sim, { securityVersion, floorReset: { statementPath: path } }));
      expect({ reason, code: result.code, message: result.message }).toMatchObject({ reason, code: 'FLOOR_RESET_REJECTED', message: expect.stringContaining(`(${reason})`) });
      expect(result.after).toEqual(result.before);
    }
  });

  it('a reset statement is used once: replayed after the floor went up again, FLOOR_RESET_REJECTED (replayed)', async () => {
    const sim = await bench().device({ securityVersion: 3 });
    const path = await signFloorReset(join(sim.dir, 'reset.json'), releaseKey, { deviceId: sim.config.deviceId, floor: 1, sequence: 0, expires: inAnHour() });
    await expect(reprovision(sim, { securityVersion: 1, floorReset: { statementPath: path } })).resolves.toMatchObject({ floorReset: true, state: { securityVersion: 1 } });
    await reprovision(sim, { securityVersion: 3 });
    const result = await refusal(sim, () => reprovision(sim, { securityVersion: 1, floorReset: { statementPath: path } }));
    expect(result.code).toBe('FLOOR_RESET_REJECTED');
    expect(result.message).toContain('(replayed)');
    expect(result.after).toEqual(result.before);
  });
});
