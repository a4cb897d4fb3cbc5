// A signed device message (a report, a heartbeat) is stored only if its nonce is fresh and its
// counter is above the device's last one for that kind of message, all in one transaction: a
// refusal changes nothing (the nonce stays unused, the counter where it was).
import type { FleetDatabase, Queryable } from './database.js';
import { consumeNonce, type NonceCheck } from './nonces.js';

export type StoreSignedOutcome =
  | { kind: 'accepted'; counter: number }
  | { kind: 'nonce-rejected'; reason: Exclude<NonceCheck, 'ok'> }
  | { kind: 'stale-counter'; lastCounter: number }
  | { kind: 'counter-jump'; lastCounter: number; maxStep: number };

/**
 * Most a counter may move past the last stored one in one message. A device queues at most a few
 * hundred reports while offline; a counter set near 2^53 by a stolen or buggy key would otherwise
 * block every later report of the device for good.
 */
export const MAX_COUNTER_STEP = 100_000;

export interface InOrderSteps {
  /** Moves the device's counter up to the message's; false when the message's is not higher. */
  advanceCounter(tx: Queryable): Promise<boolean>;
  /** The device's last accepted counter, for the stale-counter answer. */
  lastCounter(tx: Queryable): Promise<number>;
  insert(tx: Queryable): Promise<void>;
}

/** Thrown inside the transaction to roll it back while returning a typed outcome. */
class Refused {
  constructor(readonly outcome: StoreSignedOutcome) {}
}

export async function storeInOrder(db: FleetDatabase, message: { deviceId: string; nonce: string; counter: number }, steps: InOrderSteps): Promise<StoreSignedOutcome> {
  try {
    return await db.transaction(async (tx) => {
      const nonce = await consumeNonce(tx, message.deviceId, message.nonce);
      if (nonce !== 'ok') throw new Refused({ kind: 'nonce-rejected', reason: nonce });
      const last = await steps.lastCounter(tx);
      if (message.counter > last + MAX_COUNTER_STEP) throw new Refused({ kind: 'counter-jump', lastCounter: last, maxStep: MAX_COUNTER_STEP });
      if (!(await steps.advanceCounter(tx))) throw new Refused({ kind: 'stale-counter', lastCounter: await steps.lastCounter(tx) });
      await steps.insert(tx);
      return { kind: 'accepted', counter: message.counter } as const;
    });
  } catch (error) {
    if (error instanceof Refused) return error.outcome;
    throw error;
  }
}
