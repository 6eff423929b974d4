import { accessPointArn, parseArn } from '../core/arn.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { SequenceStoreRecord } from './entities.js';
import { evaluate, parsePolicy, wildcardMatch, type Decision, type PolicyDocument, type RequestContext, type Statement } from '../iam/policy.js';
import type { Principal } from '../iam/identity.js';
import type { DomainDeps } from './context.js';
import { getOrAdd } from '../core/bounded-cache.js';

/**
 * A sequence store's S3 access policy (spec §3.3-§3.4): the resource policy of
 * its access point. Every S3 read needs an Allow here (and nothing denying),
 * plus the caller's identity policy and kms:Decrypt (s3 edge).
 */
export const MAX_S3_ACCESS_POLICY_BYTES = 15 * 1024;
const ELEMENTS = new Set(['Sid', 'Effect', 'Principal', 'Action', 'Resource', 'Condition']);
const OPERATORS_FOR_PRINCIPAL_ARN = new Set(['ArnEquals', 'ArnLike']);

/** The policy every new store gets: its owner's root may list the access point and read its objects. */
export function defaultS3AccessPolicy(partition: { partition: string; region: string }, store: SequenceStoreRecord): string {
  const ap = accessPointArn(partition, store.accountId, store.accessPointName);
  const prefix = `${store.accountId}/sequenceStore/${store.id}/`;
  const root = `arn:${partition.partition}:iam::${store.accountId}:root`;
  return JSON.stringify({
    Version: '2012-10-17',
    Statement: [
      { Sid: 'OwnerRead', Effect: 'Allow', Principal: { AWS: root }, Action: ['s3:GetObject', 's3:GetObjectTagging'], Resource: `${ap}/object/${prefix}*` },
      // The service's default limits s3:prefix to the store prefix; every key of the access point is under it
      // anyway, so the owner may also list from the top (what s3fs and `aws s3 ls s3://<alias>/` do).
      { Sid: 'OwnerList', Effect: 'Allow', Principal: { AWS: root }, Action: 's3:ListBucket', Resource: ap },
    ],
  });
}

const asList = (v: unknown): string[] => (v === undefined ? [] : Array.isArray(v) ? v.map(String) : [String(v)]);

/** Checks a policy against the restricted grammar; each refusal names what is not allowed. */
export function checkS3AccessPolicy(text: string, apArn: string): PolicyDocument {
  if (Buffer.byteLength(text) > MAX_S3_ACCESS_POLICY_BYTES) {
    throw new ValidationError(`The S3 access policy is ${Buffer.byteLength(text)} bytes; the limit is ${MAX_S3_ACCESS_POLICY_BYTES}.`);
  }
  const doc = parsePolicy(text, { requirePrincipal: true });
  doc.Statement.forEach((s, i) => {
    for (const k of Object.keys(s)) if (!ELEMENTS.has(k)) throw new ValidationError(`Statement ${i}: the element ${k} is not supported in an S3 access policy.`);
    if (s.Action === undefined || s.Resource === undefined || s.Principal === undefined) throw new ValidationError(`Statement ${i} needs Principal, Action and Resource.`);
    for (const a of asList(s.Action)) {
      if (!/^s3:/i.test(a)) throw new ValidationError(`Statement ${i}: the action ${a} is not an S3 action.`);
      if (!['s3:GetObject', 's3:GetObjectTagging', 's3:ListBucket'].some((allowed) => wildcardMatch(a, allowed, true))) {
        throw new ValidationError(`Statement ${i}: the action ${a} grants nothing an S3 access policy may grant (s3:GetObject, s3:GetObjectTagging, s3:ListBucket).`);
      }
    }
    for (const r of asList(s.Resource)) {
      if (r !== apArn && r !== `${apArn}*` && !r.startsWith(`${apArn}/`)) throw new ValidationError(`Statement ${i}: the resource ${r} is outside this store's access point ${apArn}.`);
    }
    const p = s.Principal as unknown;
    const principals = p === '*' ? ['*'] : typeof p === 'object' && p !== null && Object.keys(p).length === 1 && 'AWS' in p ? asList((p as { AWS: unknown }).AWS) : undefined;
    if (!principals) throw new ValidationError(`Statement ${i}: Principal must be "*" or {"AWS": ...}.`);
    for (const pr of principals) {
      if (pr !== '*' && !/^\d{12}$/.test(pr) && !/^arn:[^:]+:iam::\d{12}:(root|user\/.+|role\/.+)$/.test(pr)) {
        throw new ValidationError(`Statement ${i}: ${pr} is not an account id or IAM principal ARN.`);
      }
    }
    for (const [op, block] of Object.entries(s.Condition ?? {})) {
      for (const key of Object.keys(block)) {
        const k = key.toLowerCase();
        if (k === 'aws:principalarn') {
          if (!OPERATORS_FOR_PRINCIPAL_ARN.has(op)) throw new ValidationError(`Statement ${i}: aws:PrincipalArn can only be used with ArnEquals or ArnLike, not ${op}.`);
        } else if (!(k.startsWith('s3:existingobjecttag/') || k === 's3:prefix' || k === 's3:signatureversion' || k === 's3:tlsversion')) {
          throw new ValidationError(`Statement ${i}: the condition key ${key} is not supported in an S3 access policy.`);
        }
      }
    }
  });
  return doc;
}

