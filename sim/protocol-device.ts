// A simulated device that speaks the real device protocol to the real gateway: its own key,
// enrollment, single-use nonces, signed check-ins, signed health reports and heartbeats. It does not write
// slots (that is the full agent's job, see device-client/); instead a behaviour model says what
// installing a release does to it (commits, or crash-loops and falls back), so rollouts can be
// exercised with thousands of devices in one process.
import { signPayload, type DeviceKey } from '../schemas/device-envelope.js';
import { signEnrollClaim } from '../schemas/enroll-proof.js';
import { createHash } from 'node:crypto';
import type { ArtifactHint, CheckinResponse, FailureKind, Labels, ReportState } from '../schemas/device-api.js';
import { createDeviceCsr } from '../identity/csr.js';
import { tlsFetch, type FetchLike, type TlsFetchOptions } from '../platform/tls-fetch.js';
import { HeldNonces } from '../platform/held-nonces.js';
import { certificateResponseSchema, renewalTime } from '../schemas/device-certificate.js';

export interface InstalledImage {
  version: string;
  imageSha256: string;
  securityVersion: number;
}

/**
 * What happens when this device installs a release: it commits, fails with a kind, or bricks (it
 * started and is never heard from again: no install report, no heartbeat, until revive()).
 */
export type InstallOutcome = { result: 'commit' } | { result: 'fail'; kind: FailureKind; fallsBack: boolean } | { result: 'brick' };
export type BehaviourModel = (device: ProtocolDevice, release: { version: string }) => InstallOutcome;

/** How a running device fares in one heartbeat window: a failing health check, a crash loop, metrics. */
export interface WindowHealth {
  healthFailed?: boolean;
  crashLoop?: boolean;
  metrics?: Record<string, number>;
}
export type HeartbeatModel = (device: ProtocolDevice) => WindowHealth;

/** Resolves a release's image digest and security version from its signed manifest (cached, verified). */
export type ManifestResolver = (manifestUrl: string, bundleUrl: string) => Promise<InstalledImage>;

/** What the operator preauthorizes for a simulated device (`ota fleet preauthorize`, FleetStore.preauthorize). */
export interface SimPreauthorization {
  deviceId: string;
  hardwareId: string;
  channel: string;
  labels: Labels;
  publicKeyPem: string;
  keyAlgorithm: DeviceKey['algorithm'];
}

export interface ProtocolDeviceOptions {
  id: string;
  hardwareId: string;
  /** The operator's selectors for this device: preauthorized, never sent by the device. */
  channel: string;
  labels: Labels;
  key: DeviceKey;
  gatewayUrl: string;
  factory: InstalledImage;
  /**
   * Mutual TLS: the fleet CA root the device pins (the gateway must be https). The device then gets
   * a short-lived client certificate after enrollment and renews it at 2/3 of its lifetime.
   */
  fleetCaPem?: string;
  /** TLS connection reuse and session resumption (the TLS-cost bench turns them off). */
  tls?: TlsFetchOptions;
  /** An older device: GET /v1/nonce before every check-in, never asking for nextNonce (default: one request per check-in). */
  twoStepCheckin?: boolean;
}

export type CheckinOutcome =
  | { action: 'none' | 'hold'; reason?: string }
  | { action: 'updated'; from: string; to: string }
  | { action: 'failed'; version: string; kind: FailureKind }
  | { action: 'rolled-back'; from: string; to: string }
  | { action: 'bricked'; version: string }
  /** Did not check in: offline (the fleet's silent share) or bricked. */
  | { action: 'offline' };

