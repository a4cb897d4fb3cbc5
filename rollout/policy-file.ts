// Reads a rollout policy from a YAML or JSON file (kept apart from the schema so workflow
// code can use the schema without pulling in file access).
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { parsePolicy, PolicyError, type RolloutPolicy } from './policy.js';

export function readPolicyFile(path: string): RolloutPolicy {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new PolicyError(`rollout policy ${path}: cannot read file`);
  }
  let data: unknown;
  try {
    data = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (err) {
    throw new PolicyError(`rollout policy ${path}: cannot parse: ${(err as Error).message}`);
  }
  return parsePolicy(data, `policy ${path}`);
}
