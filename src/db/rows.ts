import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Row mapping, written once per table: a record's fields each name their column and how the value is kept
 * (as is, a number, JSON text). Reads, inserts and partial updates all go through the same table of columns,
 * so a field added to a record and not to its table, or a misspelt column, fails to compile.
 */
export type Db = Kysely<Database> | Transaction<Database>;

export interface ColumnCodec<Row> {
  column: keyof Row & string;
  read(v: unknown): unknown;
  write(v: unknown): unknown;
}

/** Kept as it is. */
export const col = <Row>(column: keyof Row & string): ColumnCodec<Row> => ({ column, read: (v) => v, write: (v) => v });
/** A number (PostgreSQL's int8 may arrive as text from some drivers); null stays null. */
export const num = <Row>(column: keyof Row & string): ColumnCodec<Row> => ({ column, read: (v) => (v === null ? null : Number(v)), write: (v) => v });
/** A nested value kept as JSON text; null stays null. */
export const json = <Row>(column: keyof Row & string): ColumnCodec<Row> => ({
  column,
  read: (v) => (v === null ? null : (JSON.parse(v as string) as unknown)),
  write: (v) => (v === null ? null : JSON.stringify(v)),
});

export interface RowMapping<Rec, Row> {
  fromRow(row: Row): Rec;
  /** The columns of the fields `rec` defines (undefined fields are left out: a patch). */
  toRow(rec: Partial<Rec>): Partial<Row>;
  /** Every column: an insert. */
  toFullRow(rec: Rec): Row;
}

export function rowMapping<Rec extends object, Row extends object>(columns: { [K in keyof Rec]-?: ColumnCodec<Row> }): RowMapping<Rec, Row> {
  const entries = Object.entries(columns) as [string, ColumnCodec<Row>][];
  const toRow = (rec: Partial<Rec>): Partial<Row> => {
    const row: Record<string, unknown> = {};
    for (const [field, c] of entries) {
      const v = (rec as Record<string, unknown>)[field];
      if (v !== undefined) row[c.column] = c.write(v);
    }
    return row as Partial<Row>;
  };
  return {
    fromRow(row) {
      const rec: Record<string, unknown> = {};
      for (const [field, c] of entries) {
        const v = c.read((row as Record<string, unknown>)[c.column]);
        if (v !== undefined) rec[field] = v;
      }
      return rec as Rec;
    },
    toRow,
    toFullRow: (rec) => toRow(rec) as Row,
  };
}

/** Rows of `table` whose `column` is `value`. */
export async function countWhere(db: Db, table: keyof Database, column: string, value: string): Promise<number> {
  const r = await db
    .selectFrom(table)
    .select((eb) => eb.fn.countAll<number | string>().as('n'))
    .where(sql.ref(column), '=', value)
    .executeTakeFirstOrThrow();
  return Number(r.n);
}

