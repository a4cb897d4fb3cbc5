// An S3 endpoint that is down, or up but silent, must fail fast with a clear, typed error
// after the configured attempts, never hang. Only loopback ports are used.
import { createServer, type Server, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { s3StoreConfigSchema } from '../../schemas/config.js';
import { StoreUnavailableError } from '../../stores/errors.js';
import { openArtifactStore } from '../../stores/open-store.js';
import { freePort } from '../../platform/free-port.js';

const credentials = { accessKeyId: 'unused', secretAccessKey: 'unused-secret' };

function storeAt(endpoint: string, extra: Record<string, unknown>) {
  return openArtifactStore(
    s3StoreConfigSchema.parse({ kind: 's3', bucket: 'ota-unreachable', endpoint, forcePathStyle: true, ...extra }),
    { credentials },
  );
}

async function timed<T>(work: () => Promise<T>): Promise<{ error: unknown; ms: number }> {
  const started = performance.now();
  const error = await work().then(
    () => undefined,
    (e: unknown) => e,
  );
  return { error, ms: performance.now() - started };
}

describe('S3 store with an unreachable endpoint', () => {
  it('fails head() with StoreUnavailableError naming endpoint and attempts (closed port)', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const store = storeAt(endpoint, { maxAttempts: 3, connectTimeoutMs: 500 });
    const { error, ms } = await timed(() => store.head('releases/x/manifest.json'));
    await store.close();
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).attempts).toBe(3);
    expect((error as Error).message).toContain(endpoint);
    expect((error as Error).message).toContain('3 attempt');
    expect((error as Error).message).toContain('ECONNREFUSED');
    expect(ms).toBeLessThan(10_000);
  });

  it('fails putBlob() the same way instead of hanging', async () => {
    const endpoint = `http://127.0.0.1:${await freePort()}`;
    const store = storeAt(endpoint, { maxAttempts: 2, connectTimeoutMs: 500 });
    const { error, ms } = await timed(() => store.putBlob(Readable.from([Buffer.from('firmware')])));
    await store.close();
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as Error).message).toContain(endpoint);
    expect(ms).toBeLessThan(10_000);
  });

  describe('a server that accepts connections but never answers', () => {
    let server: Server;
    const sockets = new Set<Socket>();
    let endpoint: string;
    beforeAll(async () => {
      server = createServer((socket) => {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {});
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const address = server.address();
      endpoint = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
    });
    afterAll(async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    });

    it('gives up after the idle timeout on each attempt', async () => {
      const store = storeAt(endpoint, { maxAttempts: 2, idleTimeoutMs: 300 });
      const { error, ms } = await timed(() => store.getBytes('releases/x/manifest.json'));
      await store.close();
      expect(error).toBeInstanceOf(StoreUnavailableError);
      expect((error as StoreUnavailableError).attempts).toBe(2);
      expect((error as Error).message).toContain(endpoint);
      expect((error as Error).message).toContain('timeout');
      expect(ms).toBeGreaterThanOrEqual(2 * 300 - 50);
      expect(ms).toBeLessThan(8_000);
    });
  });
});
