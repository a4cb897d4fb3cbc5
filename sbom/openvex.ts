// CycloneDX analysis -> OpenVEX 0.2.0. Grype reads OpenVEX (not CycloneDX VEX), so the
// same decisions are published in both formats.

export type OpenVexStatus = 'not_affected' | 'affected' | 'fixed' | 'under_investigation';

export interface OpenVexStatement {
  vulnerability: { name: string; aliases?: string[] };
  products: { '@id': string; identifiers: { purl: string } }[];
  status: OpenVexStatus;
  justification?: string;
  impact_statement?: string;
  action_statement?: string;
  status_notes?: string;
}

export interface OpenVexDocument {
  '@context': 'https://openvex.dev/ns/v0.2.0';
  '@id': string;
  author: string;
  timestamp: string;
  version: number;
  tooling: string;
  statements: OpenVexStatement[];
}

export const OPENVEX_CONTEXT = 'https://openvex.dev/ns/v0.2.0' as const;

const STATUS: Record<string, OpenVexStatus> = {
  resolved: 'fixed',
  resolved_with_pedigree: 'fixed',
  exploitable: 'affected',
  in_triage: 'under_investigation',
  false_positive: 'not_affected',
  not_affected: 'not_affected',
};

// OpenVEX has five justifications; CycloneDX's nine fold onto them.
const JUSTIFICATION: Record<string, string> = {
  code_not_present: 'vulnerable_code_not_present',
  code_not_reachable: 'vulnerable_code_not_in_execute_path',
  requires_configuration: 'vulnerable_code_cannot_be_controlled_by_adversary',
  requires_dependency: 'component_not_present',
  requires_environment: 'vulnerable_code_cannot_be_controlled_by_adversary',
  protected_by_compiler: 'inline_mitigations_already_exist',
  protected_at_runtime: 'inline_mitigations_already_exist',
  protected_at_perimeter: 'inline_mitigations_already_exist',
  protected_by_mitigating_control: 'inline_mitigations_already_exist',
};

const RESPONSE_TEXT: Record<string, string> = {
  can_not_fix: 'cannot be fixed',
  will_not_fix: 'will not be fixed',
  update: 'update to a fixed version',
  rollback: 'roll back to an unaffected version',
  workaround_available: 'a workaround is available',
};

export function openVexStatement(s: {
  vulnerability: string;
  aliases?: string[];
  purls: string[];
  state: string;
  justification?: string;
  detail?: string;
  response?: string[];
}): OpenVexStatement {
  const status = STATUS[s.state];
  if (!status) throw new Error(`no OpenVEX status for CycloneDX state ${s.state}`);
  const out: OpenVexStatement = {
    vulnerability: { name: s.vulnerability, ...(s.aliases?.length ? { aliases: s.aliases } : {}) },
    products: s.purls.map((purl) => ({ '@id': purl, identifiers: { purl } })),
    status,
  };
  const responses = (s.response ?? []).map((r) => RESPONSE_TEXT[r] ?? r).join('; ');
  if (status === 'not_affected') {
    if (s.justification) out.justification = JUSTIFICATION[s.justification];
    // Keep the engineer's wording; for false_positive it is the only justification there is.
    out.impact_statement = s.detail ?? (s.state === 'false_positive' ? 'False positive: the vulnerability does not apply to this component.' : undefined);
    if (!out.impact_statement) delete out.impact_statement;
  } else if (status === 'affected') {
    // OpenVEX requires an action statement for affected products.
    out.action_statement = [s.detail, responses && `Response: ${responses}.`].filter(Boolean).join(' ') || 'No remediation decided yet.';
  } else if (s.detail || responses) {
    out.status_notes = [s.detail, responses && `Response: ${responses}.`].filter(Boolean).join(' ');
  }
  return out;
}
