import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthenticationError, OpenOmicsError } from '../../core/errors.js';
import { variantStoreArn } from '../../core/arn.js';
import type { Authenticator } from '../../iam/authenticator.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import { CATALOG, DATABASE, type QueryService } from '../../analytics/queries.js';
import type { QueryExecutionRecord } from '../../analytics/entities.js';
import { handleJsonTarget, int, JsonTargetError, str } from '../json-target.js';

/**
 * An Athena API subset on the server's port (JSON 1.1, `X-Amz-Target: AmazonAthena.<Operation>`, SigV4 service
 * `athena`): StartQueryExecution, GetQueryExecution, GetQueryResults, StopQueryExecution, ListQueryExecutions,
 * ListDataCatalogs, ListDatabases, ListTableMetadata, GetTableMetadata — what `aws athena` and boto3's Athena
 * client need to query the stores (analytics/queries.ts). Other operations answer UnknownOperationException.
 *
 * Authorization: `athena:<Operation>` on the work group's ARN; a query also needs `omics:GetVariantStore` (or
 * `omics:GetAnnotationStore`) on every store it names (in place of Lake Formation's SELECT grant).
 */
export interface AthenaEdgeOptions {
  auth: boolean;
  authenticator: Authenticator;
  identity: IdentityService;
  anonymousPrincipal: Principal;
  queries: QueryService;
  region: string;
  partition: string;
}

const ENGINE = { SelectedEngineVersion: 'AUTO', EffectiveEngineVersion: 'Athena engine version 3' };
const seconds = (ms: number | null) => (ms === null ? undefined : ms / 1000);

function required(b: Record<string, unknown>, k: string): string {
  const v = str(b, k);
  if (!v) throw new JsonTargetError('InvalidRequestException', 400, `${k} is required.`, { AthenaErrorCode: 'INVALID_INPUT' });
  return v;
}

export class AthenaEdge {
  constructor(private readonly o: AthenaEdgeOptions) {}

  handle(req: IncomingMessage, res: ServerResponse, info: { requestId: string; rawPath: string; rawQuery: string; log: Logger }): Promise<void> {
    return handleJsonTarget(
      {
        targetPrefix: 'AmazonAthena',
        service: 'athena',
        auth: this.o.auth,
        authenticator: this.o.authenticator,
        anonymousPrincipal: this.o.anonymousPrincipal,
        call: async (op, principal, body, r) => {
          const workGroup = str(body, 'WorkGroup') ?? 'primary';
          const resource = `arn:${this.o.partition}:athena:${this.o.region}:${principal.accountId}:workgroup/${workGroup}`;
          const context = { 'aws:SourceIp': r.socket.remoteAddress ?? '' };
          await this.o.identity.authorize(principal, `athena:${op}`, resource, context);
          if (op === 'StartQueryExecution') {
            for (const t of await this.o.queries.tablesNamedIn(principal.accountId, str(body, 'QueryString') ?? '')) await this.o.identity.authorize(principal, t.readAction, t.arn, context);
          }
          return this.call(op, principal.accountId, body);
        },
        wireError: (e, log) => this.wireError(e, log),
      },
      req,
      res,
      info,
    );
  }

  private execution(q: QueryExecutionRecord) {
    return {
      QueryExecutionId: q.id,
      Query: q.query,
      StatementType: 'DML',
      ResultConfiguration: q.outputLocation ? { OutputLocation: `${q.outputLocation.replace(/\/?$/, '/')}${q.id}.csv` } : {},
      QueryExecutionContext: { Database: q.database, Catalog: CATALOG },
      Status: {
        State: q.state,
        ...(q.stateChangeReason ? { StateChangeReason: q.stateChangeReason } : {}),
        SubmissionDateTime: seconds(q.submissionTime),
        ...(q.completionTime !== null ? { CompletionDateTime: seconds(q.completionTime) } : {}),
        ...(q.state === 'FAILED' ? { AthenaError: { ErrorCategory: 2, ErrorType: 1001, Retryable: false, ErrorMessage: q.stateChangeReason ?? '' } } : {}),
      },
      Statistics: {
        ...(q.engineMs !== null ? { EngineExecutionTimeInMillis: q.engineMs, TotalExecutionTimeInMillis: (q.completionTime ?? q.submissionTime) - q.submissionTime } : {}),
        ...(q.dataScannedBytes !== null ? { DataScannedInBytes: q.dataScannedBytes } : {}),
        ...(this.o.queries.dataManifestLocation(q) ? { DataManifestLocation: this.o.queries.dataManifestLocation(q) } : {}),
      },
      WorkGroup: q.workGroup,
      EngineVersion: ENGINE,
    };
  }

