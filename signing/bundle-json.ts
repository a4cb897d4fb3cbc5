// Bundle (de)serialization at the trust boundary: everything parsed here is untrusted input.
import {
  assertBundleLatest,
  bundleFromJSON,
  bundleToJSON,
  BUNDLE_V03_MEDIA_TYPE,
  type Bundle,
  type BundleLatest,
  type SerializedBundle,
} from '@sigstore/bundle';
import { MalformedBundleError } from './errors.js';

export { BUNDLE_V03_MEDIA_TYPE };

export function serializeBundle(bundle: Bundle): SerializedBundle {
  return bundleToJSON(bundle);
}

export function bundleToText(bundle: Bundle): string {
  return `${JSON.stringify(bundleToJSON(bundle), null, 2)}\n`;
}

/** Parses bundle JSON (text or object) and requires a v0.3 bundle; any schema problem is a MalformedBundleError. */
export function parseBundle(input: string | unknown): BundleLatest {
  let json: unknown = input;
  if (typeof input === 'string') {
    try {
      json = JSON.parse(input);
    } catch (err) {
      throw new MalformedBundleError(`bundle is not JSON: ${(err as Error).message}`, { cause: err });
    }
  }
  let bundle: Bundle;
  try {
    bundle = bundleFromJSON(json);
    assertBundleLatest(bundle);
  } catch (err) {
    throw new MalformedBundleError(`invalid Sigstore bundle: ${(err as Error).message}`, { cause: err });
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new MalformedBundleError(`expected bundle media type ${BUNDLE_V03_MEDIA_TYPE}, got ${bundle.mediaType}`);
  }
  return bundle as BundleLatest;
}
