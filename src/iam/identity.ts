import { userArn, type Partition } from '../core/arn.js';
import { AccessDeniedError, AuthenticationError, NotFoundError, ValidationError } from '../core/errors.js';
import { newAccessKeyId, newSecretAccessKey } from '../core/ids.js';
import type { MetadataStore } from '../db/metadata-store.js';
import type { SecretBox } from '../keys/secret-box.js';
import { GenerationCache } from '../core/bounded-cache.js';
import { evaluate, parsePolicy, type PolicyDocument, type RequestContext } from './policy.js';

/** Who made a request, once authenticated. */
export interface Principal {
  accountId: string;
  userName: string | null; // null: the account's root
  arn: string;
  accessKeyId: string;
}

interface CachedKey {
  principal: Principal;
  secret: string;
  active: boolean;
  policies: PolicyDocument[];
}
const USER_NAME = /^[\w+=,.@-]{1,64}$/;
const POLICY_NAME = /^[\w+=,.@-]{1,128}$/;
const ACCOUNT_ID = /^\d{12}$/;

/**
 * Accounts, users, access keys and identity policies. Secrets are stored
 * sealed by the SecretBox and only opened in memory to verify signatures.
 * Lookups are cached while the metadata's change generation stands, so a
 * revoked key or a changed policy takes effect on every process at once.
 */
export class IdentityService {
  /** Keys as loaded, trusted while the metadata's change generation stands (any write to an identity table moves it). */
  private readonly keys = new GenerationCache<string, CachedKey | undefined>(() => this.db.generation());

  constructor(
    private readonly db: MetadataStore,
    private readonly secrets: SecretBox,
    private readonly partition: Partition,
    private readonly now: () => number = Date.now,
  ) {}

  private sealContext(accessKeyId: string) {
    return `access-key:${accessKeyId}`;
  }

  /** The principal and secret for an access key id, or an UnrecognizedClient error. */
  async lookup(accessKeyId: string): Promise<{ principal: Principal; secret: string }> {
    const k = await this.load(accessKeyId);
    return { principal: k.principal, secret: k.secret };
  }

  private async load(accessKeyId: string): Promise<CachedKey> {
    const entry = await this.keys.get(accessKeyId, () => this.read(accessKeyId));
    if (!entry?.active) throw unrecognized();
    return entry;
  }

  private async read(accessKeyId: string): Promise<CachedKey | undefined> {
    const rec = await this.db.identity.getAccessKey(accessKeyId);
    if (!rec) return undefined;
    const policies =
      rec.userName === null
        ? []
        : (await this.db.identity.listUserPolicies(rec.accountId, rec.userName)).map((p) => parsePolicy(p.document));
    return {
      principal: {
        accountId: rec.accountId,
        userName: rec.userName,
        arn: userArn(this.partition, rec.accountId, rec.userName),
        accessKeyId,
      },
      secret: this.secrets.open(rec.secretEnc, this.sealContext(accessKeyId)),
      active: rec.status === 'Active',
      policies,
    };
  }

  /**
   * Identity-policy authorization. The root principal may do everything in
   * its own account; a user needs an Allow and no explicit Deny.
   */
  async authorize(principal: Principal, action: string, resource: string, context: RequestContext): Promise<void> {
    if (principal.userName === null) return;
    const { policies } = await this.load(principal.accessKeyId);
    const ctx: RequestContext = {
      'aws:username': principal.userName,
      'aws:userid': principal.accessKeyId,
      'aws:PrincipalArn': principal.arn,
      'aws:PrincipalAccount': principal.accountId,
      'aws:PrincipalType': 'User',
      'aws:CurrentTime': new Date(this.now()).toISOString(),
      'aws:EpochTime': String(Math.floor(this.now() / 1000)),
      ...context,
    };
    const { decision } = evaluate(policies, { action, resource, context: ctx });
    if (decision === 'Allow') return;
    const why = decision === 'ExplicitDeny' ? 'with an explicit deny in an identity-based policy' : 'because no identity-based policy allows the ' + action + ' action';
    throw new AccessDeniedError(`User: ${principal.arn} is not authorized to perform: ${action} on resource: ${resource} ${why}`);
  }

  // ---- administration (used by `openomics admin` and at first start)

  async ensureAccount(accountId: string, name: string): Promise<void> {
    if (!ACCOUNT_ID.test(accountId)) throw new ValidationError('An account id is 12 digits.');
    await this.db.identity.ensureAccount(accountId, name, this.now());
  }

  async createAccessKey(accountId: string, userName: string | null): Promise<{ accessKeyId: string; secretAccessKey: string }> {
    if (!(await this.db.identity.accountExists(accountId))) throw new NotFoundError(`account ${accountId} does not exist`);
    if (userName !== null && !(await this.db.identity.userExists(accountId, userName))) {
      throw new NotFoundError(`user ${userName} does not exist in account ${accountId}`);
    }
    const accessKeyId = newAccessKeyId();
    const secretAccessKey = newSecretAccessKey();
    await this.db.identity.putAccessKey({
      accessKeyId,
      accountId,
      userName,
      secretEnc: this.secrets.seal(secretAccessKey, this.sealContext(accessKeyId)),
      status: 'Active',
      createdAt: this.now(),
    });
    return { accessKeyId, secretAccessKey };
  }

  async createUser(accountId: string, userName: string): Promise<string> {
    if (!USER_NAME.test(userName)) throw new ValidationError('A user name is 1-64 characters of letters, digits and +=,.@_-');
    if (!(await this.db.identity.accountExists(accountId))) throw new NotFoundError(`account ${accountId} does not exist`);
    if (!(await this.db.identity.createUser(accountId, userName, this.now()))) throw new ValidationError(`user ${userName} already exists`);
    return userArn(this.partition, accountId, userName);
  }

  async deleteUser(accountId: string, userName: string): Promise<void> {
    if (!(await this.db.identity.userExists(accountId, userName))) throw new NotFoundError(`user ${userName} does not exist`);
    await this.db.identity.deleteUser(accountId, userName);
  }

  async putUserPolicy(accountId: string, userName: string, policyName: string, document: string): Promise<void> {
    if (!POLICY_NAME.test(policyName)) throw new ValidationError('A policy name is 1-128 characters of letters, digits and +=,.@_-');
    if (!(await this.db.identity.userExists(accountId, userName))) throw new NotFoundError(`user ${userName} does not exist`);
    parsePolicy(document);
    await this.db.identity.putUserPolicy(accountId, userName, policyName, document);
  }

  async deleteUserPolicy(accountId: string, userName: string, policyName: string): Promise<void> {
    if (!(await this.db.identity.deleteUserPolicy(accountId, userName, policyName))) throw new NotFoundError(`policy ${policyName} not found`);
  }

  async setAccessKeyStatus(accessKeyId: string, status: 'Active' | 'Inactive'): Promise<void> {
    if (!(await this.db.identity.setAccessKeyStatus(accessKeyId, status))) throw new NotFoundError(`access key ${accessKeyId} not found`);
  }

  async deleteAccessKey(accessKeyId: string): Promise<void> {
    if (!(await this.db.identity.deleteAccessKey(accessKeyId))) throw new NotFoundError(`access key ${accessKeyId} not found`);
  }
}

function unrecognized(): AuthenticationError {
  return new AuthenticationError('UnrecognizedClientException', 'The security token included in the request is invalid.');
}
