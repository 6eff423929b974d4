import type { Db } from './rows.js';

/** The `tags` table: tags by resource ARN (stores, read sets, references, uploads' set-level tags). */
export interface TagRecords {
  put(resourceArn: string, tags: Record<string, string>): Promise<void>;
  remove(resourceArn: string, keys: string[]): Promise<void>;
  list(resourceArn: string): Promise<Record<string, string>>;
  deleteAll(resourceArn: string): Promise<void>;
}

export class KyselyTagRecords implements TagRecords {
  constructor(private readonly db: Db) {}

  async put(resourceArn: string, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags);
    if (entries.length === 0) return;
    await this.db
      .insertInto('tags')
      .values(entries.map(([k, v]) => ({ resource_arn: resourceArn, tag_key: k, tag_value: v })))
      .onConflict((oc) => oc.columns(['resource_arn', 'tag_key']).doUpdateSet((eb) => ({ tag_value: eb.ref('excluded.tag_value') })))
      .execute();
  }
  async remove(resourceArn: string, keys: string[]): Promise<void> {
    if (keys.length === 0) return;
    await this.db.deleteFrom('tags').where('resource_arn', '=', resourceArn).where('tag_key', 'in', keys).execute();
  }
  async list(resourceArn: string): Promise<Record<string, string>> {
    const found = await this.db.selectFrom('tags').select(['tag_key', 'tag_value']).where('resource_arn', '=', resourceArn).orderBy('tag_key').execute();
    return Object.fromEntries(found.map((r) => [r.tag_key, r.tag_value]));
  }
  async deleteAll(resourceArn: string): Promise<void> {
    await this.db.deleteFrom('tags').where('resource_arn', '=', resourceArn).execute();
  }
}
