/** The Share entity, common to workflows and analytics stores (spec analytics §2.6). */
export type ShareStatus = 'PENDING' | 'ACTIVATING' | 'ACTIVE' | 'DELETING' | 'DELETED' | 'FAILED';
export type ShareResourceType = 'VARIANT_STORE' | 'ANNOTATION_STORE' | 'WORKFLOW';

/** A resource shared by its owner with another account: an analytics store (spec analytics §2.6, §4.5) or a workflow (spec workflows §4.15). */
export interface ShareRecord {
  /** Two 32-hex-digit halves joined by '-'. */
  id: string;
  ownerId: string;
  subscriberId: string;
  resourceArn: string;
  resourceType: ShareResourceType;
  /** The shared resource's id. */
  resourceId: string;
  /** The shared resource's name (a store's table name for the subscriber). */
  resourceName: string;
  name: string | null;
  status: ShareStatus;
  statusMessage: string | null;
  creationTime: number;
  updateTime: number;
}
