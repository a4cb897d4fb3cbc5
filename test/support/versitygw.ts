// Starts a real versitygw (S3 gateway over a posix directory) on a free loopback port for
// tests, and stops it again. Only 127.0.0.1 is used: tests never touch another network.
// The launcher is versitygw.mjs, shared with the bench.
import { freePort } from '../../platform/free-port.js';
import { requireTool } from '../../platform/tools.js';
import { launchVersityGw, type VersityGw } from './versitygw.mjs';

export type { VersityGw };

export function startVersityGw(): Promise<VersityGw> {
  return launchVersityGw({ binary: requireTool('versitygw'), freePort });
}