export class ProtocolDevice {
  readonly id: string;
  readonly labels: Labels;
  current: InstalledImage;
  /** The image in the other slot, if any: where a fallback or a rollback returns to. */
  other?: InstalledImage;
  slot: 'A' | 'B' = 'A';
  bootCount = 1;
  private counter = 0;
  private heartbeatCounter = 0;
  lastResponse?: CheckinResponse;
  /** The last artifact fetched: its kind and size (deltas are what a healthy fleet should see). */
  downloaded?: { kind: 'delta' | 'full'; bytes: number };
  /**
   * Posture facts in each heartbeat (docs/attestation.md); undefined: an agent without posture (the
   * default). Without a TPM its boot measurement is the digest of the booted slot's bytes.
   */
  posture?: { agentVersion: string; listening: string[]; services: string[] };
  /** Slots whose bytes were changed behind the agent's back: the digest they now measure as. */
  private tampered = new Map<'A' | 'B', string>();
  /** Bricked by an install: silent (no check-in, no heartbeat) until revive(). */
  bricked?: { version: string };
  /** The nextNonce of the last check-in answer: what the next check-in is signed over. */
  private readonly heldNonces = new HeldNonces();
  /** Check-ins signed over a held nextNonce, and those that had to fetch one first. */
  readonly checkinNonces = { held: 0, fetched: 0 };

  /** Every request of this device (and the fleet's manifest reads through device 0) goes through this. */
  readonly fetch: FetchLike;
  /** The held client certificate (mTLS) and when it is renewed. */
  certificate?: { chainPem: string; serialNumber: string; renewAt: Date };
  /** Certificates this device was issued (the first, then renewals). */
  certificatesIssued = 0;
  private csrPem?: string;

  constructor(private readonly opts: ProtocolDeviceOptions) {
    this.id = opts.id;
    this.labels = opts.labels;
    this.current = opts.factory;
    const ca = opts.fleetCaPem;
    const keyPem = ca ? opts.key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() : '';
    this.fetch = ca ? tlsFetch(() => (this.certificate ? { ca, cert: this.certificate.chainPem, key: keyPem } : { ca }), opts.tls) : (url, init) => fetch(url, init);
  }

  /**
   * With mTLS: a certificate for the device's own key when it holds none or is past 2/3 of its
   * lifetime (POST /v1/certificates, signed by the enrolled key); nothing over plain HTTP.
   */
  async ensureCertificate(now = new Date()): Promise<void> {
    if (!this.opts.fleetCaPem || (this.certificate && now < this.certificate.renewAt)) return;
    this.csrPem ??= await createDeviceCsr(this.opts.key.privateKey, this.id);
    const answer = certificateResponseSchema.parse(
      await this.post('/v1/certificates', signPayload({ type: 'certificate-request', deviceId: this.id, csrPem: this.csrPem, sentAt: new Date().toISOString() }, this.opts.key)),
    );
    this.certificate = { chainPem: answer.chainPem, serialNumber: answer.serialNumber, renewAt: renewalTime(new Date(answer.notBefore), new Date(answer.notAfter)) };
    this.certificatesIssued++;
  }

  /** The preauthorization an operator records for this device before it first connects. */
  preauthorization(): SimPreauthorization {
    const { id, hardwareId, channel, labels, key } = { ...this.opts, id: this.id };
    return { deviceId: id, hardwareId, channel, labels, publicKeyPem: key.publicKeyPem, keyAlgorithm: key.algorithm };
  }

  /** POST /v1/enroll, signed by the device key; `token`: a per-device token (or the lab's shared one), none when preauthorized. */
  async enroll(token?: string): Promise<void> {
    const claim = { type: 'enroll' as const, deviceId: this.id, hardwareId: this.opts.hardwareId, publicKey: { algorithm: this.opts.key.algorithm, pem: this.opts.key.publicKeyPem } };
    await this.post('/v1/enroll', signEnrollClaim(claim, this.opts.key), token === undefined ? {} : { authorization: `Bearer ${token}` });
    await this.ensureCertificate();
  }

