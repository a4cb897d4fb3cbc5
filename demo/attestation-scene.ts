// The demo's attestation scene (issue #15 item 7): while 1.1.0 rolls out, an attacker changes one
// byte of the booted slot of one device that just installed it. Its next posture heartbeat
// measures the slot (no TPM here: the slot digest; a TPM device would send its boot PCR) and the
// gateway sees a measurement other than the signed manifest of 1.1.0 lists: drift
// `unexpected-measurement`, which the demo's policy (gateway.drift.quarantineOn) turns into a
// quarantine. The device is then offered only its last good release (1.0.0), returns to it, and
// measures clean again, while the rest of the fleet keeps rolling. After the stack stops, the
// operator reads why (`ota fleet drift`, `ota fleet quarantine show`) and releases it.
//
// Why not a swtpm-backed device: the demo gateway requires client certificates (mTLS) and a
// TPM-held device key cannot get one yet (its CSR would have to be signed inside the TPM,
// device-client/agent/device-certificate.ts); the slot-digest measurement shows the same path.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ProtocolDevice } from '../sim/protocol-device.js';
import type { CheckinOutcome } from '../sim/protocol-device.js';

/** The demo's gateway policy: attestation standing (software keys allowed) and quarantine on a wrong measurement. */
export const SCENE_CONFIG = { gateway: { attestation: { requireTpm: false }, drift: { quarantineOn: ['unexpected-measurement'], remediation: 'last-good' } } };

/** Writes the layered config file (`OTA_CONFIG`) the demo's `ota` commands read. */
export function writeSceneConfig(stateDir: string): string {
  const file = join(stateDir, 'ota.config.json');
  writeFileSync(file, `${JSON.stringify(SCENE_CONFIG, null, 2)}\n`);
  return file;
}

export type ScenePhase = 'waiting' | 'tampered' | 'quarantined' | 'remediated';

export class TamperScene {
  device?: ProtocolDevice;
  phase: ScenePhase = 'waiting';
  /** The check-in answer that held the device to its remediation release. */
  remediationAnswer?: string;

  constructor(
    private readonly target: string,
    private readonly lastGood: string,
    private readonly say: (line: string) => void,
    /** Devices on the target before the scene picks one (past the canary: a tampered canary would stop the rollout). */
    private readonly after: number,
  ) {}

  /** After each check-in round of the fleet (before its heartbeats): picks, tampers, follows the device. */
  afterCheckins(devices: ProtocolDevice[], outcomes: CheckinOutcome[]): void {
    if (this.phase === 'waiting') {
      if (devices.filter((d) => d.current.version === this.target).length <= this.after) return;
      const index = outcomes.findIndex((o) => o.action === 'updated' && o.to === this.target);
      if (index < 0) return;
      const device = devices[index]!;
      this.device = device;
      device.posture = { agentVersion: '0.1.0', listening: [], services: [] };
      device.tamperBootedSlot();
      this.phase = 'tampered';
      this.say(`\n== attestation scene: one byte of ${device.id}'s booted slot is changed after it installed ${this.target}; its heartbeats now carry posture (the slot's measured digest)`);
      return;
    }
    const device = this.device!;
    const reason = device.lastResponse && 'reason' in device.lastResponse ? device.lastResponse.reason : undefined;
    if (this.phase === 'tampered' && reason?.includes('DRIFT:unexpected-measurement')) {
      this.phase = 'quarantined';
      this.remediationAnswer = reason;
      this.say(`   ${device.id} quarantined by the gateway: ${reason}`);
    }
    if (this.phase === 'quarantined' && device.current.version === this.lastGood) {
      this.phase = 'remediated';
      this.say(`   ${device.id} returned to its last good release ${this.lastGood}; the rest of the fleet keeps rolling ${this.target}`);
    }
  }

  get done(): boolean {
    return this.phase === 'waiting' || this.phase === 'remediated';
  }
}
