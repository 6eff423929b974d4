import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { availableParallelism } from 'node:os';
import { DEFAULT_QUOTAS, type Quotas } from '../core/quotas.js';
import { DEFAULT_NATIVE_CHOICES, type NativeChoices } from '../core/native-addon.js';

/** Typed configuration: defaults < config file < environment < command-line flags. */
export interface Config {
  host: string;
  port: number;
  dataDir: string;
  accountId: string;
  region: string;
  partition: string;
  auth: boolean;
  logLevel: string;
  /** postgres://... — unset: SQLite in the data dir. */
  databaseUrl?: string;
  databaseSchema?: string;
  /** Object-store clients (the blob bucket, connected storage): how long to wait for a connection, and on a silent one. */
  objectStoreTimeouts: { connectMs: number; idleMs: number };
  blob: { kind: 'local' } | { kind: 's3'; endpoint?: string; region: string; bucket: string; prefix: string; forcePathStyle: boolean; accessKeyId?: string; secretAccessKey?: string };
  keys: { kind: 'local' } | { kind: 'kms'; endpoint?: string; region: string; keyId: string; accessKeyId?: string; secretAccessKey?: string };
  /** base64 32-byte master key; unset: read from `masterKeyFile`, else `<dataDir>/master.key` (created on first start). */
  masterKey?: string;
  /** A file holding the base64 master key, kept outside the data dir (OPENOMICS_MASTER_KEY_FILE). */
  masterKeyFile?: string;
  quotas: Quotas;
  /** Directories import jobs may read `file:///` sources from. Default: `<dataDir>/import`. */
  importRoots: string[];
  /** Directories export jobs may write `file:///` destinations under. Default: `<dataDir>/export`. */
  exportRoots: string[];
  /**
   * `importRoots`/`exportRoots` belong to the deployment's own account (`accountId`); other accounts have
   * local roots only as mapped here (OPENOMICS_ACCOUNT_ROOTS="210987654321=/imports/b,/exports/b;...").
   */
  accountRoots: Record<string, { importRoots: string[]; exportRoots: string[] }>;
  /** Background job workers in this process (0: this process only serves requests). */
  workers: number;
  /**
   * `openomics serve`: server processes sharing the port (node:cluster), each as stateless as the scale-out
   * design requires; jobs and sweeps run in the first only. Default: the machine's cores.
   */
  processes: number;
  /** How long a worker holds a job without renewing; after a crash, the job restarts this long after. */
  jobLeaseMs: number;
  /** `openomics worker`'s health and metrics port (/_openomics/ready, /_openomics/metrics) on `host`; unset: none. */
  workerPort?: number;
  /** HTTPS: PEM certificate chain and private key files (both, or neither: plain HTTP, e.g. behind a TLS proxy). */
  tls?: { certFile: string; keyFile: string };
  /** /_openomics/metrics answers only requests with `Authorization: Bearer <token>` when set. */
  metricsToken?: string;
  /** Tests: an Omics output that does not match the model (unknown or missing required member) fails loudly. */
  strictOutput: boolean;
  /** Read buffers recycled between requests (decision 53); off for diagnosis, or to rule it out. */
  recycleBuffers: boolean;
  /** The native addons or their JS fallbacks, per code path (diagnosis, and so CI runs the fallbacks too). */
  native: NativeChoices;
  /** Tests only: buffers given back are filled with a marker byte, so an early give shows as wrong bytes. */
  poisonReturnedBuffers: boolean;
  /** How often blobs nothing refers to (a failed cleanup's leftovers) are looked for and removed. */
  orphanSweepMs: number;
  /** Below this much free space in the data dir, /_openomics/ready answers 503 (the disk is almost full). */
  minFreeDiskBytes: number;
  /** Attempts of a job that fails with an unexpected error before it gives up; storage faults get `jobMaxStorageAttempts`. */
  jobMaxAttempts: number;
  jobMaxStorageAttempts: number;
  /** In-progress direct uploads older than this are aborted and their parts removed. */
  uploadExpiryMs: number;
  archive: {
    /** ACTIVE read sets not accessed for this long become ARCHIVED (default 30 days). */
    afterMs: number;
    /** How often the archiver looks. */
    sweepMs: number;
    /** Local cold tier directory (default `<dataDir>/cold-blobs`). */
    coldDir?: string;
    /** S3 storage class of the cold tier (default GLACIER_IR: cheaper, still readable at once). */
    storageClass: string;
  };
  /**
   * Test hook: a file holding milliseconds added to the clock, read on every
   * use, so tests can move time forward (e.g. 31 days) without waiting.
   */
  clockOffsetFile?: string;
  workflows: {
    /** How tasks run: in containers by podman (default) or docker, or on the host (none: less isolated). */
    containerRuntime: 'podman' | 'docker' | 'none';
    /** The container command's path (default: the runtime's name, found on PATH). */
    containerCommand?: string;
    /** Podman's containers.conf for task containers (CONTAINERS_CONF). */
    containersConf?: string;
    /**
     * Whether a task's image missing from the runtime is pulled from its registry (`missing`; registries, mirrors
     * and credentials are the runtime's own settings, e.g. CONTAINERS_REGISTRIES_CONF) or the task fails (`never`,
     * the default: images are loaded into the runtime beforehand).
     */
    imagePull: 'never' | 'missing';
    /** The CWL engine: cwltool (one machine) or toil (toil-cwl-runner, on `toilBatchSystem`). */
    cwlRunner: 'cwltool' | 'toil';
    toilBatchSystem: string;
    /** Runs' working folders (their run storage): default `<dataDir>/runs`. */
    runsDir: string;
    /** Runs this process runs at once (each holds its engine and its tasks' containers). */
    concurrentRuns: number;
    /** The longest a run may take before it fails with RUN_TIMED_OUT (the service's 604,800 s by default). */
    maxRunSeconds: number;
    /**
     * The container network the tasks of runs started with networkingMode VPC join (RESTRICTED runs' tasks have no
     * network): default the runtime's own bridge network (`podman`, or Docker's `bridge`). Decision 73.
     */
    vpcNetwork: string;
    /** Runs a run batch starts per second (spec §2.9: "gradually", at the StartRun rate). */
    batchSubmitPerSecond: number;
  };
  /** Status-change events (EventBridge-shaped) delivered to HTTP webhooks, decision 75. */
  events: {
    /** Receivers: each gets every event (of `accounts`, if given), in order, at least once; `secret` signs them. */
    webhooks: { url: string; secret?: string; accounts?: string[] }[];
    /** Deliveries of one event tried before it is dead-lettered. */
    maxAttempts: number;
    /** Hours events are kept once every webhook has had them. */
    retentionHours: number;
  };
  s3: {
    /** Origins allowed to read through the S3 edge from a browser (CORS); empty: none, ["*"]: any. */
    corsOrigins: string[];
    /** Virtual-hosted addressing: `<bucket>.<baseDomain>` (empty: path style only). */
    baseDomain?: string;
    /** How often S3 access log batches are delivered to stores' accessLogLocation. */
    accessLogFlushMs: number;
  };
}