  /** One check-in and whatever it leads to, with the reports a real device would send. */
  async checkIn(behaviour: BehaviourModel, resolve: ManifestResolver): Promise<CheckinOutcome> {
    if (this.bricked) return { action: 'offline' };
    await this.ensureCertificate();
    const response = await this.signedCheckin();
    this.lastResponse = response;

    if (response.action === 'none') return { action: 'none' };
    if (response.action === 'hold') return { action: 'hold', reason: response.reason };
    if (response.action === 'rollback') {
      if (this.current.version === response.targetVersion) return { action: 'none' };
      const from = this.current.version;
      const target = this.other?.version === response.targetVersion ? this.other : response.release ? await resolve(response.release.manifestUrl, response.release.bundleUrl) : undefined;
      if (!target) return { action: 'hold', reason: `cannot return to ${response.targetVersion}: no image` };
      await this.report(from, 'rolled-back', undefined, `rollback to ${response.targetVersion}: ${response.reason}`);
      this.switchTo(target);
      await this.report(target.version, 'committed');
      return { action: 'rolled-back', from, to: target.version };
    }

    const release = await resolve(response.release.manifestUrl, response.release.bundleUrl);
    const from = this.current.version;
    await this.report(release.version, 'downloading', undefined, undefined, release.imageSha256);
    // The bytes really cross the gateway (delta or full image) and are checked against the hint.
    this.downloaded = await this.download(response.artifact);
    const outcome = behaviour(this, release);
    if (outcome.result === 'brick') {
      // Took the offer, downloaded, and hung writing the slot: nothing more is ever sent.
      this.bricked = { version: release.version };
      return { action: 'bricked', version: release.version };
    }
    // A failed download, verify or install never reaches `installed`; a boot or health failure does.
    const beforeInstalled = outcome.result === 'fail' && ['download', 'verify', 'install'].includes(outcome.kind);
    if (!beforeInstalled) await this.report(release.version, 'installed', undefined, undefined, release.imageSha256);
    if (outcome.result === 'commit') {
      this.switchTo(release);
      await this.report(release.version, 'booted');
      await this.report(release.version, 'committed');
      return { action: 'updated', from, to: release.version };
    }
    if (outcome.fallsBack) {
      // Boots the new slot, fails, and the bootloader/agent falls back to the intact old slot.
      await this.report(release.version, 'rolled-back', outcome.kind, `simulated ${outcome.kind} failure`, release.imageSha256);
      this.other = release;
    } else {
      await this.report(release.version, 'failed', outcome.kind, `simulated ${outcome.kind} failure`, release.imageSha256);
    }
    return { action: 'failed', version: release.version, kind: outcome.kind };
  }

  /**
   * The window's signed heartbeat on whatever the device runs (new release or previous: the
   * control cohort), with its own counter. A crash loop counts as boots since the last heartbeat.
   */
  async heartbeat(health: WindowHealth = {}, windowSeconds = 300): Promise<void> {
    if (this.bricked) return;
    this.heartbeatCounter++;
    const bootsSinceLast = health.crashLoop ? 4 : 0;
    this.bootCount += bootsSinceLast;
    await this.post('/v1/heartbeats', signPayload({
      type: 'heartbeat',
      deviceId: this.id,
      releaseVersion: this.current.version,
      imageSha256: this.current.imageSha256,
      slot: this.slot,
      bootCount: this.bootCount,
      bootsSinceLast,
      crashLoop: health.crashLoop ?? false,
      uptimeSeconds: health.crashLoop ? 30 : 3600,
      healthChecks: { run: 1, failed: health.healthFailed ? 1 : 0 },
      failedChecks: health.healthFailed ? ['command app'] : [],
      metrics: health.metrics ?? {},
      ...(this.posture && {
        posture: {
          agentVersion: this.posture.agentVersion,
          bootMeasurement: { source: 'slot-digest', value: this.tampered.get(this.slot) ?? this.current.imageSha256 },
          trust: null,
          configDigest: createHash('sha256').update(`sim ${this.opts.hardwareId}`).digest('hex'),
          listening: this.posture.listening,
          services: this.posture.services,
          truncated: false,
        },
      }),
      windowSeconds,
      counter: this.heartbeatCounter,
      nonce: await this.nonce(),
      sentAt: new Date().toISOString(),
    }, this.opts.key));
  }

  /**
   * A bricked device comes back (a watchdog or a power cycle): the bootloader falls back to the
   * intact slot, so it runs what it ran before and checks in again. Returns whether it was bricked.
   */
  revive(): boolean {
    const was = this.bricked !== undefined;
    this.bricked = undefined;
    return was;
  }

