import type { ReadSetRecord, ReferenceRecord } from '../../src/storage/entities.js';

/** A complete read-set row for metadata-store tests. */
export function readSetRecord(o: Partial<ReadSetRecord> & Pick<ReadSetRecord, 'id' | 'sequenceStoreId'>): ReadSetRecord {
  return {
    accountId: '111111111111',
    status: 'ACTIVE',
    statusMessage: null,
    name: 'rs',
    description: null,
    subjectId: 'subject',
    sampleId: 'sample',
    generatedFrom: null,
    referenceArn: null,
    fileType: 'FASTQ',
    creationType: 'UPLOAD',
    creationJobId: null,
    sequenceInformation: { totalReadCount: 2, totalBaseCount: 20, alignment: 'UNALIGNED' },
    etag: { algorithm: 'FASTQ_MD5up', source1: '0'.repeat(32) },
    files: { source1: { blobKey: `seq/${o.sequenceStoreId}/readsets/${o.id}/source1`, name: 'rs_source1.fastq.gz', contentLength: 10, partSize: 104857600 } },
    creationTime: 1,
    updateTime: 1,
    lastAccessTime: 1,
    ...o,
  };
}

/** A complete reference row for metadata-store tests. */
export function referenceRecord(o: Partial<ReferenceRecord> & Pick<ReferenceRecord, 'id' | 'referenceStoreId'>): ReferenceRecord {
  return {
    accountId: '111111111111',
    status: 'ACTIVE',
    name: 'ref',
    description: null,
    md5: 'a'.repeat(32),
    creationJobId: '1234567890',
    files: {},
    sequences: [{ name: 'chr1', length: 100, md5: 'b'.repeat(32) }],
    creationTime: 1,
    updateTime: 1,
    ...o,
  };
}
