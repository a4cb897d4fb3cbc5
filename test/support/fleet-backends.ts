// One fleet-store suite run against both engines: PGlite in a temp folder (removed afterwards) and,
// when Debian's PostgreSQL binaries are installed, a throwaway PostgreSQL cluster (skipped
// otherwise; call warnIfPostgresMissing so the skip is not silent).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe } from 'vitest';
import { postgresBinaries, startThrowawayPostgres, type ThrowawayPostgres } from './postgres.js';

export type FleetSuite = (engine: string, openUrl: () => Promise<string>) => void;

/** `pglitePrefix` names the PGlite temp folder, e.g. 'ota-fleet-pglite-'. */
export function onPgliteAndPostgres(pglitePrefix: string, suite: FleetSuite): void {
  const pgliteDir = mkdtempSync(join(tmpdir(), pglitePrefix));
  afterAll(() => rmSync(pgliteDir, { recursive: true, force: true }));
  suite('pglite', async () => `pglite:${pgliteDir}`);

  describe.skipIf(!postgresBinaries)('PostgreSQL', () => {
    let cluster: ThrowawayPostgres | undefined;
    beforeAll(async () => {
      cluster = await startThrowawayPostgres();
    });
    afterAll(async () => cluster?.stop());
    suite('postgres', async () => cluster!.url);
  });
}
