// The device's gateway trust in TUF (trust/device-trust.ts, device-client/gateway/answer-verification.ts):
// the answer keys a device accepts come from verified targets, so a rotation reaches it through the TUF
// chain; an answer signed by a key the current targets no longer lists is refused with its own code.
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { MetadataKind } from '@tufjs/models';
import { describe, expect, it } from 'vitest';
import { listedAnswerKeys, readCheckinAnswer } from '../../device-client/gateway/answer-verification.js';
import { signCheckinAnswer } from '../../gateway/answer-signing.js';
import type { CheckinResponse } from '../../schemas/device-api.js';
import { generateDeviceKey } from '../../schemas/device-envelope.js';
import { createFleetCa } from '../../identity/fleet-ca.js';
import { DEVICE_TRUST_FIELD, deviceTrustOf, setDeviceTrust } from '../../trust/device-trust.js';
import { signedJSON, unsigned } from '../../trust/metadata.js';
import { createRepository } from '../../trust/repository.js';
import { verifyRepository } from '../../trust/verify-roles.js';
import { newTufKey } from '../support/fleet-tuf.js';

const now = new Date();
const [root, targetsKey, online, release, publish] = Array.from({ length: 5 }, newTufKey);
const signing = { targetsKeys: [targetsKey!], onlineKey: online!, publishKey: publish!, now };
const bound = { deviceId: 'dev-1', nonce: randomBytes(32).toString('base64url') };
const none: CheckinResponse = { action: 'none', pollAfterSeconds: 60 };
const code = (r: ReturnType<typeof readCheckinAnswer>) => ('refused' in r ? r.refused.code : 'malformed' in r ? 'malformed' : 'ok');

describe('device trust in TUF', () => {
  it('lists the answer key in targets; the device follows a rotation and refuses the old key (GATEWAY_ANSWER_KEY_NOT_LISTED)', () => {
    const [first, second] = [generateDeviceKey('ecdsa-p256-sha256'), generateDeviceKey('ecdsa-p256-sha256')];
    let repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [release!] });
    expect(deviceTrustOf(verifyRepository(repo, now).targets)).toBeUndefined();
    repo = setDeviceTrust(repo, { answerKeys: [first.publicKeyPem], fleetCaRoots: [] }, signing);
    const keysAt = (r: typeof repo) => {
      const targets = verifyRepository(r, now).targets;
      return listedAnswerKeys(deviceTrustOf(targets)!.answerKeys, targets.signed.version);
    };
    expect(code(readCheckinAnswer(signCheckinAnswer(first, none, bound), keysAt(repo), bound))).toBe('ok');
    // Overlap, then the old key leaves.
    repo = setDeviceTrust(repo, { answerKeys: [first.publicKeyPem, second.publicKeyPem], fleetCaRoots: [] }, signing);
    expect(code(readCheckinAnswer(signCheckinAnswer(second, none, bound), keysAt(repo), bound))).toBe('ok');
    repo = setDeviceTrust(repo, { answerKeys: [second.publicKeyPem], fleetCaRoots: [] }, signing);
    const refused = readCheckinAnswer(signCheckinAnswer(first, none, bound), keysAt(repo), bound);
    expect(code(refused)).toBe('GATEWAY_ANSWER_KEY_NOT_LISTED');
    expect('refused' in refused && refused.refused.message).toContain(`targets version ${repo.targets.signed.version}`);
    // Binding still applies to a listed key's answer.
    expect(code(readCheckinAnswer(signCheckinAnswer(second, none, { ...bound, deviceId: 'dev-2' }), keysAt(repo), bound))).toBe('GATEWAY_ANSWER_MISBOUND');
    expect(code(readCheckinAnswer(none, keysAt(repo), bound))).toBe('GATEWAY_ANSWER_UNSIGNED');
  });

  it('refuses a document with a key that does not parse or a certificate that is no CA; a malformed one in targets is TUF_MALFORMED_METADATA', () => {
    const repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [release!] });
    expect(() => setDeviceTrust(repo, { answerKeys: [], fleetCaRoots: [] }, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => setDeviceTrust(repo, { answerKeys: ['-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n'], fleetCaRoots: [] }, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    expect(() => setDeviceTrust(repo, { answerKeys: [generateDeviceKey('ed25519').publicKeyPem], fleetCaRoots: ['not a certificate'] }, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE' }));
    const json = signedJSON(repo.targets);
    json[DEVICE_TRUST_FIELD] = { type: 'edge-ota.device-trust.v1', answerKeys: 'x' };
    expect(() => deviceTrustOf(unsigned(MetadataKind.Targets, json))).toThrow(expect.objectContaining({ code: 'TUF_MALFORMED_METADATA' }));
  });

  it('lists only what a device can use: an answer key of another algorithm, or an intermediate as a root, is refused; in targets TUF_MALFORMED_METADATA', async () => {
    const repo = createRepository({ ...signing, rootKeys: [root!], threshold: 1, signers: [release!] });
    const answerKey = generateDeviceKey('ed25519').publicKeyPem;
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const ca = await createFleetCa();
    expect(() => setDeviceTrust(repo, { answerKeys: [rsa], fleetCaRoots: [] }, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE', message: expect.stringContaining('Ed25519 or ECDSA P-256') }));
    expect(() => setDeviceTrust(repo, { answerKeys: [answerKey], fleetCaRoots: [ca.intermediate.certPem] }, signing)).toThrow(expect.objectContaining({ code: 'TUF_INVALID_CHANGE', message: expect.stringContaining('not self-signed') }));
    const listed = setDeviceTrust(repo, { answerKeys: [answerKey], fleetCaRoots: [ca.root.certPem] }, signing);
    expect(deviceTrustOf(verifyRepository(listed, now).targets)).toEqual({ type: 'edge-ota.device-trust.v1', answerKeys: [answerKey], fleetCaRoots: [ca.root.certPem] });
    // Signed by the targets key but listing an intermediate: the device refuses the document.
    const json = signedJSON(repo.targets);
    json[DEVICE_TRUST_FIELD] = { type: 'edge-ota.device-trust.v1', answerKeys: [answerKey], fleetCaRoots: [ca.intermediate.certPem] };
    expect(() => deviceTrustOf(unsigned(MetadataKind.Targets, json))).toThrow(expect.objectContaining({ code: 'TUF_MALFORMED_METADATA', message: expect.stringContaining('not self-signed') }));
  });
});
