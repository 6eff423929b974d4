import { AccessDeniedError } from '../core/errors.js';
import type { Partition } from '../core/arn.js';
import type { SequenceStoreRecord } from './entities.js';
import type { IdentityService, Principal } from '../iam/identity.js';
import { storePolicyDecision } from './s3-access-policy.js';
import { NoSuchKeyError, type ObjectTarget, type S3ViewService } from './s3-view.js';

/**
 * Who may do what through the S3 view (spec §3.3). All three must allow: the store's S3 access policy (the
 * default one lets the owner's root read), the caller's identity policy (implicit for an account's root; an IAM
 * user needs one naming the action on the access point or object ARN), and for object reads `kms:Decrypt` on
 * the store's key. The S3 edge names the operation and asks here; it decides nothing itself.
 */
export class S3Authorizer {
  constructor(
    private readonly identity: IdentityService,
    private readonly view: S3ViewService,
    private readonly partition: Partition,
  ) {}

  async authorize(principal: Principal, store: SequenceStoreRecord, action: string, resource: string, context: Record<string, string>): Promise<void> {
    const ctx = { 's3:DataAccessPointArn': this.view.accessPointArn(store), 's3:DataAccessPointAccount': store.accountId, ...context };
    const decision = storePolicyDecision(store, this.partition, principal, action, resource, ctx);
    if (decision !== 'Allow') {
      throw new AccessDeniedError(`the store's S3 access policy ${decision === 'ExplicitDeny' ? 'denies' : 'does not allow'} ${action} on ${resource} for ${principal.arn}`);
    }
    if (principal.userName === null) return;
    await this.identity.authorize(principal, action, resource, ctx);
    if (action === 's3:GetObject' && store.sseKeyArn) await this.identity.authorize(principal, 'kms:Decrypt', store.sseKeyArn, {});
  }

  /** `s3:ListBucket` on the store's access point (listing, HeadBucket, GetBucketLocation). */
  authorizeBucket(principal: Principal, store: SequenceStoreRecord, context: Record<string, string> = {}): Promise<void> {
    return this.authorize(principal, store, 's3:ListBucket', this.view.accessPointArn(store), context);
  }

  /**
   * An object read (`s3:GetObject` or `s3:GetObjectTagging`): the object and its tags once allowed. A missing
   * key is NoSuchKey only to a principal that may list the bucket (who could see it is missing anyway); anyone
   * else gets AccessDenied, as for a key it may not read, so the answers say nothing of what exists.
   */
  async readObject(
    principal: Principal,
    store: SequenceStoreRecord,
    key: string,
    action: 's3:GetObject' | 's3:GetObjectTagging',
    signatureVersion: string,
  ): Promise<{ target: ObjectTarget; tags: Record<string, string> }> {
    const target = await this.view.target(store, key).catch(async (err: unknown) => {
      if (err instanceof NoSuchKeyError) await this.authorizeBucket(principal, store, { 's3:prefix': key, 's3:signatureversion': signatureVersion });
      throw err;
    });
    // Object tags feed s3:ExistingObjectTag conditions: looked up only when a policy could use them.
    const needTags = action === 's3:GetObjectTagging' || principal.userName !== null || (store.s3AccessPolicy ?? '').includes('ExistingObjectTag');
    const tags = needTags ? await this.view.tags(target) : {};
    const context: Record<string, string> = { 's3:signatureversion': signatureVersion };
    for (const [k, v] of Object.entries(tags)) context[`s3:ExistingObjectTag/${k}`] = v;
    await this.authorize(principal, store, action, this.view.objectArn(store, key), context);
    return { target, tags };
  }
}
