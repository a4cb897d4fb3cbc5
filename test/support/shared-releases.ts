// One published fixture for all the test files of a vitest run that ask for the same releases
// (the attack suite): the first file publishes through the release pipeline, the others wait for
// it, instead of each starting a Temporal dev server. Keyed by the vitest main process (the
// parent of every worker) and the release list. Files must treat the fixture as read-only.
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { publishSampleReleases, type PublishedFixture } from './device-releases.js';

const ROOT = join(tmpdir(), 'edge-ota-shared-releases');
const WAIT_MS = 300_000;

/** Folders of earlier runs (another parent process), older than an hour. */
async function removeStale(): Promise<void> {
  for (const name of await readdir(ROOT).catch(() => [] as string[])) {
    const info = await stat(join(ROOT, name)).catch(() => undefined);
    if (info && !name.startsWith(`${process.ppid}-`) && Date.now() - info.mtimeMs > 3600_000) await rm(join(ROOT, name), { recursive: true, force: true });
  }
}

export async function sharedSampleReleases(releases: Array<{ version: string; securityVersion: number }>): Promise<PublishedFixture> {
  const key = `${process.ppid}-${releases.map((r) => `${r.version}s${r.securityVersion}`).join('_')}`;
  const dir = join(ROOT, key);
  const done = join(dir, 'fixture.json');
  await mkdir(ROOT, { recursive: true });
  await removeStale();
  let owner = false;
  try {
    await mkdir(dir);
    owner = true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const failed = join(dir, 'failed.txt');
  if (owner) {
    try {
      const fixture = await publishSampleReleases(join(dir, 'pipeline'), releases);
      await writeFile(done, JSON.stringify(fixture));
      return fixture;
    } catch (error) {
      await writeFile(failed, String((error as Error).stack ?? error));
      throw error;
    }
  }
  for (const start = Date.now(); Date.now() - start < WAIT_MS; await new Promise((r) => setTimeout(r, 200))) {
    const text = await readFile(done, 'utf8').catch(() => undefined);
    if (text) return JSON.parse(text) as PublishedFixture;
    const failure = await readFile(failed, 'utf8').catch(() => undefined);
    if (failure) throw new Error(`the file publishing the shared fixture failed: ${failure}`);
  }
  throw new Error(`no shared fixture in ${dir} after ${WAIT_MS} ms (did the publishing file fail?)`);
}
