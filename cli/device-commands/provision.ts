// `ota-device provision`: record the factory image of a slot and create the agent state.
import type { Command } from 'commander';
import { isSlotName } from '../../device-client/boot/boot-state.js';
import { pinTufRoot, readTufRootFile } from '../../device-client/agent/device-trust.js';
import { provisionDevice } from '../../device-client/agent/provision.js';
import { pinAnswerKey, readAnswerKeyFile } from '../../device-client/agent/answer-key.js';
import { checkFleetCa, pinFleetCa } from '../../device-client/agent/device-certificate.js';
import { readFileAtMost } from '../../platform/bounded-read.js';
import { checkEnrollmentTokenShape, installFactoryIdentity, readFactoryIdentity, storeEnrollmentToken } from '../../device-client/agent/enrollment-credentials.js';
import { readFile } from 'node:fs/promises';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';
import { deviceFrom, explain } from './context.js';

interface ProvisionFlags {
  slot: string;
  version: string;
  securityVersion?: string;
  length?: string;
  bootState?: boolean;
  force?: boolean;
  floorReset?: string;
  floorResetBundle?: string;
  tufRoot?: string;
  fleetCa?: string;
  answerKey?: string;
  enrollmentToken?: string;
  factoryCert?: string;
  factoryKey?: string;
  json?: boolean;
}

export function registerProvisionCommand(program: Command): void {
  program
    .command('provision')
    .description('record the factory image of a slot and create the agent state (and, with --boot-state, the boot state)')
    .requiredOption('--slot <slot>', 'slot holding the factory image (A or B)')
    .requiredOption('--version <semver>', 'version of the factory image')
    .option('--security-version <n>', "the factory image's security version (default: the device's anti-rollback floor, 0 on a new device); never below the floor")
    .option('--length <bytes>', 'image length (default: the whole slot file)')
    .option('--boot-state', 'also write the initial boot state (factory slot committed)')
    .option('--force', 'start over on a provisioned device (the anti-rollback floor stays)')
    .option('--floor-reset <file>', 'operator-signed reset statement for this device that allows a lower floor')
    .option('--floor-reset-bundle <file>', "the statement's Sigstore bundle (default: <file>.sigstore.json)")
    .option('--tuf-root <file>', "pin the fleet's TUF root (N.root.json from `ota trust`) in the trust folder")
    .option('--fleet-ca <file>', "pin the fleet CA root (root.crt.pem from `ota fleet ca init`): the gateway's TLS certificate must chain to it")
    .option('--answer-key <file>', "pin the gateway answer public key (from `ota fleet answer-key`): check-in answers must be signed by it")
    .option('--enrollment-token <token>', 'per-device single-use token from `ota fleet token`, kept 0600 until the device is admitted')
    .option('--factory-cert <file>', 'factory identity (IDevID): the certificate chain, device certificate first; enrollment presents it')
    .option('--factory-key <file>', "the factory identity's private key; it becomes the device key")
    .option('--json', 'print as JSON')
    .action(async (opts: ProvisionFlags, command: Command) => {
      if (!isSlotName(opts.slot)) throw new Error(`--slot: expected A or B, got "${opts.slot}"`);
      if (!opts.factoryCert !== !opts.factoryKey) throw new Error('--factory-cert and --factory-key go together');
      const device = await deviceFrom(command);
      // Checked before anything is written, like the TUF root below.
      if (opts.enrollmentToken !== undefined) checkEnrollmentTokenShape(opts.enrollmentToken);
      const factory = opts.factoryCert === undefined ? undefined : await readFactoryIdentity(opts.factoryKey!, await readFile(opts.factoryCert, 'utf8'), opts.factoryCert);
      // Checked before anything is written: a root that is not signed by its own threshold pins nothing.
      const tufRoot = opts.tufRoot === undefined ? undefined : await readTufRootFile(opts.tufRoot);
      const fleetCa = opts.fleetCa === undefined ? undefined : checkFleetCa((await readFileAtMost(opts.fleetCa, 64 * 1024, '--fleet-ca')).toString('utf8'));
      const answerKey = opts.answerKey === undefined ? undefined : await readAnswerKeyFile(opts.answerKey);
      const result = await provisionDevice(device, {
        slot: opts.slot,
        version: opts.version,
        securityVersion: opts.securityVersion === undefined ? undefined : parseNonNegativeInt('--security-version', opts.securityVersion),
        length: opts.length === undefined ? undefined : parseNonNegativeInt('--length', opts.length),
        writeBootState: opts.bootState,
        force: opts.force,
        floorReset: opts.floorReset === undefined ? undefined : { statementPath: opts.floorReset, bundlePath: opts.floorResetBundle },
      }).catch((error: unknown) => {
        throw explain(error);
      });
      if (tufRoot) await pinTufRoot(device.config, tufRoot);
      const fleetRoot = fleetCa && (await pinFleetCa(device.config.stateDir, fleetCa.pem));
      if (answerKey) await pinAnswerKey(device.config.stateDir, answerKey);
      if (opts.enrollmentToken !== undefined) await storeEnrollmentToken(device.config.stateDir, opts.enrollmentToken);
      if (factory) await installFactoryIdentity(device.config.stateDir, factory);
      const floor = result.state.securityVersion;
      const note = result.floorReset ? ` (lowered from ${result.previousFloor} by the signed reset statement)` : '';
      const pinned = `${tufRoot ? `, TUF root v${tufRoot.signed.version} pinned` : ''}${fleetRoot ? `, fleet CA ${fleetRoot.subject.replace(/\n/g, ', ')} pinned` : ''}${opts.answerKey ? ', gateway answer key pinned' : ''}`;
      printResult(opts, { ...result.state, ...(tufRoot && { tufRootVersion: tufRoot.signed.version }) }, () => `provisioned ${device.config.deviceId}: slot ${opts.slot} holds ${opts.version}, stored security version ${floor}${note}${pinned}`);
    });
}
