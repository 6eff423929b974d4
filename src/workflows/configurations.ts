import { randomUUID } from 'node:crypto';
import { configurationArn } from '../core/arn.js';
import { ConflictError, NotFoundError, ValidationError } from '../core/errors.js';
import type { Page } from '../core/pagination.js';
import type { PageRequest } from '../db/query.js';
import type { DomainDeps } from '../storage/context.js';
import { idempotent } from '../storage/idempotency.js';
import { checkNewTags } from '../storage/tags.js';
import type { ConfigurationRecord } from './entities.js';

export interface ConfigurationView extends ConfigurationRecord {
  arn: string;
}

/** Configurations an account may keep (not stated by the service; decision 73). */
const MAX_CONFIGURATIONS = 100;

/**
 * Configurations (spec workflows §2.10). In HealthOmics a configuration names the VPC subnets and security groups a
 * run started with networkingMode VPC reaches. A self-hosted install has no VPC: here a VPC-mode run's tasks join
 * the deployment's task network (`workflows.vpcNetwork`, the container runtime's default bridge network unless set)
 * instead of no network at all; the subnet and security group ids are validated, kept and returned as given, and
 * change nothing (decision 73, docs/workflows.md).
 */
export class ConfigurationService {
  constructor(private readonly d: DomainDeps) {}

  view(c: ConfigurationRecord): ConfigurationView {
    return { ...c, arn: configurationArn(this.d.partition, c.accountId, c.name) };
  }

  async create(
    accountId: string,
    i: { name: string; description?: string; runConfigurations: { vpcConfig?: { securityGroupIds?: string[]; subnetIds?: string[] } }; tags?: Record<string, string>; requestId: string },
  ): Promise<ConfigurationView> {
    checkNewTags(i.tags, this.d.quotas.maxTagsPerResource);
    const vpc = i.runConfigurations.vpcConfig;
    if (!vpc) throw new ValidationError('runConfigurations.vpcConfig is required.');
    const { resourceId } = await idempotent(this.d.db, accountId, 'CreateConfiguration', i.requestId, { ...i, requestId: undefined }, this.d.now(), async () => {
      if (await this.d.db.configurations.get(accountId, i.name)) throw new ConflictError(`A configuration named ${i.name} already exists.`);
      if ((await this.d.db.configurations.list(accountId, { maxResults: MAX_CONFIGURATIONS })).items.length >= MAX_CONFIGURATIONS) {
        throw new ConflictError(`The account has ${MAX_CONFIGURATIONS} configurations, the most it may.`);
      }
      const rec: ConfigurationRecord = {
        accountId,
        name: i.name,
        uuid: randomUUID(),
        description: i.description ?? null,
        securityGroupIds: vpc.securityGroupIds ?? [],
        subnetIds: vpc.subnetIds ?? [],
        status: 'ACTIVE',
        creationTime: this.d.now(),
      };
      await this.d.db.configurations.insert(rec);
      if (i.tags && Object.keys(i.tags).length) await this.d.db.tags.put(this.view(rec).arn, i.tags);
      return rec.name;
    });
    return this.get(accountId, resourceId);
  }

  async get(accountId: string, name: string): Promise<ConfigurationView> {
    const c = await this.d.db.configurations.get(accountId, name);
    if (!c) throw new NotFoundError(`Configuration ${name} not found.`);
    return this.view(c);
  }

  /** Refused while a run that uses it has not ended. */
  async delete(accountId: string, name: string): Promise<void> {
    const c = await this.get(accountId, name);
    const active = (await this.d.db.runs.list(accountId, { configurationName: name, active: true }, { maxResults: 1 })).items.length;
    if (active) throw new ConflictError(`Configuration ${name} is used by a run that has not ended.`);
    await this.d.db.configurations.delete(accountId, name);
    await this.d.db.tags.deleteAll(c.arn);
  }

  async list(accountId: string, page: PageRequest): Promise<Page<ConfigurationView>> {
    const res = await this.d.db.configurations.list(accountId, page);
    return { items: res.items.map((c) => this.view(c)), ...(res.nextToken ? { nextToken: res.nextToken } : {}) };
  }
}
