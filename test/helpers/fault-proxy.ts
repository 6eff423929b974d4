import { createServer, connect, type Server, type Socket } from 'node:net';

/**
 * A TCP proxy on a loopback port in front of a backend (moto, PostgreSQL) that
 * injects the faults a network gives: a connection reset after a chosen number
 * of bytes, a stall (bytes stop flowing, sockets stay open), or refusal of new
 * connections. Faults are armed by the test and apply to the traffic that
 * follows; everything else passes through unchanged.
 */
export interface FaultProxy {
  /** host:port clients connect to. */
  port: number;
  url: string;
  /** Resets every open connection (and the next ones) once `bytes` more bytes have passed, in either direction. */
  resetAfter(bytes: number): void;
  /** Stops forwarding on every connection (open and new) until `heal()`. */
  stall(): void;
  /** New connections are reset at once until `heal()`. */
  refuse(): void;
  /** Back to passing everything. */
  heal(): void;
  /** How many resets were injected so far. */
  resets(): number;
  /** Bytes forwarded so far (both directions). */
  bytes(): number;
  close(): Promise<void>;
}

type Mode = { kind: 'pass' } | { kind: 'reset'; after: number } | { kind: 'stall' } | { kind: 'refuse' };

export async function startFaultProxy(target: { host: string; port: number }): Promise<FaultProxy> {
  let mode: Mode = { kind: 'pass' };
  let resets = 0;
  let total = 0;
  const pairs = new Set<[Socket, Socket]>();
  const stalled: (() => void)[] = [];

  const cut = (pair: [Socket, Socket]) => {
    pairs.delete(pair);
    // A socket whose shutdown (end) is already under way is destroyed, not reset: resetting it with the shutdown
    // request pending leaves the handle referenced at teardown, and the test process then spins forever in
    // Node's exit cleanup (seen with FAULT_SEED=1178827952; libp2p/js-libp2p#3597 hit the same). Its peer still
    // sees the connection end early, which is the fault under test.
    for (const s of pair) {
      if (s.destroyed) continue;
      if (s.writableEnded) s.destroy();
      else s.resetAndDestroy();
    }
  };
  const resetAll = () => {
    resets++;
    mode = { kind: 'pass' };
    for (const p of [...pairs]) cut(p);
  };

  const server: Server = createServer((client) => {
    if (mode.kind === 'refuse') {
      resets++;
      client.on('error', () => undefined);
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, target.host);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    const forward = (from: Socket, to: Socket) => {
      from.on('data', (chunk: Buffer) => {
        const send = () => {
          if (to.destroyed) return;
          if (mode.kind === 'reset') {
            if (chunk.length >= mode.after) {
              // Forward the bytes before the cut, then reset everything.
              if (mode.after > 0) to.write(chunk.subarray(0, mode.after));
              total += mode.after;
              resetAll();
              return;
            }
            mode.after -= chunk.length;
          }
          total += chunk.length;
          if (!to.write(chunk)) {
            from.pause();
            to.once('drain', () => from.resume());
          }
        };
        if (mode.kind === 'stall') {
          from.pause();
          stalled.push(() => {
            from.resume();
            send();
          });
          return;
        }
        send();
      });
      from.on('end', () => to.end());
    };
    forward(client, upstream);
    forward(upstream, client);
    const close = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', close).on('close', close);
    upstream.on('error', close).on('close', close);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    resetAfter(bytes: number) {
      mode = { kind: 'reset', after: bytes };
    },
    stall() {
      mode = { kind: 'stall' };
    },
    refuse() {
      mode = { kind: 'refuse' };
    },
    heal() {
      mode = { kind: 'pass' };
      for (const go of stalled.splice(0)) go();
    },
    resets: () => resets,
    bytes: () => total,
    close: async () => {
      mode = { kind: 'pass' };
      for (const go of stalled.splice(0)) go();
      for (const p of [...pairs]) cut(p);
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
