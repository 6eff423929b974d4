/** ARNs in the service's formats. Pure functions, no I/O. */
export interface Partition {
  partition: string;
  region: string;
}

export function sequenceStoreArn(p: Partition, account: string, storeId: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:sequenceStore/${storeId}`;
}
export function readSetArn(p: Partition, account: string, storeId: string, readSetId: string): string {
  return `${sequenceStoreArn(p, account, storeId)}/readSet/${readSetId}`;
}
export function referenceStoreArn(p: Partition, account: string, storeId: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:referenceStore/${storeId}`;
}
export function referenceArn(p: Partition, account: string, storeId: string, refId: string): string {
  return `${referenceStoreArn(p, account, storeId)}/reference/${refId}`;
}
export function accessPointArn(p: Partition, account: string, name: string): string {
  return `arn:${p.partition}:s3:${p.region}:${account}:accesspoint/${name}`;
}
export function userArn(p: Partition, account: string, userName: string | null): string {
  return userName === null ? `arn:${p.partition}:iam::${account}:root` : `arn:${p.partition}:iam::${account}:user/${userName}`;
}

export interface ParsedArn {
  partition: string;
  service: string;
  region: string;
  account: string;
  resource: string;
}

export function parseArn(arn: string): ParsedArn | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return {
    partition: parts[1]!,
    service: parts[2]!,
    region: parts[3]!,
    account: parts[4]!,
    resource: parts.slice(5).join(':'),
  };
}

export function workflowArn(p: Partition, account: string, id: string, versionName?: string): string {
  const base = `arn:${p.partition}:omics:${p.region}:${account}:workflow/${id}`;
  return versionName ? `${base}/version/${versionName}` : base;
}
export function runArn(p: Partition, account: string, id: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:run/${id}`;
}
export function runGroupArn(p: Partition, account: string, id: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:runGroup/${id}`;
}
export function runCacheArn(p: Partition, account: string, id: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:runCache/${id}`;
}
export function runBatchArn(p: Partition, account: string, id: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:runBatch/${id}`;
}
export function configurationArn(p: Partition, account: string, name: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:configuration/${name}`;
}
/** Analytics stores are named by name in their ARNs (spec analytics §1). */
export function variantStoreArn(p: Partition, account: string, name: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:variantStore/${name}`;
}
export function taskArn(p: Partition, account: string, id: string): string {
  return `arn:${p.partition}:omics:${p.region}:${account}:task/${id}`;
}
