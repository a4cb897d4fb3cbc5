// Waits until an HTTP endpoint answers 2xx: a server we just started (gateway, `ota serve`) is ready.
/** `fetchOver`: e.g. tlsFetch pinning the fleet CA, for an https server. */
export async function waitForHttp(url: string, timeoutMs: number, fetchOver: (url: string) => Promise<Response> = (u) => fetch(u)): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if ((await fetchOver(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000} s`);
}
