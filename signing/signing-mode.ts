// How a bundle gets its signature: a pinned key on disk, or a Fulcio certificate for an OIDC identity.
import type { KeylessOptions } from './keyless.js';
import type { SigningKey } from './keys.js';

export type SigningMode = { mode: 'key'; key: SigningKey } | ({ mode: 'keyless' } & KeylessOptions);
