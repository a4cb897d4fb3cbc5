// The SBOM, VEX, OpenVEX and provenance a release pins by digest in its signed manifest: when the
// source carries them (an offline bundle laid out like the store does; the gateway does not send
// them), the device checks each against its pinned digest, read with the length cap `ota verify`
// uses, before anything is written. A file the source does not carry is not an error.
import type { Manifest } from '../../schemas/manifest.js';
import { EVIDENCE_LIMITS, readPinned } from '../../verification/verify-release.js';
import type { UpdateSource } from './update-source.js';

/** Names of the evidence files checked (empty when the source carries none). */
export async function checkCarriedEvidence(source: UpdateSource, manifest: Manifest): Promise<string[]> {
  if (!source.has) return [];
  const pinned = [
    ['sbom', manifest.sbom, EVIDENCE_LIMITS.evidenceBytes],
    ['vex', manifest.vex, EVIDENCE_LIMITS.evidenceBytes],
    ['openvex', manifest.openvex, EVIDENCE_LIMITS.evidenceBytes],
    ['provenance', manifest.provenance, EVIDENCE_LIMITS.bundleBytes],
  ] as const;
  const reader = { open: (location: string) => source.open(location), read: () => Promise.reject(new Error('not used')) };
  const checked: string[] = [];
  for (const [name, ref, limit] of pinned) {
    if (!(await source.has(ref.location))) continue;
    await readPinned(reader, `${manifest.version} ${name}`, ref, limit);
    checked.push(name);
  }
  return checked;
}
