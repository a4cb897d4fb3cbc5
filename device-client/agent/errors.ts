// Refusals of the agent itself (as opposed to a release being rejected by verification/).
export class InstallRefusedError extends Error {
  override name = 'InstallRefusedError';
}

export class BootCheckError extends Error {
  override name = 'BootCheckError';
}