  private async call(op: string, accountId: string, b: Record<string, unknown>): Promise<unknown> {
    const q = this.o.queries;
    const maxOf = (dflt: number, max: number) => Math.min(max, Math.max(1, int(b, 'MaxResults') ?? dflt));
    switch (op) {
      case 'StartQueryExecution': {
        const context = (b['QueryExecutionContext'] ?? {}) as Record<string, unknown>;
        const result = (b['ResultConfiguration'] ?? {}) as Record<string, unknown>;
        const id = await q.start(accountId, {
          query: required(b, 'QueryString'),
          ...(str(context, 'Database') ? { database: str(context, 'Database')! } : {}),
          ...(str(b, 'WorkGroup') ? { workGroup: str(b, 'WorkGroup')! } : {}),
          ...(str(result, 'OutputLocation') ? { outputLocation: str(result, 'OutputLocation')! } : {}),
        });
        return { QueryExecutionId: id };
      }
      case 'GetQueryExecution':
        return { QueryExecution: this.execution(await q.get(accountId, required(b, 'QueryExecutionId'))) };
      case 'StopQueryExecution':
        await q.stop(accountId, required(b, 'QueryExecutionId'));
        return {};
      case 'ListQueryExecutions': {
        const page = await q.list(accountId, str(b, 'WorkGroup'), maxOf(50, 50), str(b, 'NextToken'));
        return { QueryExecutionIds: page.ids, ...(page.nextToken ? { NextToken: page.nextToken } : {}) };
      }
      case 'GetQueryResults': {
        const page = await q.results(accountId, required(b, 'QueryExecutionId'), maxOf(1000, 1000), str(b, 'NextToken'));
        return {
          UpdateCount: 0,
          ResultSet: {
            Rows: page.rows.map((r) => ({ Data: r.map((v) => (v === null ? {} : { VarCharValue: v })) })),
            ResultSetMetadata: {
              ColumnInfo: page.columns.map((c) => ({ CatalogName: 'hive', SchemaName: '', TableName: '', Name: c.name, Label: c.name, Type: c.type, Precision: 0, Scale: 0, Nullable: 'UNKNOWN', CaseSensitive: c.type === 'varchar' })),
            },
          },
          ...(page.nextToken ? { NextToken: page.nextToken } : {}),
        };
      }
      case 'ListDataCatalogs':
        return { DataCatalogsSummary: [{ CatalogName: CATALOG, Type: 'GLUE' }] };
      case 'ListDatabases':
        this.checkCatalog(b);
        return { DatabaseList: [{ Name: DATABASE, Description: 'The HealthOmics analytics stores of this account' }] };
      case 'ListTableMetadata': {
        this.checkDatabase(b);
        const tables = await q.tables(accountId);
        return { TableMetadataList: tables.map((t) => this.table(accountId, t)) };
      }
      case 'GetTableMetadata': {
        this.checkDatabase(b);
        const name = required(b, 'TableName');
        const t = (await q.tables(accountId)).find((x) => x.name === name);
        if (!t) throw new JsonTargetError('MetadataException', 400, `Table ${name} not found in database ${DATABASE}.`);
        return { TableMetadata: this.table(accountId, t) };
      }
      default:
        throw new JsonTargetError('InvalidRequestException', 400, `OpenOmics serves the Athena operations that query its stores, not ${op}.`, { AthenaErrorCode: 'INVALID_INPUT' });
    }
  }

  private table(accountId: string, t: { name: string; columns: [string, string][]; creationTime: number }) {
    return {
      Name: t.name,
      CreateTime: t.creationTime / 1000,
      TableType: 'EXTERNAL_TABLE',
      Columns: t.columns.map(([Name, Type]) => ({ Name, Type })),
      PartitionKeys: [],
      Parameters: { classification: 'parquet', storeArn: variantStoreArn({ partition: this.o.partition, region: this.o.region }, accountId, t.name) },
    };
  }

  private checkCatalog(b: Record<string, unknown>): void {
    const catalog = required(b, 'CatalogName');
    if (catalog.toLowerCase() !== CATALOG) throw new JsonTargetError('MetadataException', 400, `Catalog ${catalog} not found; the stores are in ${CATALOG}.`);
  }

  private checkDatabase(b: Record<string, unknown>): void {
    this.checkCatalog(b);
    const db = required(b, 'DatabaseName');
    if (db.toLowerCase() !== DATABASE) throw new JsonTargetError('MetadataException', 400, `Database ${db} not found; the stores are tables of ${DATABASE}.`);
  }

  private wireError(e: unknown, log: Logger): JsonTargetError {
    if (e instanceof JsonTargetError) return e;
    if (e instanceof AuthenticationError) return new JsonTargetError(e.code, 403, e.message);
    if (e instanceof OpenOmicsError) {
      if (e.kind === 'AccessDenied') return new JsonTargetError('AccessDeniedException', 400, e.message);
      if (e.kind === 'NotFound') return new JsonTargetError('InvalidRequestException', 400, e.message, { AthenaErrorCode: 'INVALID_INPUT' });
      if (e.kind === 'Validation' || e.kind === 'PayloadTooLarge') return new JsonTargetError('InvalidRequestException', 400, e.message, { AthenaErrorCode: 'INVALID_INPUT' });
    }
    log.error({ err: e }, 'athena request failed');
    return new JsonTargetError('InternalServerException', 500, 'An internal error occurred.');
  }
}
