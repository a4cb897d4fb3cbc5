// What the device trusts of the fleet's TUF repository (docs/trust.md, "Devices"): the root it was
// provisioned with (<trust folder>/tuf/root.json, next to trusted_root.json) and, in its state dir,
// one atomically written document with the newest root it walked to, the role versions it trusted
// (an older one is a rollback), the newest signed time it saw (a clock set back revives nothing) and
// when its newest timestamp expires (past that, the device is frozen and says so).
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import type { Metadata, Root } from '@tufjs/models';
import { writeFileAtomic } from '../../platform/atomic-write.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { TufThresholdNotMetError } from '../../trust/errors.js';
import { readLocalTrust, localTrustDir } from '../../trust/local-trust.js';
import { metadataBytes } from '../../trust/metadata.js';
import { referenceTime } from '../../trust/freshness.js';
import { METADATA_LIMITS, parseMetadata } from '../../trust/parse.js';
import type { TrustedVersions } from '../../trust/verify-roles.js';
import { readJsonFile, writeJsonFile } from '../state/json-file.js';
import type { Frozen } from '../../schemas/device-api.js';
import type { DeviceConfig } from '../config.js';

export const DEVICE_TRUST_FILE = 'tuf-trust.json';

const version = z.int().min(1);
const deviceTrustSchema = z
  .object({
    /** The newest root walked to, as its metadata document. */
    root: z.record(z.string(), z.unknown()),
    seen: z.strictObject({ timestamp: version.optional(), snapshot: version.optional(), targets: version.optional(), newestSignedTime: z.string().optional() }),
    /** Expiry of the newest trusted timestamp: the device is frozen once the reference time passes it. */
    timestampExpires: z.string(),
    updatedAt: z.string(),
  })
  .strict();

export interface DeviceTrust {
  root: Metadata<Root>;
  seen: TrustedVersions;
  timestampExpires?: string;
}

export function deviceTrustPath(config: Pick<DeviceConfig, 'stateDir'>): string {
  return join(config.stateDir, DEVICE_TRUST_FILE);
}

/** Whether the device pins a TUF root (cheap: per TLS connection; the root is read and checked by readPinnedRoot). */
export function pinsTufRoot(config: Pick<DeviceConfig, 'trust'>): boolean {
  return existsSync(join(localTrustDir(config.trust.trustedRootPath), 'root.json'));
}

/** The pinned root from provisioning, or undefined when the device pins none (releases verify as before TUF). */
export async function readPinnedRoot(config: Pick<DeviceConfig, 'trust'>): Promise<Metadata<Root> | undefined> {
  return (await readLocalTrust(localTrustDir(config.trust.trustedRootPath)))?.root;
}

/** Provisioning: the fleet's root (N.root.json, obtained out of band), bounded, and signed by its own threshold. */
export async function readTufRootFile(file: string): Promise<Metadata<Root>> {
  const root = parseMetadata('root', await readFileAtMost(file, METADATA_LIMITS.root, file), file);
  try {
    root.verifyDelegate('root', root);
  } catch (err) {
    throw new TufThresholdNotMetError(`${file}: root version ${root.signed.version} is not signed by its own threshold: ${(err as Error).message}`, { cause: err });
  }
  return root;
}

/** The root becomes the device's pin in <trust folder>/tuf/root.json. */
export async function pinTufRoot(config: Pick<DeviceConfig, 'trust'>, root: Metadata<Root>): Promise<void> {
  const dir = localTrustDir(config.trust.trustedRootPath);
  await mkdir(dir, { recursive: true });
  await writeFileAtomic(join(dir, 'root.json'), metadataBytes(root));
}

/**
 * What the device trusts now: the state dir's document, or the pinned root when it has none yet.
 * A root pinned later (re-provisioned with a newer one) wins over an older walked one; versions seen stay.
 */
export async function readDeviceTrust(config: Pick<DeviceConfig, 'trust' | 'stateDir'>): Promise<DeviceTrust | undefined> {
  const pinned = await readPinnedRoot(config);
  const stored = await readJsonFile(deviceTrustPath(config), deviceTrustSchema);
  if (!stored) return pinned && { root: pinned, seen: {} };
  const walked = parseMetadata('root', Buffer.from(JSON.stringify(stored.root)), deviceTrustPath(config));
  const root = pinned && pinned.signed.version > walked.signed.version ? pinned : walked;
  return { root, seen: stored.seen, timestampExpires: stored.timestampExpires };
}

export async function writeDeviceTrust(config: Pick<DeviceConfig, 'stateDir'>, trust: Required<DeviceTrust>, now = new Date()): Promise<void> {
  await writeJsonFile(deviceTrustPath(config), { root: trust.root.toJSON(), seen: trust.seen, timestampExpires: trust.timestampExpires, updatedAt: now.toISOString() });
}


/** Frozen (since when, how long; judged at the reference time, never before the newest signed time seen): the newest timestamp the device trusts has expired (nobody re-signed it, or nobody lets it through). */
export function frozenSince(trust: DeviceTrust | undefined, now: Date): Frozen | undefined {
  if (!trust?.timestampExpires) return undefined;
  const at = referenceTime(now, trust.seen.newestSignedTime);
  const expired = new Date(trust.timestampExpires).getTime();
  if (at.getTime() < expired) return undefined;
  return { since: trust.timestampExpires, seconds: Math.floor((at.getTime() - expired) / 1000) };
}

export interface DeviceTrustStatus {
  tuf: boolean;
  /** Without TUF: why, in words. */
  note?: string;
  rootVersion?: number;
  seen?: TrustedVersions;
  timestampExpires?: string;
  frozen?: Frozen;
}

/** For `ota-device status`: what the device trusts, or that it verifies against trusted_root.json alone. */
export async function deviceTrustStatus(config: Pick<DeviceConfig, 'trust' | 'stateDir'>, now = new Date()): Promise<DeviceTrustStatus> {
  const trust = await readDeviceTrust(config);
  if (!trust) return { tuf: false, note: 'no TUF root pinned: releases are verified against trusted_root.json alone (no root chain, no freshness)' };
  const frozen = frozenSince(trust, now);
  return { tuf: true, rootVersion: trust.root.signed.version, seen: trust.seen, ...(trust.timestampExpires && { timestampExpires: trust.timestampExpires }), ...(frozen && { frozen }) };
}

export function formatTrustStatus(s: DeviceTrustStatus): string {
  if (!s.tuf) return `trust: ${s.note}`;
  const v = s.seen ?? {};
  const versions = v.timestamp ? `timestamp v${v.timestamp}, snapshot v${v.snapshot}, targets v${v.targets}; timestamp expires ${s.timestampExpires}` : 'no metadata walked yet';
  const frozen = s.frozen ? `; FROZEN for ${s.frozen.seconds} s (since ${s.frozen.since})` : '';
  return `trust: TUF root v${s.rootVersion}; ${versions}${frozen}`;
}
