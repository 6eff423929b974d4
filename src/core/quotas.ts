/** Per-account limits of the storage service (the real service's defaults). */
export interface Quotas {
  maxSequenceStores: number;
  maxReferenceStores: number;
  maxPropagatedSetLevelTags: number;
  maxTagsPerResource: number;
}

export const DEFAULT_QUOTAS: Quotas = {
  maxSequenceStores: 20,
  maxReferenceStores: 1,
  maxPropagatedSetLevelTags: 5,
  maxTagsPerResource: 50,
};
