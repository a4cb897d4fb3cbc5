// Map free-form license strings onto CycloneDX license models without ever producing
// something the strict schema rejects: known SPDX ids become `license.id`, expressions
// made only of known ids become `expression`, everything else a named license.
import { Models, SPDX } from '@cyclonedx/cyclonedx-library';

const OPERATORS = new Set(['AND', 'OR', 'WITH']);

function isSpdxExpression(value: string): boolean {
  const tokens = value.replace(/[()]/g, ' ').split(/\s+/).filter(Boolean);
  if (!tokens.some((t) => OPERATORS.has(t))) return false;
  return tokens.every((t) => OPERATORS.has(t) || SPDX.isSupportedSpdxId(t.replace(/\+$/, '')) || /^LicenseRef-[\w.-]+$/.test(t));
}

export function toCdxLicenses(values: string[] | undefined): Models.License[] {
  const list = (values ?? []).map((v) => v.trim()).filter(Boolean);
  // The schema allows either one expression or a list of licenses, never both.
  if (list.length === 1 && isSpdxExpression(list[0]!)) return [new Models.LicenseExpression(list[0]!)];
  return list.map((v) => (SPDX.isSupportedSpdxId(v) ? new Models.SpdxLicense(v) : new Models.NamedLicense(v)));
}
