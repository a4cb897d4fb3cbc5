// A real gateway with mutual TLS for the mTLS tests: a fresh fleet CA, a server certificate for
// 127.0.0.1, device certificates issued at POST /v1/certificates; and a caller that speaks to it over
// platform/tls-fetch.ts with a chosen client identity (none, a device's, another CA's).
import { enrollBody } from './admission.js';
import type { AttestationPolicy } from '../../attestation/standing.js';
import type { GatewayRateLimits } from '../../gateway/rate-limit.js';
import { GatewayClient } from '../../device-client/gateway/gateway-client.js';
import { createDeviceCsr } from '../../identity/csr.js';
import { createFleetCa, type FleetCa } from '../../identity/fleet-ca.js';
import { issueServerCertificate } from '../../identity/issue.js';
import { tlsFetch, type TlsIdentity } from '../../platform/tls-fetch.js';
import type { CertificateResponse } from '../../schemas/device-certificate.js';
import { generateDeviceKey, type DeviceKey } from '../../schemas/device-envelope.js';
import { startTempGateway, type TempGateway } from './temp-gateway.js';

export interface MtlsGateway extends TempGateway {
  ca: FleetCa;
  url: string;
}

export async function startMtlsGateway(
  prefix: string,
  token: string,
  options: { certificateHours?: number; ca?: FleetCa; storeDir?: string; attestation?: AttestationPolicy; rateLimits?: GatewayRateLimits } = {},
): Promise<MtlsGateway> {
  const ca = options.ca ?? (await createFleetCa());
  const server = await issueServerCertificate(ca, { ipAddresses: ['127.0.0.1'] });
  // The token is the lab's shared one: these tests are about the transport, not admission.
  const env = await startTempGateway(prefix, { insecureSharedToken: token, tls: { key: server.keyPem, cert: server.chainPem }, deviceIdentity: { ca, certificateHours: options.certificateHours }, storeDir: options.storeDir, releasePolicy: 'newest', attestation: options.attestation, ...(options.rateLimits && { rateLimits: options.rateLimits }) });
  return { ...env, ca, url: env.gateway.url };
}

export interface Answer {
  status: number;
  json?: Record<string, unknown>;
}

/** Requests to `url` trusting only `ca`, presenting `client` (chain and key) when given. */
export function mtlsCaller(url: string, ca: string, client?: { cert: string; key: string }) {
  const identity: TlsIdentity = { ca, ...client };
  const fetchOver = tlsFetch(() => identity, { keepAlive: false });
  return async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> => {
    const res = await fetchOver(`${url}${path}`, { method, headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, json: text ? (JSON.parse(text) as Record<string, unknown>) : undefined };
  };
}

export interface CertifiedTestDevice {
  id: string;
  key: DeviceKey;
  keyPem: string;
  certificate: CertificateResponse;
  /** A caller presenting this device's certificate. */
  call: ReturnType<typeof mtlsCaller>;
}

/** Enrolls `id` with a new key and gets its first certificate, as a device does. */
export async function enrollCertified(env: MtlsGateway, token: string, id: string, hardwareId = 'mtls-hw'): Promise<CertifiedTestDevice> {
  const key = generateDeviceKey('ed25519');
  const keyPem = key.privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const open = mtlsCaller(env.url, env.ca.root.certPem);
  const enrolled = await open('POST', '/v1/enroll', enrollBody({ id, hardwareId, key }), { authorization: `Bearer ${token}` });
  if (enrolled.status !== 201) throw new Error(`enroll ${id}: ${enrolled.status} ${JSON.stringify(enrolled.json)}`);
  const certificate = await certificateFor(env, id, key);
  return { id, key, keyPem, certificate, call: mtlsCaller(env.url, env.ca.root.certPem, { cert: certificate.chainPem, key: keyPem }) };
}

/** POST /v1/certificates for `key` (no client certificate needed). */
export async function certificateFor(env: MtlsGateway, id: string, key: DeviceKey): Promise<CertificateResponse> {
  const client = new GatewayClient(env.url, { fetch: tlsFetch(() => ({ ca: env.ca.root.certPem }), { keepAlive: false }) });
  return client.requestCertificate(key, id, await createDeviceCsr(key.privateKey, id));
}