function principalMatches(s: Statement, who: Principal, partition: string): boolean {
  const p = s.Principal as unknown;
  const list = p === '*' ? ['*'] : asList((p as { AWS?: unknown }).AWS);
  return list.some(
    (x) => x === '*' || x === who.arn || x === who.accountId || x === `arn:${partition}:iam::${who.accountId}:root`,
  );
}

/** Parsed policies by their text (parsing is pure; every S3 request evaluates its store's policy). */
const parsedPolicies = new Map<string, PolicyDocument>();
const parsedStorePolicy = (text: string) => getOrAdd(parsedPolicies, text, 1000, () => parsePolicy(text, { requirePrincipal: true }));
/** The default policies, by store (each a function of the store's account, id and access point alone). */
const defaultPolicies = new Map<string, PolicyDocument>();
const defaultStorePolicy = (partition: { partition: string; region: string }, store: SequenceStoreRecord) =>
  getOrAdd(defaultPolicies, `${partition.partition}/${store.accountId}/${store.id}/${store.accessPointName}`, 1000, () => parsePolicy(defaultS3AccessPolicy(partition, store), { requirePrincipal: true }));

/** The store policy's decision for one request. */
export function storePolicyDecision(store: SequenceStoreRecord, partition: { partition: string; region: string }, who: Principal, action: string, resource: string, context: RequestContext): Decision {
  if (store.s3AccessPolicy === '') return 'ImplicitDeny';
  const doc = store.s3AccessPolicy === null ? defaultStorePolicy(partition, store) : parsedStorePolicy(store.s3AccessPolicy);
  const mine = { ...doc, Statement: doc.Statement.filter((s) => principalMatches(s, who, partition.partition)) };
  return evaluate([mine], { action, resource, context: { 'aws:PrincipalArn': who.arn, ...context } }).decision;
}

/** Put/Get/DeleteS3AccessPolicy, addressed by access point ARN. */
export class S3AccessPolicyService {
  constructor(private readonly d: DomainDeps) {}

  private async store(accountId: string, apArn: string): Promise<SequenceStoreRecord> {
    const p = parseArn(apArn);
    const name = p && p.service === 's3' ? /^accesspoint\/(.+)$/.exec(p.resource)?.[1] : undefined;
    const store = name ? await this.d.db.sequenceStores.getByAccessPoint(name) : undefined;
    if (!store || store.accountId !== accountId || accessPointArn(this.d.partition, store.accountId, store.accessPointName) !== apArn) {
      throw new NotFoundError(`No store has the access point ${apArn}.`);
    }
    return store;
  }

  async put(accountId: string, apArn: string, policy: string): Promise<{ storeId: string }> {
    const store = await this.store(accountId, apArn);
    checkS3AccessPolicy(policy, apArn);
    const now = this.d.now();
    await this.d.db.sequenceStores.update(accountId, store.id, { updateTime: store.updateTime, s3AccessPolicy: policy, s3AccessPolicyTime: now });
    return { storeId: store.id };
  }

  async get(accountId: string, apArn: string): Promise<{ storeId: string; policy: string; updateTime: number }> {
    const store = await this.store(accountId, apArn);
    if (store.s3AccessPolicy === '') throw new NotFoundError(`The access point ${apArn} has no S3 access policy.`);
    return { storeId: store.id, policy: store.s3AccessPolicy ?? defaultS3AccessPolicy(this.d.partition, store), updateTime: store.s3AccessPolicyTime ?? store.creationTime };
  }

  async delete(accountId: string, apArn: string): Promise<void> {
    const store = await this.store(accountId, apArn);
    if (store.s3AccessPolicy === '') throw new NotFoundError(`The access point ${apArn} has no S3 access policy.`);
    await this.d.db.sequenceStores.update(accountId, store.id, { updateTime: store.updateTime, s3AccessPolicy: '', s3AccessPolicyTime: this.d.now() });
  }
}