  private async download(hint: ArtifactHint): Promise<{ kind: 'delta' | 'full'; bytes: number }> {
    const res = await this.fetch(new URL(hint.url, this.opts.gatewayUrl).toString());
    if (!res.ok || !res.body) throw new Error(`download ${hint.url} for ${this.id}: HTTP ${res.status}`);
    const hash = createHash('sha256');
    let bytes = 0;
    for await (const chunk of res.body as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      bytes += chunk.length;
    }
    const digest = hash.digest('hex');
    if (digest !== hint.sha256 || bytes !== hint.length) throw new Error(`download ${hint.url} for ${this.id}: got ${bytes} bytes sha256 ${digest}, expected ${hint.length} bytes ${hint.sha256}`);
    return { kind: hint.kind, bytes };
  }

  private switchTo(image: InstalledImage): void {
    this.other = this.current;
    this.current = image;
    this.slot = this.slot === 'A' ? 'B' : 'A';
    this.tampered.delete(this.slot);
    this.bootCount++;
  }

  /** Changes one byte of the booted slot (an attacker with write access to the disk): its measurement changes, its claim does not. */
  tamperBootedSlot(): void {
    this.tampered.set(this.slot, createHash('sha256').update(`tampered ${this.current.imageSha256}`).digest('hex'));
  }

  private async report(version: string, state: ReportState, failureKind?: FailureKind, detail?: string, imageSha256 = this.current.imageSha256): Promise<void> {
    this.counter++;
    await this.post('/v1/reports', signPayload({
      type: 'report',
      deviceId: this.id,
      releaseVersion: version,
      imageSha256,
      slot: this.slot,
      bootCount: this.bootCount,
      state,
      ...(failureKind ? { failureKind } : {}),
      ...(detail ? { detail } : {}),
      metrics: { crashCount: failureKind === 'boot' ? 3 : 0, uptimeSeconds: 60, freeMemoryBytes: 64 * 1024 * 1024 },
      custom: {},
      createdAt: new Date().toISOString(),
      counter: this.counter,
      nonce: await this.nonce(),
    }, this.opts.key));
  }

  /**
   * POST /v1/checkin over the held nextNonce (one request), or over a fresh nonce when none is held
   * or the held one is refused as used or expired; keeps the answer's nextNonce for the next one.
   */
  private async signedCheckin(): Promise<CheckinResponse> {
    const held = this.heldNonces.take(this.opts.gatewayUrl, this.id);
    const send = async (nonce: string) => {
      const res = await this.fetch(`${this.opts.gatewayUrl}/v1/checkin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(signPayload({
          type: 'checkin',
          deviceId: this.id,
          hardwareId: this.opts.hardwareId,
          currentVersion: this.current.version,
          imageSha256: this.current.imageSha256,
          bootedSlot: this.slot,
          securityVersion: this.current.securityVersion,
          supportedDeltaFormats: ['bsdiff'],
          nonce,
          sentAt: new Date().toISOString(),
          ...(!this.opts.twoStepCheckin && { acceptsNextNonce: true }),
        }, this.opts.key)),
      });
      return { status: res.status, text: await res.text() };
    };
    let answer = held ? await send(held) : undefined;
    if (answer && answer.status === 409 && /"nonce-(used|expired|unknown)"/.test(answer.text)) answer = undefined;
    if (held && answer) this.checkinNonces.held++;
    else this.checkinNonces.fetched++;
    answer ??= await send(await this.nonce());
    if (answer.status !== 200) throw new Error(`/v1/checkin for ${this.id}: HTTP ${answer.status} ${answer.text}`);
    const { nextNonce, ...response } = JSON.parse(answer.text) as CheckinResponse & { nextNonce?: { nonce: string; expiresAt: string } };
    if (nextNonce) this.heldNonces.keep(this.opts.gatewayUrl, this.id, nextNonce);
    return response;
  }

  private async nonce(): Promise<string> {
    const res = await this.fetch(`${this.opts.gatewayUrl}/v1/nonce?device=${encodeURIComponent(this.id)}`);
    if (!res.ok) throw new Error(`nonce for ${this.id}: HTTP ${res.status} ${await res.text()}`);
    return ((await res.json()) as { nonce: string }).nonce;
  }

  private async post(path: string, body: unknown, headers: Record<string, string> = {}): Promise<unknown> {
    const res = await this.fetch(`${this.opts.gatewayUrl}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const text = await res.text();
    if (!res.ok) throw new Error(`${path} for ${this.id}: HTTP ${res.status} ${text}`);
    return text ? JSON.parse(text) : undefined;
  }
}
