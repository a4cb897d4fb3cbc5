// Opens the UpdateSource for what the user named. Offline bundles today; the gateway source
// (check-in + HTTP Range downloads) plugs in here.
import { OfflineBundleSource } from './offline-bundle.js';
import type { UpdateSource } from './update-source.js';

export type OpenSource = (ref: string) => Promise<UpdateSource>;

export function sourceOpener(scratchDir: string): OpenSource {
  return (ref) => OfflineBundleSource.open(ref, scratchDir);
}
