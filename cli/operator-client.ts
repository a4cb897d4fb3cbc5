// `--server URL`: commands that go through the operator API instead of straight to Temporal. The
// token comes from $OTA_TOKEN, else from the credentials file ($OTA_CREDENTIALS, default
// ~/.config/ota/credentials.json: {"servers": {"<url>": {"token": "..."}}} or {"token": "..."}).
// A refusal becomes one line: the API's error code and message.
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { readStackState, stackStateDir } from '../config/stack-state.js';
import { configFrom } from './context.js';

export interface ServerOption {
  server?: string;
}

export function withServerOption(command: Command): Command {
  return command
    .option('--server <url>', 'go through the operator API at this URL (token from $OTA_TOKEN or the credentials file); default: the running `ota dev up` stack\'s')
    .hook('preAction', (_command, action) => {
      if ((action.opts() as ServerOption).server !== undefined) return;
      const server = stackOperatorApi(action)?.url;
      if (server) action.setOptionValue('server', server);
    });
}

/**
 * The running dev stack's operator API, when the command follows that stack: its Temporal address
 * comes from the stack state, not from an explicit config file, OTA_* variable or --set.
 */
function stackOperatorApi(command: Command, env: NodeJS.ProcessEnv = process.env) {
  if (!configFrom(command).sources['temporal.address']?.startsWith('dev stack')) return undefined;
  return readStackState(stackStateDir(env))?.operatorApi;
}

export function credentialsPath(env: NodeJS.ProcessEnv = process.env): string {
  return env.OTA_CREDENTIALS ?? join(homedir(), '.config', 'ota', 'credentials.json');
}

export function operatorToken(server: string, env: NodeJS.ProcessEnv = process.env): string {
  if (env.OTA_TOKEN) return env.OTA_TOKEN;
  const file = credentialsPath(env);
  const base = server.replace(/\/$/, '');
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as { token?: string; servers?: Record<string, { token?: string }> };
    const token = parsed.servers?.[base]?.token ?? parsed.token;
    if (token) return token;
  }
  // The token `ota dev up` created for its own operator API.
  const stack = readStackState(stackStateDir(env))?.operatorApi;
  if (stack?.token && stack.url.replace(/\/$/, '') === base) return stack.token;
  throw new Error(existsSync(file) ? `${file} holds no token for ${server}` : `no token for ${server}: set OTA_TOKEN or write ${file}`);
}

/** Calls the API; the parsed JSON answer, or an Error whose message is the API's code and message. */
export async function callOperatorApi<T>(server: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await request(server, method, path, body);
  return JSON.parse((await response.text()) || 'null') as T;
}

/** The answer's bytes as sent (a manifest to sign: a JSON round trip would change them). */
export async function fetchOperatorBytes(server: string, path: string): Promise<Buffer> {
  return Buffer.from(await (await request(server, 'GET', path)).arrayBuffer());
}

async function request(server: string, method: 'GET' | 'POST', path: string, body?: unknown): Promise<Response> {
  const url = `${server.replace(/\/$/, '')}${path}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method,
      headers: { authorization: `Bearer ${operatorToken(server)}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(60_000),
    });
  } catch (error) {
    const cause = (error as Error).cause;
    throw new Error(`cannot reach the operator API at ${server}: ${cause instanceof Error ? cause.message : (error as Error).message}`);
  }
  if (response.ok) return response;
  const text = await response.text();
  let error: { code?: string; message?: string } | undefined;
  try {
    error = (JSON.parse(text) as { error?: typeof error }).error;
  } catch {
    // not JSON: the status says enough
  }
  throw new Error(`${error?.code ?? `HTTP ${response.status}`}: ${error?.message ?? `${method} ${path} failed`}`);
}
