import { Migrator, sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { migrationProvider } from './migrations.js';
import { KyselyAccessLogRecords, type AccessLogRecords } from './access-log-records.js';
import { KyselyConnectionRecords, type ConnectionRecords } from './connection-records.js';
import { KyselyIdempotencyRecords, type IdempotencyRecords } from './idempotency-records.js';
import { KyselyIdentityRecords, type IdentityRecords } from './identity-records.js';
import { KyselyJobRecords, type JobRecords } from './job-records.js';
import { KyselyReadSetRecords, type ReadSetRecords } from './read-set-records.js';
import { KyselyReferenceRecords, type ReferenceRecords } from './reference-records.js';
import { KyselyReferenceStoreRecords, type ReferenceStoreRecords } from './reference-store-records.js';
import { KyselySequenceStoreRecords, type SequenceStoreRecords } from './sequence-store-records.js';
import { KyselyTagRecords, type TagRecords } from './tag-records.js';
import { KyselyUploadRecords, type UploadRecords } from './upload-records.js';
import { KyselyWorkflowRecords, type WorkflowRecords } from './workflow-records.js';
import { KyselyConfigurationRecords, KyselyRunGroupRecords, type ConfigurationRecords, type RunGroupRecords } from './run-group-records.js';
import { KyselyRunRecords, type RunRecords } from './run-records.js';
import { KyselyRunBatchRecords, type RunBatchRecords } from './run-batch-records.js';
import { KyselyEventRecords, type EventRecords } from './event-records.js';
import { KyselyRunCacheRecords, type RunCacheRecords } from './run-cache-records.js';
import { KyselyLogRecords, type LogRecords } from './log-records.js';
import { KyselyVariantStoreRecords, type VariantStoreRecords } from './variant-store-records.js';
import { KyselyQueryExecutionRecords, type QueryExecutionRecords } from './query-execution-records.js';
import { KyselyAnnotationStoreRecords, type AnnotationStoreRecords } from './annotation-store-records.js';
import { KyselyAnalyticsFileRecords, type AnalyticsFileRecords } from './analytics-file-records.js';
import { KyselyShareRecords, type ShareRecords } from './share-records.js';
import type { TurnMemoGeneration } from './change-generation.js';

/**
 * The metadata store: every durable fact except blob bytes, one set of records per aggregate (one file each,
 * named for the table it keeps). The SQLite and PostgreSQL implementations differ only in the Kysely dialect
 * they are built with (see `open.ts`), and `test/metadata-store.test.ts` runs the same conformance suite
 * against both. The entity types are the domain's (storage/entities.ts); jobs and identities are the
 * runner's and the identity layer's, defined beside their tables.
 */
export interface MetadataStore {
  readonly dialect: 'sqlite' | 'postgres';
  migrate(): Promise<void>;
  close(): Promise<void>;
  ping(): Promise<void>;

  readonly identity: IdentityRecords;
  readonly sequenceStores: SequenceStoreRecords;
  readonly referenceStores: ReferenceStoreRecords;
  readonly readSets: ReadSetRecords;
  readonly references: ReferenceRecords;
  readonly uploads: UploadRecords;
  readonly jobs: JobRecords;
  readonly connections: ConnectionRecords;
  readonly tags: TagRecords;
  readonly idempotency: IdempotencyRecords;
  readonly accessLogs: AccessLogRecords;
  readonly workflows: WorkflowRecords;
  readonly runs: RunRecords;
  readonly runGroups: RunGroupRecords;
  readonly configurations: ConfigurationRecords;
  readonly runBatches: RunBatchRecords;
  readonly events: EventRecords;
  readonly runCaches: RunCacheRecords;
  readonly logs: LogRecords;
  readonly variantStores: VariantStoreRecords;
  readonly annotationStores: AnnotationStoreRecords;
  readonly analyticsFiles: AnalyticsFileRecords;
  readonly queryExecutions: QueryExecutionRecords;
  readonly shares: ShareRecords;

  /**
   * A deployment-wide setting: records `value` under `name` if nothing is recorded yet (the first process
   * to start wins), and returns what is recorded.
   */
  settleDeploymentSetting(name: string, value: string): Promise<string>;

  /** Runs `fn` in one transaction over the data-plane records and tags: all of it lands or none. */
  atomically<T>(fn: (tx: DataTransaction) => Promise<T>): Promise<T>;

  /**
   * A number that changes once a change to a cached table (stores, read sets, tags, identities) is committed by
   * any process: what a cache of those rows checks on every lookup. Read (a SELECT of one row on SQLite, a counter
   * on PostgreSQL) once per event-loop turn, again after this process writes or a request arrives
   * (db/change-generation.ts, TurnMemoGeneration): however many lookups a request makes in a turn, one read.
   */
  generation(): number;

  /** A request arrived: its first lookup reads the generation anew, so it sees every change committed before it. */
  requestArrived(): void;
}

export interface DataTransaction {
  readSets: ReadSetRecords;
  references: ReferenceRecords;
  uploads: UploadRecords;
  jobs: JobRecords;
  tags: TagRecords;
  workflows: WorkflowRecords;
  runs: RunRecords;
  runGroups: RunGroupRecords;
  variantStores: VariantStoreRecords;
  annotationStores: AnnotationStoreRecords;
  analyticsFiles: AnalyticsFileRecords;
}

export class KyselyMetadataStore implements MetadataStore {
  readonly identity: IdentityRecords;
  readonly sequenceStores: SequenceStoreRecords;
  readonly referenceStores: ReferenceStoreRecords;
  readonly readSets: ReadSetRecords;
  readonly references: ReferenceRecords;
  readonly uploads: UploadRecords;
  readonly jobs: JobRecords;
  readonly connections: ConnectionRecords;
  readonly tags: TagRecords;
  readonly idempotency: IdempotencyRecords;
  readonly accessLogs: AccessLogRecords;
  readonly workflows: WorkflowRecords;
  readonly runs: RunRecords;
  readonly runGroups: RunGroupRecords;
  readonly configurations: ConfigurationRecords;
  readonly runBatches: RunBatchRecords;
  readonly events: EventRecords;
  readonly runCaches: RunCacheRecords;
  readonly logs: LogRecords;
  readonly variantStores: VariantStoreRecords;
  readonly annotationStores: AnnotationStoreRecords;
  readonly analyticsFiles: AnalyticsFileRecords;
  readonly queryExecutions: QueryExecutionRecords;
  readonly shares: ShareRecords;

  constructor(
    private readonly db: Kysely<Database>,
    readonly dialect: 'sqlite' | 'postgres',
    private readonly changes: TurnMemoGeneration,
    /** PostgreSQL schema holding the tables (the migrator must look only there). */
    private readonly schema?: string,
  ) {
    this.identity = new KyselyIdentityRecords(db);
    this.sequenceStores = new KyselySequenceStoreRecords(db);
    this.referenceStores = new KyselyReferenceStoreRecords(db);
    this.readSets = new KyselyReadSetRecords(db);
    this.references = new KyselyReferenceRecords(db);
    this.uploads = new KyselyUploadRecords(db);
    this.jobs = new KyselyJobRecords(db);
    this.connections = new KyselyConnectionRecords(db);
    this.tags = new KyselyTagRecords(db);
    this.idempotency = new KyselyIdempotencyRecords(db);
    this.accessLogs = new KyselyAccessLogRecords(db);
    this.workflows = new KyselyWorkflowRecords(db);
    this.runs = new KyselyRunRecords(db);
    this.runGroups = new KyselyRunGroupRecords(db);
    this.configurations = new KyselyConfigurationRecords(db);
    this.runBatches = new KyselyRunBatchRecords(db);
    this.events = new KyselyEventRecords(db);
    this.runCaches = new KyselyRunCacheRecords(db);
    this.logs = new KyselyLogRecords(db);
    this.variantStores = new KyselyVariantStoreRecords(db);
    this.queryExecutions = new KyselyQueryExecutionRecords(db);
    this.annotationStores = new KyselyAnnotationStoreRecords(db);
    this.analyticsFiles = new KyselyAnalyticsFileRecords(db);
    this.shares = new KyselyShareRecords(db);
  }

  generation(): number {
    return this.changes.current();
  }

  requestArrived(): void {
    this.changes.forget();
  }

  async atomically<T>(fn: (tx: DataTransaction) => Promise<T>): Promise<T> {
    // Bumped again once committed: a lookup between a statement inside and the commit cached the old row.
    return this.db.transaction().execute((trx) =>
      fn({
        readSets: new KyselyReadSetRecords(trx),
        references: new KyselyReferenceRecords(trx),
        uploads: new KyselyUploadRecords(trx),
        jobs: new KyselyJobRecords(trx),
        tags: new KyselyTagRecords(trx),
        workflows: new KyselyWorkflowRecords(trx),
        runs: new KyselyRunRecords(trx),
        runGroups: new KyselyRunGroupRecords(trx),
        variantStores: new KyselyVariantStoreRecords(trx),
        annotationStores: new KyselyAnnotationStoreRecords(trx),
        analyticsFiles: new KyselyAnalyticsFileRecords(trx),
      }),
    ).finally(() => this.changes.bump());
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({
      db: this.db,
      provider: migrationProvider,
      ...(this.schema ? { migrationTableSchema: this.schema } : {}),
    });
    const { error, results } = await migrator.migrateToLatest();
    const failed = results?.find((r) => r.status === 'Error');
    if (error || failed) {
      throw new Error(`database migration ${failed?.migrationName ?? ''} failed: ${String(error)}`);
    }
  }

  async close(): Promise<void> {
    await this.changes.close();
    await this.db.destroy();
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.db);
  }

  async settleDeploymentSetting(name: string, value: string): Promise<string> {
    await this.db.insertInto('deployment_settings').values({ name, value }).onConflict((oc) => oc.column('name').doNothing()).execute();
    const row = await this.db.selectFrom('deployment_settings').select('value').where('name', '=', name).executeTakeFirstOrThrow();
    return row.value;
  }
}
