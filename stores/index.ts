// Public surface of the artifact store.
export type * from './artifact-store.js';
export * from './errors.js';
export { blobKey, isSha256Hex } from './keys.js';
export { LocalArtifactStore } from './local-store.js';
export { S3ArtifactStore, type S3StoreOptions } from './s3-store.js';
export { openArtifactStore } from './open-store.js';
