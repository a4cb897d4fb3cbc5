// The stack file parser: the real temporal-dev.yml parses, and mistakes are reported at their line.
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startOrder } from '../../devstack/order.js';
import { loadStackFile, parseStackFile, StackFileError } from '../../devstack/stackFile.js';
import { projectRoot } from '../../platform/paths.js';

const minimalService = ['    x-ota:', '      command: [sleep, "60"]', '      ready:', '        - alive: 1'];

function parseError(text: string): StackFileError {
  try {
    parseStackFile(text, 'stack.yml', {});
  } catch (err) {
    if (err instanceof StackFileError) return err;
    throw err;
  }
  throw new Error('expected a StackFileError');
}

describe('temporal-dev.yml', () => {
  it('parses with the project file and honours port overrides', () => {
    const stack = loadStackFile(join(projectRoot, 'temporal-dev.yml'), { OTA_STATE_DIR: '/tmp/ota-state', OTA_TEMPORAL_PORT: '17233' });
    expect([...stack.services.keys()]).toEqual(['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api', 'worker-2', 'gateway-2']);
    const temporal = stack.services.get('temporal')!;
    expect(temporal.native.command).toContain('--namespace');
    expect(temporal.native.command).toContain('17233');
    expect(temporal.native.command).toContain('/tmp/ota-state/temporal.sqlite');
    for (const attr of ['OtaRolloutState=Keyword', 'OtaRelease=Keyword', 'OtaHardware=Keyword']) expect(temporal.native.command).toContain(attr);
    expect(temporal.native.urls['Temporal UI']).toMatch(/^http:\/\/127\.0\.0\.1:8233\//);
    expect(stack.services.get('worker')!.dependsOn).toEqual(['temporal', 'artifacts', 'fleet-db']);
    expect(stack.services.get('fleet-db')!.stopSignal).toBe('SIGINT');
    expect(stack.services.get('fleet-db')!.native.postgres?.port).toBe(55432);
    // The operator API reaches the same Temporal, bucket and (filled in by ota dev) fleet database as the worker.
    const api = stack.services.get('api')!;
    expect(api.dependsOn).toEqual(['temporal', 'fleet-db', 'artifacts']);
    expect(api.native.command).toEqual(['ota', 'api', '--api-host', '127.0.0.1', '--api-port', '8470']);
    expect(api.native.environment).toEqual(stack.services.get('worker')!.native.environment);
    expect(api.native.urls.Console).toBe('http://127.0.0.1:8470/console/');
  });

  it('keeps the replicas profile out of a plain `ota dev up` and starts it when named', () => {
    const stack = loadStackFile(join(projectRoot, 'temporal-dev.yml'), { OTA_STATE_DIR: '/tmp/ota-state', OTA_GATEWAY_2_PORT: '18441' });
    expect(stack.services.get('gateway-2')!.profiles).toEqual(['replicas']);
    expect(startOrder(stack)).toEqual(['temporal', 'artifacts', 'fleet-db', 'worker', 'gateway', 'api']);
    expect(startOrder(stack, ['gateway-2', 'worker-2'])).toEqual(['fleet-db', 'artifacts', 'gateway', 'gateway-2', 'temporal', 'worker-2']);
    // The replicas run what the first ones run, with the same environment; the second gateway on its own port.
    const [worker, worker2, gateway, gateway2] = ['worker', 'worker-2', 'gateway', 'gateway-2'].map((name) => stack.services.get(name)!.native);
    expect(worker2!.command).toEqual(worker!.command);
    expect(worker2!.environment).toEqual(worker!.environment);
    expect(gateway2!.environment).toEqual(gateway!.environment);
    expect(gateway2!.command).toEqual(['ota', 'gateway', '--host', '127.0.0.1', '--port', '18441']);
  });
});

describe('stack file errors', () => {
  it('names the line of a YAML syntax error', () => {
    const err = parseError(['services:', '  temporal:', '    x-ota: {command: [a', '  other: 1'].join('\n'));
    expect(err.message).toMatch(/^stack\.yml:\d+: invalid YAML/);
    expect(err.line).toBeGreaterThanOrEqual(3);
  });

  it('names the line of an unknown field', () => {
    const err = parseError(['services:', '  temporal:', '    imgae: temporalio/temporal', ...minimalService].join('\n'));
    expect(err.line).toBe(3);
    expect(err.message).toContain('unknown service field "imgae"');
  });

  it('names the line of an unknown field inside x-ota', () => {
    const err = parseError(['services:', '  temporal:', ...minimalService, '      colour: blue'].join('\n'));
    expect(err.line).toBe(7);
    expect(err.message).toContain('colour');
  });

  it('names the line of a dependency on an unknown service', () => {
    const err = parseError(['services:', '  worker:', '    depends_on:', '      - temporal', '      - nowhere', ...minimalService, '  temporal:', ...minimalService].join('\n'));
    expect(err.line).toBe(5);
    expect(err.message).toContain('unknown service "nowhere"');
  });

  it('rejects a non-loopback address at its line', () => {
    const err = parseError(['services:', '  s3:', '    x-ota:', '      command: [versitygw]', '      ready:', '        - tcp: "0.0.0.0:7070"'].join('\n'));
    expect(err.line).toBe(6);
    expect(err.message).toContain('loopback');
  });

  it('names the line of a missing native recipe', () => {
    const err = parseError(['name: x', 'services:', '  temporal:', '    image: temporalio/temporal'].join('\n'));
    expect(err.line).toBe(3);
    expect(err.message).toContain('x-ota');
  });
});

describe('variable interpolation', () => {
  it('follows Compose rules for ${VAR:-default}, ${VAR-default} and $$', async () => {
    const { interpolateString } = await import('../../devstack/interpolate.js');
    const env = { SET: 'x', EMPTY: '' };
    expect(interpolateString('${SET:-d}/${EMPTY:-d}/${EMPTY-d}/${UNSET-d}/$$HOME/${UNSET}', env)).toBe('x/d//d/$HOME/');
  });
});
