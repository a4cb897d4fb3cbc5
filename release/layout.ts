// Where releases live in the artifact store. Blobs are content-addressed (blobs/sha256/...);
// these are the named objects that point at them.
export function manifestKey(hardwareId: string, version: string): string {
  return `releases/${hardwareId}/${version}/manifest.json`;
}

/** The manifest's Sigstore bundle sits next to it, as cosign expects (FILE + .sigstore.json). */
export function manifestBundleKey(hardwareId: string, version: string): string {
  return `${manifestKey(hardwareId, version)}.sigstore.json`;
}

export function releaseIndexKey(hardwareId: string, channel: string): string {
  return `releases/${hardwareId}/channels/${channel}/index.json`;
}

export function hardwarePrefix(hardwareId: string): string {
  return `releases/${hardwareId}/channels/`;
}

export function releaseWorkflowId(hardwareId: string, version: string): string {
  return `release-${hardwareId}-${version}`;
}
