// `ota-device provision`: record the factory image of a slot and create the agent state.
import type { Command } from 'commander';
import { isSlotName } from '../../device-client/boot/boot-state.js';
import { pinTufRoot, readTufRootFile } from '../../device-client/agent/device-trust.js';
import { provisionDevice } from '../../device-client/agent/provision.js';
import { parseNonNegativeInt } from '../options.js';
import { printResult } from '../output.js';
import { deviceFrom } from './context.js';

export function registerProvisionCommand(program: Command): void {
  program
    .command('provision')
    .description('record the factory image of a slot and create the agent state (and, with --boot-state, the boot state)')
    .requiredOption('--slot <slot>', 'slot holding the factory image (A or B)')
    .requiredOption('--version <semver>', 'version of the factory image')
    .option('--security-version <n>', 'initial stored security version', '0')
    .option('--length <bytes>', 'image length (default: the whole slot file)')
    .option('--boot-state', 'also write the initial boot state (factory slot committed)')
    .option('--force', 'start over on a provisioned device')
    .option('--tuf-root <file>', "pin the fleet's TUF root (N.root.json from `ota trust`) in the trust folder")
    .option('--json', 'print as JSON')
    .action(async (opts: { slot: string; version: string; securityVersion: string; length?: string; bootState?: boolean; force?: boolean; tufRoot?: string; json?: boolean }, command: Command) => {
      if (!isSlotName(opts.slot)) throw new Error(`--slot: expected A or B, got "${opts.slot}"`);
      const device = await deviceFrom(command);
      // Checked before anything is written: a root that is not signed by its own threshold pins nothing.
      const tufRoot = opts.tufRoot === undefined ? undefined : await readTufRootFile(opts.tufRoot);
      const state = await provisionDevice(device, {
        slot: opts.slot,
        version: opts.version,
        securityVersion: parseNonNegativeInt('--security-version', opts.securityVersion),
        length: opts.length === undefined ? undefined : parseNonNegativeInt('--length', opts.length),
        writeBootState: opts.bootState,
        force: opts.force,
      });
      if (tufRoot) await pinTufRoot(device.config, tufRoot);
      const pinned = tufRoot ? `, TUF root v${tufRoot.signed.version} pinned` : '';
      printResult(opts, { ...state, ...(tufRoot && { tufRootVersion: tufRoot.signed.version }) }, () => `provisioned ${device.config.deviceId}: slot ${opts.slot} holds ${opts.version}, stored security version ${state.securityVersion}${pinned}`);
    });
}
