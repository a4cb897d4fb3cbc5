// `ota fleet answer-key`: the gateway answer key is created on first use (0600 in a 0700 folder),
// its public key printed for devices to pin, and the same key every later run.
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { pinnedAnswerKey } from '../../device-client/gateway/answer-verification.js';
import { otaIn } from '../support/ota-cli.js';

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

it('creates the answer key on first use and prints the same public key every run', async () => {
  const state = await mkdtemp(join(tmpdir(), 'ota-answer-key-'));
  dirs.push(state);
  const ota = otaIn(state);
  const first = await ota(['fleet', 'answer-key']);
  expect(first.code, first.stderr).toBe(0);
  expect(first.stderr).toContain('created the gateway answer key');
  const keyPath = join(state, 'keys', 'gateway-answer.pem');
  expect((await stat(keyPath)).mode & 0o777).toBe(0o600);
  expect((await stat(join(state, 'keys'))).mode & 0o777).toBe(0o700);
  const pub = await readFile(join(state, 'keys', 'gateway-answer.pub'), 'utf8');
  expect(first.stdout.trim()).toBe(pub.trim());
  expect(pinnedAnswerKey(pub).keyAlgorithm).toBe('ecdsa-p256-sha256');

  const again = await ota(['fleet', 'answer-key', '--json']);
  expect(again.code, again.stderr).toBe(0);
  expect(again.stderr).not.toContain('created');
  expect(JSON.parse(again.stdout)).toMatchObject({ privateKey: keyPath, algorithm: 'ecdsa-p256-sha256', publicKeyPem: pub });
});
