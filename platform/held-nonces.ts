// The nonces gateways hand out for a device's next check-in (a check-in answer's nextNonce), held in
// memory until used: single-use, so taking one removes it, and one this close to its expiry is not used
// (the check-in would arrive after it). Shared by the agent's gateway client and the simulated devices.
/** A held nonce this close to its expiry is not used: the check-in would arrive after it. */
const HELD_NONCE_MARGIN_MS = 10_000;

/**
 * Held nonces per gateway URL and device (the agent's loop makes a client per round, so they outlive
 * it), and which gateways refused acceptsNextNonce (older ones): those get the two-request check-in.
 */
export class HeldNonces {
  private readonly held = new Map<string, { nonce: string; expiresAt: number }>();
  private readonly older = new Set<string>();

  keep(gateway: string, deviceId: string, next: { nonce: string; expiresAt: string }): void {
    this.held.set(`${gateway} ${deviceId}`, { nonce: next.nonce, expiresAt: Date.parse(next.expiresAt) });
  }

  /** The held nonce, removed (it is single-use either way); none when there is none or it is about to expire. */
  take(gateway: string, deviceId: string, now = Date.now()): string | undefined {
    const key = `${gateway} ${deviceId}`;
    const held = this.held.get(key);
    this.held.delete(key);
    return held && held.expiresAt - HELD_NONCE_MARGIN_MS > now ? held.nonce : undefined;
  }

  markOlderGateway(gateway: string): void {
    this.older.add(gateway);
  }

  isOlderGateway(gateway: string): boolean {
    return this.older.has(gateway);
  }
}

