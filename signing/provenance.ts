// SLSA Provenance v1 statements for firmware builds, from explicit inputs or the CI
// environment (GitHub Actions, GitLab CI). Only the statement is built here; signing it is
// attest.ts's job.
import { makeStatement, type InTotoStatement, type ResourceDescriptor } from './in-toto.js';

export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1';
/** GitHub's build type for workflow runs (as used by actions/attest-build-provenance). */
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1';
/** Our own build type for GitLab CI and local/air-gapped builds; externalParameters are documented in docs/signing.md. */
export const FIRMWARE_BUILD_TYPE = 'https://edge-ota.dev/slsa/buildtypes/firmware-release/v1';

export interface SourceRevision {
  /** Repository URI, e.g. git+https://github.com/org/fw@refs/heads/main. */
  uri: string;
  /** Commit id (git SHA). */
  revision: string;
}

export interface ProvenanceInputs {
  buildType: string;
  builderId: string;
  externalParameters: Record<string, unknown>;
  internalParameters?: Record<string, unknown>;
  source?: SourceRevision;
  /** Extra inputs (toolchains, base images, SDKs) beyond the source. */
  dependencies?: ResourceDescriptor[];
  invocationId?: string;
  startedOn?: Date;
  finishedOn?: Date;
}

export interface SlsaProvenanceV1 {
  buildDefinition: {
    buildType: string;
    externalParameters: Record<string, unknown>;
    internalParameters?: Record<string, unknown>;
    resolvedDependencies?: ResourceDescriptor[];
  };
  runDetails: {
    builder: { id: string };
    metadata?: { invocationId?: string; startedOn?: string; finishedOn?: string };
  };
}

export class ProvenanceInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProvenanceInputError';
  }
}

export function buildProvenancePredicate(inputs: ProvenanceInputs): SlsaProvenanceV1 {
  // The three fields SLSA v1 requires; everything else is optional.
  if (!inputs.buildType) throw new ProvenanceInputError('buildType is required');
  if (!inputs.builderId) throw new ProvenanceInputError('builderId is required');
  const resolvedDependencies: ResourceDescriptor[] = [];
  if (inputs.source) resolvedDependencies.push({ uri: inputs.source.uri, digest: { gitCommit: inputs.source.revision } });
  resolvedDependencies.push(...(inputs.dependencies ?? []));
  const metadata = {
    ...(inputs.invocationId ? { invocationId: inputs.invocationId } : {}),
    ...(inputs.startedOn ? { startedOn: inputs.startedOn.toISOString() } : {}),
    ...(inputs.finishedOn ? { finishedOn: inputs.finishedOn.toISOString() } : {}),
  };
  return {
    buildDefinition: {
      buildType: inputs.buildType,
      externalParameters: inputs.externalParameters,
      ...(inputs.internalParameters ? { internalParameters: inputs.internalParameters } : {}),
      ...(resolvedDependencies.length ? { resolvedDependencies } : {}),
    },
    runDetails: { builder: { id: inputs.builderId }, ...(Object.keys(metadata).length ? { metadata } : {}) },
  };
}

export function buildProvenanceStatement(subjects: InTotoStatement['subject'], inputs: ProvenanceInputs): InTotoStatement {
  return makeStatement(subjects, SLSA_PROVENANCE_V1, buildProvenancePredicate(inputs) as unknown as Record<string, unknown>);
}

type Env = Record<string, string | undefined>;

function githubInputs(env: Env): Partial<ProvenanceInputs> {
  const server = env.GITHUB_SERVER_URL ?? 'https://github.com';
  const repo = env.GITHUB_REPOSITORY;
  const ref = env.GITHUB_REF;
  // GITHUB_WORKFLOW_REF = org/repo/.github/workflows/release.yml@refs/heads/main
  const workflowRef = env.GITHUB_WORKFLOW_REF;
  const workflowPath = workflowRef?.replace(/^[^/]+\/[^/]+\//, '').replace(/@.*$/, '');
  return {
    buildType: GITHUB_WORKFLOW_BUILD_TYPE,
    builderId: workflowRef ? `${server}/${workflowRef}` : `${server}/actions/runner`,
    externalParameters: { workflow: { ref, repository: repo ? `${server}/${repo}` : undefined, path: workflowPath } },
    internalParameters: {
      github: {
        event_name: env.GITHUB_EVENT_NAME,
        repository_id: env.GITHUB_REPOSITORY_ID,
        repository_owner_id: env.GITHUB_REPOSITORY_OWNER_ID,
        runner_environment: env.RUNNER_ENVIRONMENT,
      },
    },
    source: repo && env.GITHUB_SHA ? { uri: `git+${server}/${repo}${ref ? `@${ref}` : ''}`, revision: env.GITHUB_SHA } : undefined,
    invocationId: repo && env.GITHUB_RUN_ID ? `${server}/${repo}/actions/runs/${env.GITHUB_RUN_ID}/attempts/${env.GITHUB_RUN_ATTEMPT ?? '1'}` : undefined,
  };
}

function gitlabInputs(env: Env): Partial<ProvenanceInputs> {
  const project = env.CI_PROJECT_URL;
  const ref = env.CI_COMMIT_REF_NAME;
  return {
    buildType: FIRMWARE_BUILD_TYPE,
    builderId: env.CI_RUNNER_ID && env.CI_SERVER_URL ? `${env.CI_SERVER_URL}/-/runners/${env.CI_RUNNER_ID}` : `${env.CI_SERVER_URL ?? 'https://gitlab.com'}/gitlab-runner`,
    externalParameters: { repository: project, ref, configPath: env.CI_CONFIG_PATH, job: env.CI_JOB_NAME },
    internalParameters: { gitlab: { pipelineId: env.CI_PIPELINE_ID, projectId: env.CI_PROJECT_ID, runnerId: env.CI_RUNNER_ID } },
    source: project && env.CI_COMMIT_SHA ? { uri: `git+${project}${ref ? `@refs/heads/${ref}` : ''}`, revision: env.CI_COMMIT_SHA } : undefined,
    invocationId: env.CI_JOB_URL ?? (project && env.CI_JOB_ID ? `${project}/-/jobs/${env.CI_JOB_ID}` : undefined),
    startedOn: env.CI_JOB_STARTED_AT ? new Date(env.CI_JOB_STARTED_AT) : undefined,
  };
}

function definedOnly<T extends object>(value: Partial<T>): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/**
 * Provenance inputs from the CI environment (GitHub Actions when GITHUB_ACTIONS=true, GitLab
 * when GITLAB_CI=true), with `explicit` values taking precedence and filling gaps (local builds).
 */
export function provenanceInputsFromEnv(explicit: Partial<ProvenanceInputs> = {}, env: Env = process.env): ProvenanceInputs {
  const detected = env.GITHUB_ACTIONS === 'true' ? githubInputs(env) : env.GITLAB_CI === 'true' ? gitlabInputs(env) : {};
  const merged = { ...definedOnly(detected), ...definedOnly(explicit) };
  return {
    buildType: merged.buildType ?? FIRMWARE_BUILD_TYPE,
    builderId: merged.builderId ?? '',
    externalParameters: merged.externalParameters ?? {},
    internalParameters: merged.internalParameters,
    source: merged.source,
    dependencies: merged.dependencies,
    invocationId: merged.invocationId,
    startedOn: merged.startedOn,
    finishedOn: merged.finishedOn ?? new Date(),
  };
}
