import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dirname, join } from 'node:path';

/**
 * The botocore service model of the omics API, read from model/ (a copy of
 * what botocore ships; `scripts/check-model.ts` compares them). Routes,
 * input bindings, validation limits, output serialisation and error status
 * codes are all derived from it, so the wire follows the model by construction.
 */
export interface MemberRef {
  shape: string;
  location?: 'uri' | 'querystring' | 'header' | 'headers' | 'statusCode';
  locationName?: string;
  idempotencyToken?: boolean;
  jsonvalue?: boolean;
  timestampFormat?: string;
}

export interface Shape {
  type: 'structure' | 'string' | 'integer' | 'long' | 'list' | 'map' | 'timestamp' | 'boolean' | 'blob' | 'double' | 'float';
  members?: Record<string, MemberRef>;
  member?: MemberRef;
  key?: MemberRef;
  value?: MemberRef;
  required?: string[];
  min?: number;
  max?: number;
  pattern?: string;
  enum?: string[];
  payload?: string;
  timestampFormat?: string;
  streaming?: boolean;
  requiresLength?: boolean;
  exception?: boolean;
  /** A free-form JSON document (RunParameters): taken and given back as it is. */
  document?: boolean;
  error?: { httpStatusCode: number };
}

export interface Operation {
  name: string;
  http: { method: string; requestUri: string; responseCode?: number };
  input?: { shape: string };
  output?: { shape: string };
  errors?: { shape: string }[];
  endpoint?: { hostPrefix: string };
  authtype?: string;
}

export interface ServiceModel {
  metadata: { apiVersion: string; signingName: string; serviceId: string };
  operations: Record<string, Operation>;
  shapes: Record<string, Shape>;
}

function repoRoot(): string {
  // dist/src/api/omics/model.js or src/api/omics/model.ts -> repo root
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    try {
      readFileSync(join(dir, 'package.json'));
      return dir;
    } catch {
      dir = dirname(dir);
    }
  }
  throw new Error('cannot find the OpenOmics package root');
}

export const MODEL_FILE = join(repoRoot(), 'model', 'omics-2022-11-28.service.json');

let cached: ServiceModel | undefined;
export function loadModel(): ServiceModel {
  cached ??= JSON.parse(readFileSync(MODEL_FILE, 'utf8')) as ServiceModel;
  return cached;
}
