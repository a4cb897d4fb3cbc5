// Which services to start, and in what order: the requested ones plus everything they
// depend on, dependencies first (file order breaks ties, so output is predictable). By default
// all services outside a Compose profile.
import type { StackDefinition } from './stackFile.js';

export class UnknownServiceError extends Error {
  constructor(name: string, known: string[]) {
    super(`unknown service "${name}"; the stack file defines: ${known.join(', ')}`);
    this.name = 'UnknownServiceError';
  }
}

export function startOrder(stack: StackDefinition, requested: string[] = []): string[] {
  const known = [...stack.services.keys()];
  for (const name of requested) if (!stack.services.has(name)) throw new UnknownServiceError(name, known);
  // As Compose: services in a profile (the replicas) are left out unless asked for.
  const roots = requested.length ? requested : known.filter((name) => stack.services.get(name)!.profiles.length === 0);
  const order: string[] = [];
  const visiting = new Set<string>();
  const visit = (name: string, chain: string[]) => {
    if (order.includes(name)) return;
    if (visiting.has(name)) throw new Error(`dependency cycle: ${[...chain, name].join(' -> ')}`);
    visiting.add(name);
    for (const dep of stack.services.get(name)!.dependsOn) visit(dep, [...chain, name]);
    visiting.delete(name);
    order.push(name);
  };
  for (const name of roots) visit(name, []);
  return order;
}

