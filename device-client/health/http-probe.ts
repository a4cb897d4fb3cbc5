// One HTTP health probe with a timeout: healthy on an expected status (default any 2xx).
import type { CheckOutcome } from './command-check.js';

export async function runHttpProbe(url: string, timeoutMs: number, expectStatus?: number[]): Promise<CheckOutcome> {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
    await response.body?.cancel();
    const ok = expectStatus ? expectStatus.includes(response.status) : response.status >= 200 && response.status < 300;
    return { ok, detail: `HTTP ${response.status}` };
  } catch (error) {
    const reason = (error as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : ((error as Error & { cause?: Error }).cause?.message ?? (error as Error).message);
    return { ok: false, detail: reason };
  }
}
