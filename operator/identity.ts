// Who is calling: an OIDC bearer JWT verified against the configured issuer's JWKS (jose), or an
// API token from `ota operator token create` (looked up by its hash). Each refusal has its own
// code: no token, a token we cannot read or verify, an expired one, a revoked one, no role.
import { createRemoteJWKSet, errors as joseErrors, jwtVerify, type JWTPayload } from 'jose';
import type { OperatorToken } from '../fleet/operator-tokens.js';
import { API_TOKEN_PREFIX } from '../fleet/operator-tokens.js';
import { OperatorError } from './errors.js';
import { isRole, type Role } from './roles.js';

export interface Principal {
  /** Who: the JWT's subject (or the claim configured), or `token:<name>` for an API token. */
  subject: string;
  role: Role;
  via: 'oidc' | 'token' | 'local';
}

export interface OidcOptions {
  issuer: string;
  audience: string;
  /** The claim that carries the role: a role name or an array of names (the first edge-ota role counts). Default `ota_role`. */
  roleClaim?: string;
  /** The claim naming the person. Default `sub`. */
  subjectClaim?: string;
}

export interface IdentityOptions {
  oidc?: OidcOptions;
  findToken: (token: string) => Promise<OperatorToken | undefined>;
  now?: () => Date;
}

/** Bearer tokens are bounded before anything parses them. */
const MAX_TOKEN_LENGTH = 8192;

export class Authenticator {
  private jwks?: ReturnType<typeof createRemoteJWKSet>;
  constructor(private readonly options: IdentityOptions) {}

  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!authorization) throw new OperatorError('MISSING_TOKEN', 'no bearer token: send Authorization: Bearer <token> (an OIDC token or one from `ota operator token create`)');
    const match = /^Bearer ([^\s]+)$/.exec(authorization);
    if (!match || match[1]!.length > MAX_TOKEN_LENGTH) throw new OperatorError('INVALID_TOKEN', 'the Authorization header is not one bearer token');
    const token = match[1]!;
    return token.startsWith(API_TOKEN_PREFIX) ? this.apiToken(token) : this.oidcToken(token);
  }

  private async apiToken(token: string): Promise<Principal> {
    const record = await this.options.findToken(token);
    if (!record) throw new OperatorError('INVALID_TOKEN', 'unknown API token');
    if (record.revokedAt) throw new OperatorError('TOKEN_REVOKED', `API token ${record.id} (${record.name}) was revoked at ${record.revokedAt.toISOString()}`);
    if (record.expiresAt <= (this.options.now?.() ?? new Date())) throw new OperatorError('TOKEN_EXPIRED', `API token ${record.id} (${record.name}) expired at ${record.expiresAt.toISOString()}`);
    if (!isRole(record.role)) throw new OperatorError('NO_ROLE', `API token ${record.id} has an unknown role ${record.role}`);
    return { subject: `token:${record.name}`, role: record.role, via: 'token' };
  }

  private async oidcToken(token: string): Promise<Principal> {
    const oidc = this.options.oidc;
    if (!oidc) throw new OperatorError('INVALID_TOKEN', 'not an API token, and no OIDC issuer is configured (--oidc-issuer)');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await this.keySet(oidc), { issuer: oidc.issuer, audience: oidc.audience, currentDate: this.options.now?.() }));
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) throw new OperatorError('TOKEN_EXPIRED', `the OIDC token expired (${error.message})`);
      if (error instanceof OperatorError) throw error;
      throw new OperatorError('INVALID_TOKEN', `the OIDC token does not verify against ${oidc.issuer}: ${(error as Error).message}`);
    }
    const subject = payload[oidc.subjectClaim ?? 'sub'];
    if (typeof subject !== 'string' || subject === '') throw new OperatorError('INVALID_TOKEN', `the OIDC token has no ${oidc.subjectClaim ?? 'sub'} claim`);
    const role = roleOf(payload[oidc.roleClaim ?? 'ota_role']);
    if (!role) throw new OperatorError('NO_ROLE', `${subject} has no edge-ota role in claim ${oidc.roleClaim ?? 'ota_role'}`);
    return { subject, role, via: 'oidc' };
  }

  /** The issuer's JWKS, found through its discovery document once, then cached by jose. */
  private async keySet(oidc: OidcOptions) {
    if (this.jwks) return this.jwks;
    const discovery = `${oidc.issuer.replace(/\/$/, '')}/.well-known/openid-configuration`;
    let jwksUri: unknown;
    try {
      const response = await fetch(discovery, { signal: AbortSignal.timeout(10_000) });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      jwksUri = ((await response.json()) as { jwks_uri?: unknown }).jwks_uri;
    } catch (error) {
      throw new OperatorError('UNAVAILABLE', `cannot read the OIDC discovery document ${discovery}: ${(error as Error).message}`);
    }
    if (typeof jwksUri !== 'string') throw new OperatorError('UNAVAILABLE', `${discovery} names no jwks_uri`);
    this.jwks = createRemoteJWKSet(new URL(jwksUri));
    return this.jwks;
  }
}

/** The role in a claim: one role name, or an array of names (the first edge-ota role counts). */
function roleOf(claim: unknown): Role | undefined {
  return (Array.isArray(claim) ? claim : [claim]).find(isRole);
}
