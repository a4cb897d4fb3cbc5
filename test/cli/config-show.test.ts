// `ota config show` (compiled CLI) shows the Temporal TLS settings with their sources and never the API key.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, expect, it } from 'vitest';
import { ensureDist, OTA_BIN } from '../support/dist.js';

const run = promisify(execFile);
let skipReason: string | undefined;

beforeAll(async () => {
  skipReason = await ensureDist();
  if (skipReason) console.error(`\n*** SKIPPING ota config show test: ${skipReason} ***\n`);
}, 200_000);

it('prints temporal.tls fields and hides temporal.apiKey', async (ctx) => {
  if (skipReason) return ctx.skip();
  const dir = mkdtempSync(join(tmpdir(), 'config-show-'));
  const env = { ...process.env, OTA_STATE_DIR: dir, OTA_TEMPORAL_API_KEY: 'super-secret-key', OTA_TEMPORAL_TLS_CA: '/etc/ota/temporal-ca.pem' };
  const human = await run(process.execPath, [OTA_BIN, 'config', 'show'], { env, cwd: dir, timeout: 60_000 });
  const json = await run(process.execPath, [OTA_BIN, 'config', 'show', '--json'], { env, cwd: dir, timeout: 60_000 });
  for (const out of [human.stdout, json.stdout]) expect(out).not.toContain('super-secret-key');
  expect(human.stdout).toContain('temporal.apiKey = "(set, hidden)"  (env OTA_TEMPORAL_API_KEY)');
  expect(human.stdout).toContain('temporal.tls.serverCaPath = "/etc/ota/temporal-ca.pem"  (env OTA_TEMPORAL_TLS_CA)');
  expect(human.stdout).toContain(`identity.caDir = "${join(dir, 'ca')}"  (default)`);
  expect(JSON.parse(json.stdout).config.temporal).toMatchObject({ apiKey: '(set, hidden)', tls: { serverCaPath: '/etc/ota/temporal-ca.pem' } });
}, 120_000);
