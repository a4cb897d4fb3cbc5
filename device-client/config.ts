// The device agent's configuration (`ota-device --config FILE`), validated with zod at start so
// a wrong value stops the agent with the field's name before it touches a slot or the boot state.
// Relative paths resolve against the config file's folder, as in the operator config.
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { zodIssueLines } from '../platform/zod-issues.js';
import { keyAlgorithmSchema, labelsSchema } from '../schemas/device-api.js';
import { channelSchema, deltaFormatSchema, hardwareIdSchema } from '../schemas/manifest.js';

const pathSchema = z.string().min(1, 'must be a path');
const seconds = (max: number) => z.number().min(0).max(max);

export const bootloaderConfigSchema = z.discriminatedUnion('kind', [
  /** A JSON state file (simulation, tests, or a bootloader that reads a file of its own). */
  z.object({ kind: z.literal('state-file'), path: pathSchema }).strict(),
  /** U-Boot environment through fw_printenv/fw_setenv and this fw_env.config. */
  z.object({ kind: z.literal('uboot'), fwEnvConfig: pathSchema }).strict(),
  /** GRUB environment block (grubenv) through grub-editenv. */
  z.object({ kind: z.literal('grub'), envPath: pathSchema }).strict(),
]);

export const commandCheckSchema = z
  .object({
    name: z.string().min(1),
    /** argv, run without a shell; exit code 0 is healthy. */
    run: z.array(z.string().min(1)).min(1, 'must name a program'),
    timeoutMs: z.int().min(1).max(600_000).default(10_000),
  })
  .strict();

export const httpProbeSchema = z
  .object({
    name: z.string().min(1),
    url: z.url(),
    /** Healthy when the status is one of these (default: any 2xx). */
    expectStatus: z.array(z.int().min(100).max(599)).optional(),
    timeoutMs: z.int().min(1).max(600_000).default(5_000),
  })
  .strict();

export const healthConfigSchema = z
  .object({
    commands: z.array(commandCheckSchema).default([]),
    http: z.array(httpProbeSchema).default([]),
    /** Services that must be running; each is checked with `serviceCheck` + the service name. */
    requiredServices: z.array(z.string().min(1)).default([]),
    /** argv prefix for a service check, e.g. ["systemctl", "is-active", "--quiet"] or ["test", "-e"] for pid files. */
    serviceCheck: z.array(z.string().min(1)).min(1).default(['systemctl', 'is-active', '--quiet']),
    serviceTimeoutMs: z.int().min(1).max(600_000).default(10_000),
    /** The new slot must stay up this long (system uptime) before it can be committed. */
    minUptimeSeconds: seconds(86_400).default(0),
    /** Where uptime is read from: Linux's /proc/uptime format (first number, seconds). */
    uptimePath: pathSchema.default('/proc/uptime'),
  })
  .strict();

