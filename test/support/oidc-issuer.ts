// A local OIDC issuer for tests: /.well-known/openid-configuration and a JWKS over HTTP, and
// tokens signed with its ES256 key (or with a key it does not publish, for forgery tests).
import { createServer, type Server } from 'node:http';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

export interface TestIssuer {
  url: string;
  /** A JWT for `sub` with these claims; expiresIn in seconds (negative: already expired). */
  token(sub: string, claims?: Record<string, unknown>, options?: { expiresIn?: number; audience?: string; forged?: boolean }): Promise<string>;
  close(): Promise<void>;
}

export async function startOidcIssuer(): Promise<TestIssuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const forger = await generateKeyPair('ES256');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid: 'test-1', alg: 'ES256', use: 'sig' }] };
  let url = '';
  const server: Server = createServer((req, res) => {
    const body = req.url === '/.well-known/openid-configuration' ? { issuer: url, jwks_uri: `${url}/jwks.json` } : req.url === '/jwks.json' ? jwks : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? { error: 'not found' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return {
    url,
    async token(sub, claims = {}, options = {}) {
      const now = Math.floor(Date.now() / 1000);
      const key = options.forged ? forger.privateKey : privateKey;
      return new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'test-1' })
        .setIssuer(url)
        .setSubject(sub)
        .setAudience(options.audience ?? 'edge-ota')
        .setIssuedAt(now - 60)
        .setExpirationTime(now + (options.expiresIn ?? 3600))
        .sign(key);
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
