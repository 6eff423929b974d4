import { sql, type SelectQueryBuilder } from 'kysely';
import type { Database } from './schema.js';
import { encodeNextToken, type PageCursor, type Page } from '../core/pagination.js';

export interface PageRequest {
  maxResults: number;
  nextToken?: string;
}

export interface TimeRange {
  after?: number;
  before?: number;
}

/** Filters a time column to an inclusive range. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function inRange<QB extends SelectQueryBuilder<Database, any, any>>(query: QB, column: string, range: TimeRange | undefined): QB {
  let q = query;
  if (range?.after !== undefined) q = q.where(sql.ref(column), '>=', range.after) as QB;
  if (range?.before !== undefined) q = q.where(sql.ref(column), '<=', range.before) as QB;
  return q;
}

/** Orders by (creation_time, id), resumes after the cursor, and fetches one extra row to know if more follow. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function keyset<QB extends SelectQueryBuilder<Database, any, any>>(query: QB, cursor: PageCursor | undefined, maxResults: number): QB {
  let q = query;
  if (cursor) {
    // A row-value comparison: PostgreSQL and SQLite both turn it into one index range scan
    // (the OR form made PostgreSQL filter rows one by one on deep pages).
    q = q.where(sql<boolean>`(creation_time, id) > (${cursor.t}, ${cursor.id})`) as QB;
  }
  return q.orderBy(sql.ref('creation_time')).orderBy(sql.ref('id')).limit(maxResults + 1) as QB;
}

/** Keyset pagination over (creation_time, id): stable under inserts and deletes. */
export function pageOf<T extends { creationTime: number; id: string }>(rows: T[], maxResults: number): Page<T> {
  if (rows.length <= maxResults) return { items: rows };
  const items = rows.slice(0, maxResults);
  const last = items[items.length - 1]!;
  return { items, nextToken: encodeNextToken({ t: last.creationTime, id: last.id }) };
}

