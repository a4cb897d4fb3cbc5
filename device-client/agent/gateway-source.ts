// The gateway as an UpdateSource: the signed manifest and its bundle come from the gateway's
// release URLs, artifacts through resumable Range downloads into stateDir/downloads. The gateway
// is trusted for nothing: install.ts verifies the manifest against the pinned trust root before it
// asks for any artifact, and every artifact again by digest while staging it.
import { createReadStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { manifestBundleKey, manifestKey } from '../../release/layout.js';
import { parseManifest, semverSchema, type Manifest } from '../../schemas/manifest.js';
import { downloadResumable, type DownloadResult, type RetryPolicy } from './download.js';
import type { GatewayClient } from '../gateway/gateway-client.js';
import { gatewayMetadataReader } from './tuf-sources.js';
import type { CandidateRelease, UpdateSource } from './update-source.js';

/** What a check-in offered: the version and where its manifest and bundle are. */
export interface OfferedRelease {
  version: string;
  manifestUrl: string;
  bundleUrl: string;
}

export interface GatewaySourceOptions {
  client: GatewayClient;
  /** Partial and complete downloads, kept across restarts (resume). */
  downloadDir: string;
  retry: RetryPolicy;
  offer?: OfferedRelease;
  random?: () => number;
  signal?: AbortSignal;
  log?: (line: string) => void;
  /** Called after each artifact download (tests and the agent loop look at resume offsets). */
  onDownload?: (location: string, result: DownloadResult) => void;
}

/** How a restarted agent names this source in the install journal: `gateway:<url>`. */
export function gatewaySourceRef(gatewayUrl: string): string {
  return `gateway:${gatewayUrl}`;
}

export function gatewayUrlFromRef(ref: string): string | undefined {
  return ref.startsWith('gateway:') ? ref.slice('gateway:'.length) : undefined;
}

export function downloadDirOf(stateDir: string): string {
  return join(stateDir, 'downloads');
}

export class GatewaySource implements UpdateSource {
  readonly description: string;
  /** The manifest last handed out: install verifies exactly these bytes before calling open(). */
  private manifest?: Manifest;
  /** The last release fetched: asked again for the same version (verify, then install), it is not refetched. */
  private candidate?: CandidateRelease;

  constructor(private readonly options: GatewaySourceOptions) {
    this.description = `gateway ${options.client.baseUrl}`;
  }

  async release(hardwareId: string, version?: string): Promise<CandidateRelease | null> {
    const offer = this.options.offer;
    const chosen = version ?? offer?.version;
    if (!chosen) return null;
    if (!semverSchema.safeParse(chosen).success) throw new Error(`${this.description}: "${chosen}" is not a version`);
    if (this.candidate?.version === chosen) return this.candidate;
    const fromOffer = offer && offer.version === chosen;
    const manifestUrl = fromOffer ? offer.manifestUrl : `/v1/${manifestKey(hardwareId, chosen)}`;
    const bundleUrl = fromOffer ? offer.bundleUrl : `/v1/${manifestBundleKey(hardwareId, chosen)}`;
    const manifestBytes = await this.options.client.getBytes(manifestUrl);
    const bundle = (await this.options.client.getBytes(bundleUrl)).toString('utf8');
    // Parsed only to know each artifact's pinned length and digest at open(); by then install has
    // verified these very bytes (a manifest that does not parse fails verification anyway).
    try {
      this.manifest = parseManifest(manifestBytes, { ignoreUnknownDeltaFormats: true });
    } catch {
      this.manifest = undefined;
    }
    this.candidate = { version: chosen, manifestBytes, bundle, origin: this.options.client.resolve(manifestUrl), tuf: gatewayMetadataReader(this.options.client) };
    return this.candidate;
  }

  async open(location: string, verified?: { sha256: string; length: number }): Promise<Readable> {
    const pinned = this.pinnedArtifact(location, verified);
    await mkdir(this.options.downloadDir, { recursive: true });
    const url = this.options.client.resolve(/^https?:\/\//.test(location) ? location : `/v1/artifacts/${location}`);
    // Named by digest: a restarted agent finds its partial file again, and two releases never mix bytes.
    const path = join(this.options.downloadDir, pinned.sha256);
    const result = await downloadResumable({ url, path, fetch: this.options.client.fetch, ...pinned, ...this.options.retry, random: this.options.random, signal: this.options.signal, log: this.options.log });
    this.options.onDownload?.(location, result);
    return createReadStream(path, { highWaterMark: 1 << 20 });
  }

  async close(): Promise<void> {
    // Downloads stay: an install that failed half-way resumes from them. discardDownloads() after success.
  }

  /** After a successful install the downloaded artifacts have served their purpose. */
  async discardDownloads(): Promise<void> {
    await rm(this.options.downloadDir, { recursive: true, force: true });
  }

  private pinnedArtifact(location: string, verified?: { sha256: string; length: number }): { sha256: string; length: number } {
    const m = this.manifest;
    if (!m) throw new Error(`${this.description}: open(${location}) before a release was fetched`);
    if (m.image.location === location) {
      return m.image.compression === 'none' ? { sha256: m.image.sha256, length: m.image.length } : { sha256: m.image.compressedSha256, length: m.image.compressedLength };
    }
    const delta = m.deltas.find((d) => d.location === location);
    if (delta) return { sha256: delta.sha256, length: delta.length };
    // An on-demand delta: pinned by its verified TUF target (install read it from the walked metadata).
    if (verified) return verified;
    throw new Error(`${this.description}: ${location} is not an artifact of ${m.version}`);
  }
}
