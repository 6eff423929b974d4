import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';

/**
 * HTTP/1.1 GETs whose bodies are read straight into buffers this module reuses (the `onread` option of node:net and
 * node:tls), for `openomics download`'s ranged reads of the S3 view. node:http hands a response body over in fresh
 * 64 KiB buffers — its socket read, then its parser's copy of each body slice — and where first-touch page faults
 * are dear (this project's VMs: ~20 µs each) that, not the network, bounded a download: 106 MB took ~0.34 s to
 * receive from nginx through node:http, ~0.05 s into a reused buffer (decision 83).
 *
 * Only what those GETs need: a request without a body, a response framed by Content-Length, keep-alive. A response
 * framed otherwise (chunked, or delimited by the connection's close) fails with `UnsupportedResponseError`, which
 * the caller answers by using node:http for that request.
 */

/** Where a response's body goes: consecutive bytes, each a view of a reused buffer, valid until the promise settles. */
export type BodySink = (chunk: Buffer) => Promise<void>;

export interface ReusedBufferResponse {
  status: number;
  /** Header names in lower case; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** A non-2xx answer's body (at most 1 MiB kept); the sink saw nothing of it. */
  errorBody?: Buffer;
}

/** The response is framed in a way this reader does not handle (the caller uses node:http instead). */
export class UnsupportedResponseError extends Error {}

const HEAD_LIMIT = 64 * 1024;
const ERROR_BODY_LIMIT = 1024 * 1024;
const HEADER_END = Buffer.from('\r\n\r\n');

interface Exchange {
  sink: BodySink;
  resolve: (r: ReusedBufferResponse) => void;
  reject: (e: Error) => void;
  response?: ReusedBufferResponse;
  /** Body bytes still to come. */
  remaining: number;
  errorParts?: Buffer[];
  errorBytes: number;
  keepAlive: boolean;
}

/**
 * One keep-alive connection. Its reads land in `head` while a response's status line and headers come, then in
 * the free end of one of two body buffers: while one is being written by the sink the other fills; when both are
 * busy the socket is paused until a write settles.
 */
class Connection {
  readonly socket: Socket;
  private readonly head = Buffer.allocUnsafe(HEAD_LIMIT);
  private headLength = 0;
  private readonly bodies: [Buffer, Buffer];
  private readonly writing: [Promise<void> | undefined, Promise<void> | undefined] = [undefined, undefined];
  private current = 0;
  private filled = 0;
  private ex: Exchange | undefined;
  private paused = false;
  private failed: Error | undefined;
  /** Reads while no request is out (nothing should come) land here and end the connection. */
  private readonly idle = Buffer.allocUnsafe(1024);

  constructor(
    url: URL,
    bodyBytes: number,
    timeoutMs: number,
    private readonly onFree: (c: Connection) => void,
    onGone: (c: Connection) => void,
  ) {
    this.bodies = [Buffer.allocUnsafe(bodyBytes), Buffer.allocUnsafe(bodyBytes)];
    if (bodyBytes < HEAD_LIMIT) throw new Error(`body buffers of at least ${HEAD_LIMIT} bytes`);
    const onread = { buffer: () => this.target(), callback: (n: number, buf: Uint8Array) => this.received(n, buf) };
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    this.socket =
      url.protocol === 'https:'
        ? tlsConnect({ host, port, servername: /^[\d.]+$|:/.test(host) ? undefined : host, onread } as ConnectionOptions)
        : netConnect({ host, port, onread });
    this.socket.setNoDelay(true);
    this.socket.setTimeout(timeoutMs, () => this.socket.destroy(new Error(`no answer from ${url.host} for ${timeoutMs / 1000} s`)));
    this.socket.on('error', (e) => this.fail(e));
    this.socket.on('close', () => {
      this.fail(new Error(`the connection to ${url.host} closed before the response was complete`));
      onGone(this);
    });
  }

