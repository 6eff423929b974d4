import type { IncomingMessage, ServerResponse } from 'node:http';
import { OpenOmicsError } from '../core/errors.js';
import type { WorkflowService } from '../workflows/workflows.js';

export const WORKFLOW_FILES_PATH = '/_openomics/workflow-files/';

/**
 * GET of a workflow file link (GetWorkflow `readme`, `export=DEFINITION`): the link is its own authorization,
 * like a presigned URL; a bad or expired one answers 403 without saying which file it names.
 */
export async function serveWorkflowFile(req: IncomingMessage, res: ServerResponse, rawPath: string, workflows: WorkflowService): Promise<void> {
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.writeHead(405, { allow: 'GET, HEAD' }).end();
    return;
  }
  try {
    const f = await workflows.openLink(decodeURIComponent(rawPath.slice(WORKFLOW_FILES_PATH.length)));
    res.writeHead(200, { 'content-type': f.contentType, 'content-length': f.body.length, 'content-disposition': `attachment; filename="${f.name}"` });
    res.end(req.method === 'HEAD' ? undefined : f.body);
  } catch (e) {
    if (!(e instanceof OpenOmicsError)) throw e;
    res.writeHead(403, { 'content-type': 'text/plain; charset=utf-8' }).end(`${e.message}\n`);
  }
}