export type ConfigOverrides = Partial<Omit<Config, 'tls' |  'blob' | 'keys' | 'quotas' | 'importRoots' | 'exportRoots' | 'accountRoots' | 'archive' | 's3' | 'workflows' | 'events'>> & { configFile?: string; tlsCert?: string; tlsKey?: string };

/** `account=importRoot,exportRoot;account=...` (either side may be empty; several roots of a kind joined by ':'). */
function parseAccountRoots(v: string): Record<string, { importRoots: string[]; exportRoots: string[] }> {
  const out: Record<string, { importRoots: string[]; exportRoots: string[] }> = {};
  for (const entry of v.split(';').map((x) => x.trim()).filter(Boolean)) {
    const m = /^(\d{12})=([^,]*),?(.*)$/.exec(entry);
    if (!m) throw new Error(`OPENOMICS_ACCOUNT_ROOTS: ${JSON.stringify(entry)} is not "<12-digit account>=<import roots>,<export roots>"`);
    const paths = (s: string) => s.split(':').filter(Boolean).map((r) => resolve(r));
    out[m[1]!] = { importRoots: paths(m[2]!), exportRoots: paths(m[3]!) };
  }
  return out;
}

/** OPENOMICS_INFLATE (libdeflate|zlib), OPENOMICS_SAM_RENDERER (htslib|js), OPENOMICS_NATIVE_CRYPTO (1|0), OPENOMICS_INFLATE_THREADS (1|0). */
function nativeChoicesFrom(file: Partial<NativeChoices> | undefined): NativeChoices {
  const pick = <T extends string>(name: string, allowed: readonly T[]): T | undefined => {
    const v = env(name);
    if (v === undefined) return undefined;
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`);
    return v as T;
  };
  const on = (name: string) => {
    const v = pick(name, ['0', '1'] as const);
    return v === undefined ? undefined : v === '1';
  };
  const crypto = on('OPENOMICS_NATIVE_CRYPTO');
  return {
    inflate: pick('OPENOMICS_INFLATE', ['libdeflate', 'zlib'] as const) ?? file?.inflate ?? DEFAULT_NATIVE_CHOICES.inflate,
    samRenderer: pick('OPENOMICS_SAM_RENDERER', ['htslib', 'js'] as const) ?? file?.samRenderer ?? DEFAULT_NATIVE_CHOICES.samRenderer,
    crypto: crypto === undefined ? (file?.crypto ?? DEFAULT_NATIVE_CHOICES.crypto) : crypto ? 'openssl' : 'node',
    inflateThreads: on('OPENOMICS_INFLATE_THREADS') ?? file?.inflateThreads ?? DEFAULT_NATIVE_CHOICES.inflateThreads,
  };
}

/** OPENOMICS_CONTAINER_RUNTIME (podman|docker|none), OPENOMICS_CONTAINER_COMMAND, OPENOMICS_CONTAINERS_CONF, OPENOMICS_IMAGE_PULL (never|missing), OPENOMICS_CWL_RUNNER (cwltool|toil), OPENOMICS_TOIL_BATCH_SYSTEM, OPENOMICS_RUNS_DIR, OPENOMICS_CONCURRENT_RUNS, OPENOMICS_MAX_RUN_SECONDS, OPENOMICS_VPC_NETWORK, OPENOMICS_BATCH_SUBMIT_PER_SECOND. */
function workflowSettings(file: Partial<Config['workflows']> | undefined, dataDir: string): Config['workflows'] {
  const oneOf = <T extends string>(name: string, allowed: readonly T[], fallback: T): T => {
    const v = env(name);
    if (v === undefined) return fallback;
    if (!(allowed as readonly string[]).includes(v)) throw new Error(`${name} must be one of ${allowed.join(', ')}, not ${JSON.stringify(v)}`);
    return v as T;
  };
  const command = env('OPENOMICS_CONTAINER_COMMAND') ?? file?.containerCommand;
  const conf = env('OPENOMICS_CONTAINERS_CONF') ?? file?.containersConf;
  const runtime = oneOf('OPENOMICS_CONTAINER_RUNTIME', ['podman', 'docker', 'none'] as const, file?.containerRuntime ?? 'podman');
  return {
    containerRuntime: runtime,
    ...(command ? { containerCommand: command } : {}),
    ...(conf ? { containersConf: resolve(conf) } : {}),
    imagePull: oneOf('OPENOMICS_IMAGE_PULL', ['never', 'missing'] as const, file?.imagePull ?? 'never'),
    cwlRunner: oneOf('OPENOMICS_CWL_RUNNER', ['cwltool', 'toil'] as const, file?.cwlRunner ?? 'cwltool'),
    toilBatchSystem: env('OPENOMICS_TOIL_BATCH_SYSTEM') ?? file?.toilBatchSystem ?? 'single_machine',
    runsDir: resolve(env('OPENOMICS_RUNS_DIR') ?? file?.runsDir ?? resolve(dataDir, 'runs')),
    concurrentRuns: num(env('OPENOMICS_CONCURRENT_RUNS'), 'OPENOMICS_CONCURRENT_RUNS') ?? file?.concurrentRuns ?? 2,
    maxRunSeconds: num(env('OPENOMICS_MAX_RUN_SECONDS'), 'OPENOMICS_MAX_RUN_SECONDS') ?? file?.maxRunSeconds ?? 604_800,
    vpcNetwork: env('OPENOMICS_VPC_NETWORK') ?? file?.vpcNetwork ?? (runtime === 'docker' ? 'bridge' : 'podman'),
    batchSubmitPerSecond: Math.max(1, num(env('OPENOMICS_BATCH_SUBMIT_PER_SECOND'), 'OPENOMICS_BATCH_SUBMIT_PER_SECOND') ?? file?.batchSubmitPerSecond ?? 10),
  };
}

/** OPENOMICS_EVENT_WEBHOOKS (a JSON array of {url, secret?, accounts?}), OPENOMICS_EVENT_MAX_ATTEMPTS, OPENOMICS_EVENT_RETENTION_HOURS. */
function eventSettings(file: Partial<Config['events']> | undefined): Config['events'] {
  let webhooks = file?.webhooks ?? [];
  const fromEnv = env('OPENOMICS_EVENT_WEBHOOKS');
  if (fromEnv) {
    try {
      webhooks = JSON.parse(fromEnv) as Config['events']['webhooks'];
    } catch {
      throw new Error('OPENOMICS_EVENT_WEBHOOKS must be a JSON array of {"url": ..., "secret": ..., "accounts": [...]}');
    }
  }
  if (!Array.isArray(webhooks) || webhooks.some((w) => !w || typeof w.url !== 'string' || !/^https?:\/\//.test(w.url))) throw new Error('events.webhooks: each needs an http(s) url');
  return {
    webhooks,
    maxAttempts: Math.max(1, num(env('OPENOMICS_EVENT_MAX_ATTEMPTS'), 'OPENOMICS_EVENT_MAX_ATTEMPTS') ?? file?.maxAttempts ?? 20),
    retentionHours: num(env('OPENOMICS_EVENT_RETENTION_HOURS'), 'OPENOMICS_EVENT_RETENTION_HOURS') ?? file?.retentionHours ?? 24,
  };
}

function env(name: string): string | undefined {
  const v = process.env[name];
  return v === undefined || v === '' ? undefined : v;
}

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`${name} must be a whole number, not ${JSON.stringify(v)}`);
  return n;
}

export function loadConfig(flags: ConfigOverrides = {}): Config {
  const file = flags.configFile ?? env('OPENOMICS_CONFIG');
  const fromFile: Partial<Config> = file ? (JSON.parse(readFileSync(file, 'utf8')) as Partial<Config>) : {};
  const dataDir = resolve(flags.dataDir ?? env('OPENOMICS_DATA_DIR') ?? fromFile.dataDir ?? './openomics-data');
  const region = flags.region ?? env('OPENOMICS_REGION') ?? fromFile.region ?? 'us-east-1';
  const s3Bucket = env('OPENOMICS_BLOB_S3_BUCKET');
  const kmsKey = env('OPENOMICS_KMS_KEY_ID');
  const databaseUrl = flags.databaseUrl ?? env('OPENOMICS_DATABASE_URL') ?? fromFile.databaseUrl;
  const databaseSchema = flags.databaseSchema ?? env('OPENOMICS_DATABASE_SCHEMA') ?? fromFile.databaseSchema;
  const masterKey = env('OPENOMICS_MASTER_KEY') ?? fromFile.masterKey;
  const cfg: Config = {
    host: flags.host ?? env('OPENOMICS_HOST') ?? fromFile.host ?? '127.0.0.1',
    port: flags.port ?? num(env('OPENOMICS_PORT'), 'OPENOMICS_PORT') ?? fromFile.port ?? 8080,
    dataDir,
    accountId: flags.accountId ?? env('OPENOMICS_ACCOUNT_ID') ?? fromFile.accountId ?? '123456789012',
    region,
    partition: fromFile.partition ?? 'aws',
    auth: flags.auth ?? (env('OPENOMICS_NO_AUTH') === '1' ? false : (fromFile.auth ?? true)),
    logLevel: flags.logLevel ?? env('OPENOMICS_LOG_LEVEL') ?? fromFile.logLevel ?? 'info',
    ...(databaseUrl ? { databaseUrl } : {}),
    ...(databaseSchema ? { databaseSchema } : {}),
    objectStoreTimeouts: {
      connectMs: (num(env('OPENOMICS_OBJECT_STORE_CONNECT_TIMEOUT_SECONDS'), 'OPENOMICS_OBJECT_STORE_CONNECT_TIMEOUT_SECONDS') ?? 5) * 1000,
      idleMs: (num(env('OPENOMICS_OBJECT_STORE_IDLE_TIMEOUT_SECONDS'), 'OPENOMICS_OBJECT_STORE_IDLE_TIMEOUT_SECONDS') ?? 30) * 1000,
    },
    blob: s3Bucket
      ? {
          kind: 's3',
          bucket: s3Bucket,
          region: env('OPENOMICS_BLOB_S3_REGION') ?? region,
          prefix: env('OPENOMICS_BLOB_S3_PREFIX') ?? '',
          forcePathStyle: env('OPENOMICS_BLOB_S3_FORCE_PATH_STYLE') !== '0',
          ...(env('OPENOMICS_BLOB_S3_ENDPOINT') ? { endpoint: env('OPENOMICS_BLOB_S3_ENDPOINT')! } : {}),
          ...(env('OPENOMICS_BLOB_S3_ACCESS_KEY_ID') ? { accessKeyId: env('OPENOMICS_BLOB_S3_ACCESS_KEY_ID')! } : {}),
          ...(env('OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY') ? { secretAccessKey: env('OPENOMICS_BLOB_S3_SECRET_ACCESS_KEY')! } : {}),
        }
      : (fromFile.blob ?? { kind: 'local' }),
    keys: kmsKey
      ? {
          kind: 'kms',
          keyId: kmsKey,
          region: env('OPENOMICS_KMS_REGION') ?? region,
          ...(env('OPENOMICS_KMS_ENDPOINT') ? { endpoint: env('OPENOMICS_KMS_ENDPOINT')! } : {}),
          ...(env('OPENOMICS_KMS_ACCESS_KEY_ID') ? { accessKeyId: env('OPENOMICS_KMS_ACCESS_KEY_ID')! } : {}),
          ...(env('OPENOMICS_KMS_SECRET_ACCESS_KEY') ? { secretAccessKey: env('OPENOMICS_KMS_SECRET_ACCESS_KEY')! } : {}),
        }
      : (fromFile.keys ?? { kind: 'local' }),
    ...(masterKey ? { masterKey } : {}),
    ...(env('OPENOMICS_MASTER_KEY_FILE') ? { masterKeyFile: resolve(env('OPENOMICS_MASTER_KEY_FILE')!) } : {}),
    importRoots: (env('OPENOMICS_IMPORT_ROOTS')?.split(':').filter(Boolean) ?? fromFile.importRoots ?? [resolve(dataDir, 'import')]).map((r) => resolve(r)),
    exportRoots: (env('OPENOMICS_EXPORT_ROOTS')?.split(':').filter(Boolean) ?? fromFile.exportRoots ?? [resolve(dataDir, 'export')]).map((r) => resolve(r)),
    accountRoots: env('OPENOMICS_ACCOUNT_ROOTS') ? parseAccountRoots(env('OPENOMICS_ACCOUNT_ROOTS')!) : (fromFile.accountRoots ?? {}),
    jobLeaseMs: (num(env('OPENOMICS_JOB_LEASE_SECONDS'), 'OPENOMICS_JOB_LEASE_SECONDS') ?? 30) * 1000,
    recycleBuffers: env('OPENOMICS_RECYCLE_BUFFERS') !== '0',
    native: nativeChoicesFrom(fromFile.native),
    strictOutput: env('OPENOMICS_STRICT_OUTPUT') === '1',
    poisonReturnedBuffers: env('OPENOMICS_TEST_POISON_RETURNED_BUFFERS') === '1',
    orphanSweepMs: (num(env('OPENOMICS_ORPHAN_SWEEP_SECONDS'), 'OPENOMICS_ORPHAN_SWEEP_SECONDS') ?? 6 * 3600) * 1000,
    minFreeDiskBytes: (num(env('OPENOMICS_MIN_FREE_DISK_MB'), 'OPENOMICS_MIN_FREE_DISK_MB') ?? 128) * 1024 * 1024,
    jobMaxAttempts: Math.max(1, num(env('OPENOMICS_JOB_MAX_ATTEMPTS'), 'OPENOMICS_JOB_MAX_ATTEMPTS') ?? 5),
    jobMaxStorageAttempts: Math.max(1, num(env('OPENOMICS_JOB_MAX_STORAGE_ATTEMPTS'), 'OPENOMICS_JOB_MAX_STORAGE_ATTEMPTS') ?? 30),
    workers: flags.workers ?? num(env('OPENOMICS_WORKERS'), 'OPENOMICS_WORKERS') ?? fromFile.workers ?? 2,
    processes: Math.max(1, flags.processes ?? num(env('OPENOMICS_PROCESSES'), 'OPENOMICS_PROCESSES') ?? fromFile.processes ?? availableParallelism()),
    uploadExpiryMs: num(env('OPENOMICS_UPLOAD_EXPIRY_SECONDS'), 'OPENOMICS_UPLOAD_EXPIRY_SECONDS') !== undefined
      ? num(env('OPENOMICS_UPLOAD_EXPIRY_SECONDS'), '')! * 1000
      : (fromFile.uploadExpiryMs ?? 7 * 24 * 3600 * 1000),
    archive: {
      afterMs: (num(env('OPENOMICS_ARCHIVE_AFTER_DAYS'), 'OPENOMICS_ARCHIVE_AFTER_DAYS') ?? 30) * 24 * 3600 * 1000,
      sweepMs: (num(env('OPENOMICS_ARCHIVE_SWEEP_SECONDS'), 'OPENOMICS_ARCHIVE_SWEEP_SECONDS') ?? 3600) * 1000,
      ...(env('OPENOMICS_COLD_DIR') ? { coldDir: resolve(env('OPENOMICS_COLD_DIR')!) } : fromFile.archive?.coldDir ? { coldDir: resolve(fromFile.archive.coldDir) } : {}),
      storageClass: env('OPENOMICS_COLD_STORAGE_CLASS') ?? fromFile.archive?.storageClass ?? 'GLACIER_IR',
    },
    workflows: workflowSettings(fromFile.workflows, dataDir),
    events: eventSettings(fromFile.events),
    s3: {
      accessLogFlushMs: (num(env('OPENOMICS_S3_ACCESS_LOG_FLUSH_SECONDS'), 'OPENOMICS_S3_ACCESS_LOG_FLUSH_SECONDS') ?? 60) * 1000,
      corsOrigins: (env('OPENOMICS_S3_CORS_ORIGINS')?.split(',').map((o) => o.trim()).filter(Boolean) ?? fromFile.s3?.corsOrigins ?? []),
      ...((env('OPENOMICS_S3_BASE_DOMAIN') ?? fromFile.s3?.baseDomain) ? { baseDomain: (env('OPENOMICS_S3_BASE_DOMAIN') ?? fromFile.s3?.baseDomain)!.toLowerCase() } : {}),
    },
    ...(env('OPENOMICS_CLOCK_OFFSET_FILE') ? { clockOffsetFile: resolve(env('OPENOMICS_CLOCK_OFFSET_FILE')!) } : {}),
    quotas: {
      ...DEFAULT_QUOTAS,
      ...(fromFile.quotas ?? {}),
      ...(num(env('OPENOMICS_MAX_SEQUENCE_STORES'), 'OPENOMICS_MAX_SEQUENCE_STORES') !== undefined
        ? { maxSequenceStores: num(env('OPENOMICS_MAX_SEQUENCE_STORES'), '')! }
        : {}),
      ...(num(env('OPENOMICS_MAX_REFERENCE_STORES'), 'OPENOMICS_MAX_REFERENCE_STORES') !== undefined
        ? { maxReferenceStores: num(env('OPENOMICS_MAX_REFERENCE_STORES'), '')! }
        : {}),
      ...(num(env('OPENOMICS_MAX_RUNS'), 'OPENOMICS_MAX_RUNS') !== undefined ? { maxRetainedRuns: num(env('OPENOMICS_MAX_RUNS'), '')! } : {}),
    },
  };
  const certFile = flags.tlsCert ?? env('OPENOMICS_TLS_CERT') ?? fromFile.tls?.certFile;
  const keyFile = flags.tlsKey ?? env('OPENOMICS_TLS_KEY') ?? fromFile.tls?.keyFile;
  if (!!certFile !== !!keyFile) throw new Error('HTTPS needs both a certificate and a key: --tls-cert and --tls-key (OPENOMICS_TLS_CERT, OPENOMICS_TLS_KEY)');
  if (certFile && keyFile) cfg.tls = { certFile: resolve(certFile), keyFile: resolve(keyFile) };
  const workerPort = flags.workerPort ?? num(env('OPENOMICS_WORKER_PORT'), 'OPENOMICS_WORKER_PORT') ?? fromFile.workerPort;
  if (workerPort !== undefined) cfg.workerPort = workerPort;
  const metricsToken = env('OPENOMICS_METRICS_TOKEN') ?? fromFile.metricsToken;
  if (metricsToken) cfg.metricsToken = metricsToken;
  if (!/^\d{12}$/.test(cfg.accountId)) throw new Error(`the account id must be 12 digits, not ${JSON.stringify(cfg.accountId)}`);
  if (!/^[a-z]{2}(-[a-z]+)+-\d$/.test(cfg.region)) throw new Error(`${JSON.stringify(cfg.region)} is not a region name like us-east-1`);
  return cfg;
}
