/** Per-account limits of the storage and workflow services (the real service's defaults). */
export interface Quotas {
  maxSequenceStores: number;
  maxReferenceStores: number;
  maxPropagatedSetLevelTags: number;
  maxTagsPerResource: number;
  /** Private workflows, and versions of one workflow (spec workflows §6.2). */
  maxWorkflows: number;
  maxWorkflowVersions: number;
  /** Runs kept with retention mode RETAIN (spec workflows §4.10). */
  maxRetainedRuns: number;
  /** Run groups of an account (spec workflows §5.2). */
  maxRunGroups: number;
  /** Variant stores, and variant and annotation import jobs running at once (spec analytics §5). */
  maxVariantStores: number;
  maxAnnotationStores: number;
  maxAnnotationStoreVersions: number;
  maxConcurrentAnalyticsImports: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  maxSequenceStores: 20,
  maxReferenceStores: 1,
  maxPropagatedSetLevelTags: 5,
  maxTagsPerResource: 50,
  maxWorkflows: 1000,
  maxWorkflowVersions: 1000,
  maxRetainedRuns: 5000,
  maxRunGroups: 1000,
  maxVariantStores: 10,
  maxAnnotationStores: 10,
  maxAnnotationStoreVersions: 10,
  maxConcurrentAnalyticsImports: 5,
};