export const deviceConfigSchema = z
  .object({
    deviceId: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/, 'must be 1-128 characters of A-Z a-z 0-9 . _ : -, starting alphanumeric'),
    hardwareId: hardwareIdSchema,
    /** The device gateway; optional while the agent installs from offline bundles only. */
    gatewayUrl: z.url().optional(),
    /** The gateway answer public key (PEM file, from `ota fleet answer-key`): when set, check-in answers must be signed by it for this device and request. */
    gatewayAnswerKeyPath: pathSchema.optional(),
    /**
     * How the agent reaches the gateway. The default is https only, with the fleet CA root pinned in
     * stateDir/fleet-ca.pem (`ota-device provision --fleet-ca`) and the device's client certificate.
     */
    transport: z
      .object({
        /** Lab only: allow an http:// gatewayUrl (no TLS, no client certificate). Without it http:// is refused. */
        insecurePlainHttp: z.boolean().default(false),
      })
      .strict()
      .default({ insecurePlainHttp: false }),
    /** Release channel the device follows; sent at enrollment. */
    channel: channelSchema.default('stable'),
    /** Rollout selectors (region, store, ...); sent at enrollment. */
    labels: labelsSchema.default({}),
    enrollment: z
      .object({
        /** Environment variable holding the one-time enrollment token (never the token itself in the file). */
        tokenEnv: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name').default('OTA_ENROLLMENT_TOKEN'),
        /** Key type the device makes on first enrollment (kept in stateDir/device-key.pem, mode 0600). */
        keyAlgorithm: keyAlgorithmSchema.default('ed25519'),
      })
      .strict()
      .default({ tokenEnv: 'OTA_ENROLLMENT_TOKEN', keyAlgorithm: 'ed25519' }),
    /**
     * A TPM 2.0 holds the device key and the attestation key (docs/attestation.md); the boot path
     * measures into `pcr` and the anti-rollback floor also lives in the NV counter `floorIndex`.
     * Without it the device key is a file and the fleet records a lower assurance level.
     */
    tpm: z
      .object({
        /** TPM2TOOLS_TCTI, e.g. "device:/dev/tpmrm0" or "swtpm:host=127.0.0.1,port=2321". */
        tcti: z.string().min(1).max(512),
        pcr: z.int().min(0).max(23).default(16),
        floorIndex: z.string().regex(/^0x01[0-9a-fA-F]{6}$/, 'must be an NV index such as 0x01500016').default('0x01500016'),
        /** `run` sends a fresh quote at least this often (and after every boot). */
        attestSeconds: z.int().min(60).max(7 * 86_400).default(3600),
      })
      .strict()
      .optional(),
    /** Gateway downloads: resumed with HTTP Range, retried with exponential backoff and full jitter. */
    download: z
      .object({
        maxAttempts: z.int().min(1).max(100).default(5),
        baseDelayMs: z.int().min(0).max(600_000).default(1_000),
        maxDelayMs: z.int().min(0).max(3_600_000).default(60_000),
        /** No byte for this long: the attempt is abandoned (slow-retrieval attack) and resumed later. */
        stallTimeoutMs: z.int().min(1).max(3_600_000).default(30_000),
        /** Fewer bytes per second than this over a stall window also abandons the attempt (a gateway that trickles). */
        minBytesPerSecond: z.int().min(0).max(1_000_000_000).default(256),
      })
      .strict()
      .default({ maxAttempts: 5, baseDelayMs: 1_000, maxDelayMs: 60_000, stallTimeoutMs: 30_000, minBytesPerSecond: 256 }),
    slots: z
      .object({
        A: pathSchema,
        B: pathSchema,
        /** Bytes a slot can hold (block devices know their own size; file slots grow without it). */
        capacity: z.int().min(1).optional(),
      })
      .strict(),
    bootloader: bootloaderConfigSchema,
    /** Trial boots a freshly installed slot gets before the bootloader falls back (1..9). */
    bootTries: z.int().min(1).max(9).default(3),
    /** Where the running slot is read from: the kernel command line (ota.slot=A|B). */
    cmdlinePath: pathSchema.default('/proc/cmdline'),
    trust: z
      .object({
        /** The pinned trusted_root.json (keys, CAs, logs) manifests must verify against. */
        trustedRootPath: pathSchema,
        /** Keyless releases: the signer identity the certificate must carry. Without it, pinned keys. */
        keyless: z.object({ certificateIdentity: z.string().min(1), certificateIssuer: z.url() }).strict().optional(),
      })
      .strict(),
    /** Delta formats this device applies, in preference order; sent at check-in. The smallest offered delta wins. */
    deltas: z
      .object({
        /** A device without the RAM for whole-image bspatch (old and new image in memory) lists only "ops". */
        formats: z.array(deltaFormatSchema).default(['ops', 'bsdiff']),
        /** An ops apply makes its progress durable (fdatasync + install journal) this often: what a power cut can cost. */
        opsCheckpointBytes: z.int().min(1).default(16 * 1024 * 1024),
        /**
         * Who applies an ops delta: "native" (ota-apply-ops, a few MB of RSS; docs/native-applier.md),
         * "node" (in the agent's process), or "auto": native when the binary is installed, else node.
         */
        applier: z.enum(['auto', 'native', 'node']).default('auto'),
      })
      .strict()
      .default({ formats: ['ops', 'bsdiff'], opsCheckpointBytes: 16 * 1024 * 1024, applier: 'auto' }),
    /** The agent's own durable state: installed versions, security version, install journal, scratch files. */
    stateDir: pathSchema,
    /** The anti-rollback floor's second copy (default stateDir/security-floor.json): put it where a reset of stateDir does not reach. */
    securityFloorPath: pathSchema.optional(),
    health: healthConfigSchema.default(healthConfigSchema.parse({})),
    intervals: z
      .object({
        /** How often `run` looks for an update when the gateway gives no pollAfterSeconds (it normally does). */
        checkSeconds: seconds(7 * 86_400).default(3600),
        /** Each wait is scaled by a random factor in [1 - jitter, 1 + jitter], so a fleet does not check in in lockstep. */
        checkJitter: z.number().min(0).max(1).default(0.2),
        /** Delay after start before `run` runs the boot check (lets services come up). */
        bootCheckDelaySeconds: seconds(3600).default(0),
      })
      .strict()
      .default({ checkSeconds: 3600, checkJitter: 0.2, bootCheckDelaySeconds: 0 }),
    /**
     * Signed heartbeats after commit (POST /v1/heartbeats): one per window with reboots, crash
     * loops, the health checks run again and their `metric name=value` lines. The rollout compares
     * a ring with the devices still on the previous release through them.
     */
    heartbeat: z
      .object({
        enabled: z.boolean().default(true),
        /** The window: a heartbeat at most this often (checked after each check-in round). */
        intervalSeconds: z.int().min(10).max(7 * 86_400).default(300),
        /** This many boots or more since the last heartbeat is a crash loop (watchdog resets, panics). */
        crashLoopBoots: z.int().min(2).max(1000).default(3),
        /** Re-run the configured health checks (commands, services, HTTP; not the minimum uptime) each window. */
        runHealthChecks: z.boolean().default(true),
      })
      .strict()
      .default({ enabled: true, intervalSeconds: 300, crashLoopBoots: 3, runHealthChecks: true }),
    /**
     * Posture facts in each heartbeat (docs/device-agent.md, "Posture"): listening ports from
     * procRoot/net/{tcp,tcp6,udp,udp6}, enabled services (this list, or the entries of servicesDir),
     * the boot measurement, TUF versions, the config digest and the agent version.
     */
    posture: z
      .object({
        enabled: z.boolean().default(true),
        procRoot: pathSchema.default('/proc'),
        services: z.array(z.string().min(1).max(128)).max(128).optional(),
        /** e.g. /etc/systemd/system/multi-user.target.wants: each entry (less .service) is an enabled service. */
        servicesDir: pathSchema.optional(),
      })
      .strict()
      .default({ enabled: true, procRoot: '/proc' }),
  })
  .strict();

