// Debian's openssl as an outside check on the certificates the fleet CA issues.
import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export function openssl(args: string[], input?: string): { status: number; out: string } {
  const res = spawnSync('openssl', args, { input, encoding: 'utf8' });
  return { status: res.status ?? -1, out: `${res.stdout}${res.stderr}` };
}

/** `openssl x509 -text -noout` of a PEM. */
export function certText(pem: string): string {
  return execFileSync('openssl', ['x509', '-text', '-noout'], { input: pem, encoding: 'utf8' });
}

/** `openssl verify` of a leaf against the root (trusted) and the intermediate (untrusted), for one purpose. */
export function opensslVerify(dir: string, pems: { root: string; intermediate: string; leaf: string }, purpose: 'sslserver' | 'sslclient'): { status: number; out: string } {
  const files = Object.fromEntries(Object.entries(pems).map(([name, pem]) => [name, join(dir, `verify-${name}.pem`)]));
  for (const [name, pem] of Object.entries(pems)) writeFileSync(files[name]!, pem);
  return openssl(['verify', '-x509_strict', '-purpose', purpose, '-CAfile', files.root!, '-untrusted', files.intermediate!, files.leaf!]);
}
