// Writes what the fleet CA issued where a server reads it: the key and the chain 0600 each, in a folder
// created 0700 (an existing folder keeps its mode: it may be the operator's), each file replaced whole.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { tempPathFor } from '../platform/atomic-write.js';

export async function writePrivateFiles(dir: string, files: Record<string, string>): Promise<Record<string, string>> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const written: Record<string, string> = {};
  for (const [name, data] of Object.entries(files)) {
    const path = join(dir, name);
    const temp = tempPathFor(path);
    await writeFile(temp, data, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
    written[name] = path;
  }
  return written;
}