export type DeviceConfig = z.infer<typeof deviceConfigSchema>;
export type BootloaderConfig = z.infer<typeof bootloaderConfigSchema>;
export type HealthConfig = z.infer<typeof healthConfigSchema>;

export class DeviceConfigError extends Error {
  constructor(readonly problems: string[], where: string) {
    super(`invalid device configuration${where ? ` in ${where}` : ''}:\n  ${problems.join('\n  ')}`);
    this.name = 'DeviceConfigError';
  }
}

/** Validates a parsed document; `baseDir` resolves relative paths. Errors name each field. */
export function parseDeviceConfig(doc: unknown, baseDir: string, where = ''): DeviceConfig {
  const result = deviceConfigSchema.safeParse(doc);
  if (!result.success) {
    throw new DeviceConfigError(
      zodIssueLines(result.error, { unknownKeys: 'per-key' }),
      where,
    );
  }
  return resolveConfigPaths(result.data, baseDir);
}

/** Reads a JSON or YAML device config file. */
export async function loadDeviceConfig(file: string): Promise<DeviceConfig> {
  const path = resolve(file);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new DeviceConfigError([`cannot read the file: ${(error as Error).message}`], path);
  }
  let doc: unknown;
  try {
    doc = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    throw new DeviceConfigError([`cannot parse: ${(error as Error).message}`], path);
  }
  return parseDeviceConfig(doc, dirname(path), path);
}

function resolveConfigPaths(config: DeviceConfig, baseDir: string): DeviceConfig {
  const at = (p: string) => (isAbsolute(p) ? p : resolve(baseDir, p));
  const bootloader: BootloaderConfig =
    config.bootloader.kind === 'state-file'
      ? { kind: 'state-file', path: at(config.bootloader.path) }
      : config.bootloader.kind === 'uboot'
        ? { kind: 'uboot', fwEnvConfig: at(config.bootloader.fwEnvConfig) }
        : { kind: 'grub', envPath: at(config.bootloader.envPath) };
  return {
    ...config,
    slots: { ...config.slots, A: at(config.slots.A), B: at(config.slots.B) },
    bootloader,
    cmdlinePath: at(config.cmdlinePath),
    trust: { ...config.trust, trustedRootPath: at(config.trust.trustedRootPath) },
    stateDir: at(config.stateDir),
    securityFloorPath: config.securityFloorPath === undefined ? undefined : at(config.securityFloorPath),
    gatewayAnswerKeyPath: config.gatewayAnswerKeyPath === undefined ? undefined : at(config.gatewayAnswerKeyPath),
    health: { ...config.health, uptimePath: at(config.health.uptimePath) },
    posture: { ...config.posture, procRoot: at(config.posture.procRoot), ...(config.posture.servicesDir === undefined ? {} : { servicesDir: at(config.posture.servicesDir) }) },
  };
}
