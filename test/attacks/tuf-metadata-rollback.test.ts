// Attack class: metadata rollback (TUF spec 5.4.3, 5.5.5; Uptane: rollback). A device that trusted
// timestamp N refuses an older, correctly signed and unexpired timestamp, and a newer timestamp that
// names an older snapshot (what the online key could sign): TUF_ROLLBACK each time, and nothing changes.
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MetadataKind } from '@tufjs/models';
import { expiresAfter, metaFileFor, signedJSON, unsigned } from '../../trust/metadata.js';
import { refreshOnline } from '../../trust/repository.js';
import { signMetadata } from '../../trust/tuf-keys.js';
import { writeMetadataFiles } from '../support/fleet-tuf.js';
import { installFrom, refused, trustBundle, useTufAttackBench } from '../support/tuf-attack.js';

const bench = useTufAttackBench('metadata-rollback');

/** A device that trusted the repository after two refreshes; the bundle still holds the older metadata files. */
async function deviceAhead(name: string) {
  const fleet = await bench().fleet(name);
  const old = await fleet.tuf.read();
  const oldTimestamp = await readFile(join(fleet.bundle, 'tuf', 'timestamp.json'));
  await fleet.tuf.change((repo) => refreshOnline(repo, { onlineKey: fleet.tuf.keys.online, now: new Date() }));
  const current = await fleet.tuf.change((repo) => refreshOnline(repo, { onlineKey: fleet.tuf.keys.online, now: new Date() }));
  await trustBundle(fleet.sim, fleet.bundle);
  return { ...fleet, old, oldTimestamp, current };
}

describe('attack: metadata rollback', () => {
  it('an older timestamp, correctly signed and not expired: TUF_ROLLBACK, nothing changes', async () => {
    const { bundle, sim, oldTimestamp, old, current } = await deviceAhead('old-timestamp');
    await writeFile(join(bundle, 'tuf', 'timestamp.json'), oldTimestamp);
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_ROLLBACK');
    expect(result.message).toContain(`timestamp version ${old.timestamp.signed.version} is older than version ${current.timestamp.signed.version}`);
    expect(result.after).toEqual(result.before);
  });

  it('a newer timestamp naming an older snapshot (signed with the online key): TUF_ROLLBACK, nothing changes', async () => {
    const { bundle, sim, tuf, old, current } = await deviceAhead('old-snapshot');
    const json = signedJSON(current.timestamp);
    json.version = current.timestamp.signed.version + 1;
    json.expires = expiresAfter(new Date(), 24);
    json.meta = { 'snapshot.json': metaFileFor(old.snapshot).toJSON() };
    await writeMetadataFiles(bundle, { timestamp: signMetadata(unsigned(MetadataKind.Timestamp, json), [tuf.keys.online]) });
    const result = await refused(sim, () => installFrom(sim, bundle));
    expect(result.code).toBe('TUF_ROLLBACK');
    expect(result.message).toContain(`snapshot (named by the timestamp) version ${old.snapshot.signed.version} is older`);
    expect(result.after).toEqual(result.before);
  });
});
