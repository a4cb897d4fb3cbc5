// The Grafana dashboard (docs/grafana/edge-ota.json) asks only for metrics this code defines, and
// docs/metrics.md lists every metric it defines: a renamed metric breaks here, not on a wall screen.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createGatewayMetrics } from '../../metrics/gateway-metrics.js';
import { createRegistry, metricsHandler } from '../../metrics/registry.js';
import { failureRate, registerRolloutMetrics } from '../../metrics/rollout-metrics.js';

const root = new URL('../../', import.meta.url);
const dashboard = JSON.parse(readFileSync(new URL('docs/grafana/edge-ota.json', root), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };
const doc = readFileSync(new URL('docs/metrics.md', root), 'utf8');

async function definedNames(): Promise<string[]> {
  const registry = createRegistry('test', { processMetrics: false });
  createGatewayMetrics(registry);
  registerRolloutMetrics(registry, async () => ({ byState: [], rings: [] }));
  return (await registry.getMetricsAsJSON()).map((m) => m.name);
}

describe('dashboard and docs', () => {
  it('every ota_ metric the dashboard queries is defined, every defined one is documented', async () => {
    const defined = await definedNames();
    const queried = new Set(dashboard.panels.flatMap((p) => p.targets ?? []).flatMap((t) => [...t.expr.matchAll(/\bota_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|count|sum)$/, ''))));
    expect(queried.size).toBeGreaterThan(8);
    for (const name of queried) expect(defined, `${name} in the dashboard`).toContain(name);
    for (const name of defined) expect(doc, `${name} in docs/metrics.md`).toContain(`\`${name}\``);
    // The rollout gauges and the Temporal SDK's both have panels.
    expect([...queried].some((n) => n.startsWith('ota_rollout_ring_'))).toBe(true);
    expect(dashboard.panels.some((p) => p.targets?.some((t) => t.expr.includes('temporal_')))).toBe(true);
  });

  it('metricsHandler answers a Fastify-style reply with the exposition text', async () => {
    const registry = createRegistry('operator', { processMetrics: false });
    createGatewayMetrics(registry).checkins.inc({ outcome: 'update' });
    let sent: { type?: string; body?: string } = {};
    await metricsHandler([registry])(undefined, { type: (type) => ({ send: (body) => (sent = { type, body }) }) });
    expect(sent.type).toContain('text/plain');
    expect(sent.body).toContain('ota_gateway_checkins_total{outcome="update",service="operator"} 1');
  });

  it('failure rate is failed over decided, 0 before anything is decided', () => {
    expect(failureRate({ failed: 0, committed: 0 })).toBe(0);
    expect(failureRate({ failed: 1, committed: 3 })).toBe(0.25);
  });
});
