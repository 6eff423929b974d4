import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from 'pino';
import { AuthenticationError, OpenOmicsError } from '../../core/errors.js';
import type { Authenticator } from '../../iam/authenticator.js';
import type { IdentityService, Principal } from '../../iam/identity.js';
import type { ConnectionService } from '../../storage/connections.js';
import { handleJsonTarget, JsonTargetError, str } from '../json-target.js';

/**
 * The storage connections of the caller's account, read-only, over AWS's JSON 1.1 protocol (`X-Amz-Target:
 * OpenOmicsConnections.<Operation>`, SigV4 service `openomics`): ListConnections (never a secret: `hasSecret`
 * says whether one is set) and CheckConnection (the connectivity check `openomics admin connection check` runs).
 * Adding, changing and removing a connection stay with the operator (`openomics admin connection`): a connection
 * names an endpoint the server will call and holds a secret, so letting API callers set one would let them make
 * the server reach addresses of their choosing (decision 82). Identity policies grant `openomics:ListConnections`
 * and `openomics:CheckConnection` on `arn:<partition>:openomics:<region>:<account>:connection/<name>`.
 */
export interface ConnectionsEdgeOptions {
  auth: boolean;
  authenticator: Authenticator;
  identity: IdentityService;
  anonymousPrincipal: Principal;
  connections: ConnectionService;
  region: string;
  partition: string;
}

export const CONNECTIONS_TARGET_PREFIX = 'OpenOmicsConnections';

class ConnectionsError extends JsonTargetError {}

export class ConnectionsEdge {
  constructor(private readonly o: ConnectionsEdgeOptions) {}

  handle(req: IncomingMessage, res: ServerResponse, info: { requestId: string; rawPath: string; rawQuery: string; log: Logger }): Promise<void> {
    return handleJsonTarget(
      {
        targetPrefix: CONNECTIONS_TARGET_PREFIX,
        service: 'openomics',
        auth: this.o.auth,
        authenticator: this.o.authenticator,
        anonymousPrincipal: this.o.anonymousPrincipal,
        call: async (op, principal, body, r) => {
          const name = op === 'CheckConnection' ? str(body, 'name') : '*';
          if (!name) throw new ConnectionsError('ValidationException', 400, 'name is required.');
          const resource = `arn:${this.o.partition}:openomics:${this.o.region}:${principal.accountId}:connection/${name}`;
          if (op !== 'ListConnections' && op !== 'CheckConnection') {
            throw new ConnectionsError('UnknownOperationException', 400, `OpenOmics serves ListConnections and CheckConnection; connections are added and removed with \`openomics admin connection\`, not ${op}.`);
          }
          await this.o.identity.authorize(principal, `openomics:${op}`, resource, { 'aws:SourceIp': r.socket.remoteAddress ?? '' });
          if (op === 'ListConnections') {
            const list = await this.o.connections.list(principal.accountId);
            return {
              connections: list.map((c) => ({
                name: c.name,
                bucket: c.config.bucket,
                prefix: c.config.prefix,
                region: c.config.region,
                ...(c.config.endpoint ? { endpoint: c.config.endpoint } : {}),
                versioned: c.config.versioned,
                ...(c.config.sse ? { sse: c.config.sse } : {}),
                ...(c.config.accessKeyId ? { accessKeyId: c.config.accessKeyId } : {}),
                hasSecret: c.hasSecret,
                ...(c.config.roleArn ? { roleArn: c.config.roleArn } : {}),
                ...(c.config.jobRoleArn ? { jobRoleArn: c.config.jobRoleArn } : {}),
                creationTime: c.createdAt / 1000,
              })),
            };
          }
          return this.o.connections.check(principal.accountId, name, { write: body['write'] === true });
        },
        wireError: (e, log) => this.wireError(e, log),
      },
      req,
      res,
      info,
    );
  }

  private wireError(e: unknown, log: Logger): JsonTargetError {
    if (e instanceof JsonTargetError) return e;
    if (e instanceof AuthenticationError) return new ConnectionsError(e.code, 403, e.message);
    if (e instanceof OpenOmicsError) {
      if (e.kind === 'AccessDenied') return new ConnectionsError('AccessDeniedException', 403, e.message);
      if (e.kind === 'NotFound') return new ConnectionsError('ResourceNotFoundException', 404, e.message);
      if (e.kind === 'Validation' || e.kind === 'PayloadTooLarge') return new ConnectionsError('ValidationException', 400, e.message);
    }
    log.error({ err: e }, 'connections request failed');
    return new ConnectionsError('InternalServerException', 500, 'An internal error occurred.');
  }
}
