import { spawnServer, type SpawnOptions, type SpawnedServer } from '../test/helpers/server.js';

/**
 * A server as users run it, for the benchmarks: the tests' spawner without their per-request checks (returned
 * read buffers poisoned, every output checked against the model), which cost time on the paths measured.
 */
export function spawnBenchServer(opts: SpawnOptions = {}): Promise<SpawnedServer> {
  return spawnServer({ ...opts, keepLogs: false, env: { OPENOMICS_TEST_POISON_RETURNED_BUFFERS: '0', OPENOMICS_STRICT_OUTPUT: '0', ...opts.env } });
}
