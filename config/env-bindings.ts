// OTA_* environment variables and the config fields they set. CI systems configure us
// through these; each maps one variable to one or more dotted config paths.
type Binding = (raw: string) => Record<string, unknown>;

const bool = (raw: string): boolean | string => (/^(1|true|yes)$/i.test(raw) ? true : /^(0|false|no)$/i.test(raw) ? false : raw);

/** OTA_STORE accepts a directory (local store) or s3://bucket[/prefix]. */
function storeFromUrl(raw: string): Record<string, unknown> {
  const s3 = /^s3:\/\/([^/]+)\/?(.*)$/.exec(raw);
  if (s3) return { 'store.kind': 's3', 'store.bucket': s3[1], 'store.prefix': s3[2] ?? '' };
  return { 'store.kind': 'local', 'store.dir': raw };
}

export const ENV_BINDINGS: Record<string, Binding> = {
  OTA_TEMPORAL_ADDRESS: (raw) => ({ 'temporal.address': raw }),
  OTA_TEMPORAL_NAMESPACE: (raw) => ({ 'temporal.namespace': raw }),
  OTA_TASK_QUEUE: (raw) => ({ 'temporal.taskQueue': raw }),
  // true: TLS with the system roots; the other OTA_TEMPORAL_TLS_* turn it on by themselves.
  OTA_TEMPORAL_TLS: (raw) => (bool(raw) === true ? { 'temporal.tls': {} } : bool(raw) === false ? {} : { 'temporal.tls': raw }),
  OTA_TEMPORAL_TLS_CA: (raw) => ({ 'temporal.tls.serverCaPath': raw }),
  OTA_TEMPORAL_TLS_CERT: (raw) => ({ 'temporal.tls.clientCertPath': raw }),
  OTA_TEMPORAL_TLS_KEY: (raw) => ({ 'temporal.tls.clientKeyPath': raw }),
  OTA_TEMPORAL_TLS_SERVER_NAME: (raw) => ({ 'temporal.tls.serverName': raw }),
  OTA_TEMPORAL_API_KEY: (raw) => ({ 'temporal.apiKey': raw }),
  OTA_STORE: storeFromUrl,
  OTA_S3_ENDPOINT: (raw) => ({ 'store.endpoint': raw }),
  OTA_S3_REGION: (raw) => ({ 'store.region': raw }),
  OTA_S3_FORCE_PATH_STYLE: (raw) => ({ 'store.forcePathStyle': bool(raw) }),
  OTA_SIGNING_MODE: (raw) => ({ 'signing.mode': raw }),
  OTA_SIGNING_KEY: (raw) => ({ 'signing.keyPath': raw }),
  OTA_FULCIO_URL: (raw) => ({ 'signing.fulcioURL': raw }),
  OTA_REKOR_URL: (raw) => ({ 'signing.rekorURL': raw }),
  OTA_TSA_URL: (raw) => ({ 'signing.tsaURL': raw }),
  OTA_TRUSTED_ROOT: (raw) => ({ 'trust.trustedRootPath': raw }),
  OTA_FLEET_DATABASE_URL: (raw) => ({ 'fleet.databaseUrl': raw }),
  OTA_FLEET_CA_DIR: (raw) => ({ 'identity.caDir': raw }),
};