  /** Sends a request; resolves once the whole body has been handed to `sink` and every sink write settled. */
  request(head: string, sink: BodySink): Promise<ReusedBufferResponse> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.ex = { sink, resolve, reject, remaining: 0, errorBytes: 0, keepAlive: true };
      this.headLength = 0;
      this.filled = 0;
      this.socket.write(head);
    });
  }

  /** Where the next read goes (never an empty buffer: a read of 0 bytes would be taken for the end). */
  private target(): Buffer {
    const ex = this.ex;
    if (!ex) return this.idle;
    if (!ex.response) return this.head.subarray(this.headLength);
    if (ex.remaining === 0) return this.idle; // the body is complete: nothing more may come
    const body = this.bodies[this.current];
    // Never past the body's end: a read holds this response's bytes only.
    return body.subarray(this.filled, Math.min(body.length, this.filled + ex.remaining));
  }

  private received(n: number, buf: Uint8Array): boolean {
    const ex = this.ex;
    if (!ex || (ex.response && ex.remaining === 0)) {
      this.socket.destroy(new Error('the server sent bytes no request asked for'));
      return false;
    }
    try {
      // The read buffer is chosen after each read: the first read of a connection was given the idle one.
      if (buf === this.idle) {
        const t = this.target();
        if (n > t.length) throw new Error('the server sent more than the request asked for');
        this.idle.copy(t, 0, 0, n);
      }
      if (!ex.response) return this.receivedHead(ex, n);
      return this.receivedBody(ex, n);
    } catch (e) {
      this.socket.destroy(e as Error);
      return false;
    }
  }

  private receivedHead(ex: Exchange, n: number): boolean {
    const from = Math.max(0, this.headLength - 3);
    this.headLength += n;
    const end = this.head.subarray(0, this.headLength).indexOf(HEADER_END, from);
    if (end < 0) {
      if (this.headLength === this.head.length) throw new Error(`the response's status line and headers exceed ${HEAD_LIMIT} bytes`);
      return true;
    }
    const response = parseHead(this.head.toString('latin1', 0, end));
    const te = response.headers['transfer-encoding'];
    const length = response.headers['content-length'];
    if (response.status < 200 || te !== undefined || length === undefined || !/^\d+$/.test(length)) {
      throw new UnsupportedResponseError(`a response framed by ${te ? `transfer-encoding ${te}` : response.status < 200 ? `status ${response.status}` : 'the connection'} (this reader needs Content-Length)`);
    }
    ex.response = response;
    ex.remaining = Number(length);
    ex.keepAlive = !/\bclose\b/i.test(response.headers['connection'] ?? '');
    if (response.status >= 300) ex.errorParts = [];
    // Body bytes that came with the headers.
    const extra = this.head.subarray(end + HEADER_END.length, this.headLength);
    if (extra.length > ex.remaining) throw new Error('the server sent more than the Content-Length it announced');
    if (extra.length === 0) return this.maybeDone(ex);
    extra.copy(this.bodies[this.current], this.filled);
    return this.receivedBody(ex, extra.length);
  }

  private receivedBody(ex: Exchange, n: number): boolean {
    ex.remaining -= n;
    if (ex.errorParts) {
      const body = this.bodies[this.current];
      if (ex.errorBytes < ERROR_BODY_LIMIT) ex.errorParts.push(Buffer.from(body.subarray(this.filled, this.filled + n)));
      ex.errorBytes += n;
      return this.maybeDone(ex);
    }
    this.filled += n;
    if (this.filled === this.bodies[this.current].length || ex.remaining === 0) {
      const i = this.current;
      const chunk = this.bodies[i].subarray(0, this.filled);
      const write = ex.sink(chunk).then(
        () => {
          this.writing[i] = undefined;
          // Reads resume into the buffer they were aimed at, once it is no longer being written.
          if (this.paused && this.ex === ex && !this.writing[this.current]) {
            this.paused = false;
            this.socket.resume();
          }
          this.maybeDone(ex);
        },
        (e: unknown) => {
          this.socket.destroy(e as Error);
        },
      );
      this.writing[i] = write;
      this.current = 1 - i;
      this.filled = 0;
      if (this.writing[this.current]) {
        // Both buffers are being written: no reads until one is free.
        this.paused = true;
        return false;
      }
    }
    return this.maybeDone(ex);
  }

  /** The exchange ends when every body byte came and every write settled. */
  private maybeDone(ex: Exchange): boolean {
    if (this.ex !== ex || ex.remaining > 0 || this.writing[0] || this.writing[1]) return true;
    this.ex = undefined;
    const response = ex.response!;
    if (ex.errorParts) response.errorBody = Buffer.concat(ex.errorParts);
    ex.resolve(response);
    if (ex.keepAlive) this.onFree(this);
    else this.socket.destroy();
    return true;
  }

  private fail(e: Error): void {
    this.failed ??= e;
    const ex = this.ex;
    if (!ex) return;
    this.ex = undefined;
    // A write in flight still reads its buffer: the request settles after it.
    void Promise.allSettled([this.writing[0], this.writing[1]]).then(() => ex.reject(e));
  }
}

function parseHead(text: string): ReusedBufferResponse {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]!);
  if (!m) throw new Error(`not an HTTP/1.1 response: ${JSON.stringify(lines[0]!.slice(0, 80))}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`a malformed response header line: ${JSON.stringify(line.slice(0, 80))}`);
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return { status: Number(m[1]), headers };
}

/** Keep-alive connections per origin, at most `maxConnections` open in all; requests wait for a free one. */
export class ReusedBufferHttp {
  private readonly free = new Map<string, Connection[]>();
  private readonly open = new Set<Connection>();
  private readonly waiting: (() => void)[] = [];

  constructor(private readonly o: { maxConnections: number; bodyBufferBytes: number; timeoutMs?: number }) {}

  /**
   * GET `url` with `headers` (already signed; `host` among them); the body of a 2xx answer goes to `sink`. Resolves
   * with the status and headers once the body is complete and written; rejects on a network or framing error.
   */
  async get(url: URL, headers: Record<string, string>, sink: BodySink): Promise<ReusedBufferResponse> {
    const lines = [`GET ${url.pathname}${url.search} HTTP/1.1`];
    for (const [k, v] of Object.entries(headers)) {
      if (/[\r\n]/.test(k) || /[\r\n]/.test(v)) throw new Error(`header ${k} holds a line break`);
      lines.push(`${k}: ${v}`);
    }
    const head = `${lines.join('\r\n')}\r\n\r\n`;
    const c = await this.connection(url);
    return c.request(head, sink);
  }

  private async connection(url: URL): Promise<Connection> {
    const origin = `${url.protocol}//${url.host}`;
    for (;;) {
      const idle = this.free.get(origin)?.pop();
      if (idle) return idle;
      if (this.open.size < this.o.maxConnections) {
        const c: Connection = new Connection(
          url,
          this.o.bodyBufferBytes,
          this.o.timeoutMs ?? 120_000,
          (done) => {
            const list = this.free.get(origin) ?? [];
            list.push(done);
            this.free.set(origin, list);
            this.waiting.shift()?.();
          },
          (gone) => {
            this.open.delete(gone);
            const list = this.free.get(origin);
            if (list?.includes(gone)) list.splice(list.indexOf(gone), 1);
            this.waiting.shift()?.();
          },
        );
        this.open.add(c);
        return c;
      }
      await new Promise<void>((r) => this.waiting.push(r));
    }
  }

  close(): void {
    for (const c of this.open) c.socket.destroy();
    this.open.clear();
    this.free.clear();
  }
}
