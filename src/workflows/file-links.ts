import { createHmac, timingSafeEqual } from 'node:crypto';
import type { MetadataStore } from '../db/metadata-store.js';
import type { KeyProvider } from '../keys/key-provider.js';

/** Which stored file of a workflow (or version) a link opens. */
export type WorkflowFile = 'DEFINITION' | 'README';

export interface WorkflowFileRef {
  accountId: string;
  id: string;
  versionName: string;
  file: WorkflowFile;
}

/** How long a link works (as a presigned S3 URL of the real service would). */
export const LINK_LIFETIME_MS = 15 * 60 * 1000;

/**
 * Presigned links to a workflow's README and definition (GetWorkflow `readme`, `export=DEFINITION`): a token that
 * names the file and its expiry, signed with a key every process of the deployment shares (a data key of the key
 * provider, recorded wrapped in the deployment settings by the first process and unwrapped by each).
 */
export class WorkflowFileLinks {
  private key?: Promise<Buffer>;

  constructor(
    private readonly db: MetadataStore,
    private readonly keys: KeyProvider,
  ) {}

  private signingKey(): Promise<Buffer> {
    this.key ??= (async () => {
      const proposed = await this.keys.generateDataKey(this.keys.defaultKeyArn());
      const wrapped = await this.db.settleDeploymentSetting('workflow-file-link-key', proposed.wrapped);
      return this.keys.unwrap(wrapped);
    })();
    this.key.catch(() => (this.key = undefined));
    return this.key;
  }

  private async mac(payload: string): Promise<string> {
    return createHmac('sha256', await this.signingKey()).update(payload).digest('base64url').slice(0, 32);
  }

  /** `<account>.<id>.<d|r>.<expiry seconds>.<version>.<mac>` (version names have no dots' meaning here: it is last but one). */
  async sign(ref: WorkflowFileRef, now: number): Promise<string> {
    const payload = [ref.accountId, ref.id, ref.file === 'DEFINITION' ? 'd' : 'r', Math.floor((now + LINK_LIFETIME_MS) / 1000), encodeURIComponent(ref.versionName)].join('.');
    return `${payload}.${await this.mac(payload)}`;
  }

  /** The file a token names, or why not (a bad signature, an expired link). */
  async verify(token: string, now: number): Promise<WorkflowFileRef | 'invalid' | 'expired'> {
    const cut = token.lastIndexOf('.');
    if (cut < 0) return 'invalid';
    const payload = token.slice(0, cut);
    const given = Buffer.from(token.slice(cut + 1));
    const want = Buffer.from(await this.mac(payload));
    if (given.length !== want.length || !timingSafeEqual(given, want)) return 'invalid';
    const m = /^(\d{12})\.(\d+)\.([dr])\.(\d+)\.(.*)$/.exec(payload);
    if (!m) return 'invalid';
    if (Number(m[4]) * 1000 < now) return 'expired';
    return { accountId: m[1]!, id: m[2]!, file: m[3] === 'd' ? 'DEFINITION' : 'README', versionName: decodeURIComponent(m[5]!) };
  }
}
