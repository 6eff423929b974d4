import { Command } from 'commander';
import { CloudWatchLogsClient, GetLogEventsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { GetRunCommand } from '@aws-sdk/client-omics';
import { EXIT } from './exit-codes.js';
import { conn, connectionSettings, omicsFromOptions } from './transfer.js';

interface LogsOptions {
  endpointUrl?: string;
  profile?: string;
  region?: string;
  task?: string;
  engine?: boolean;
  manifest?: boolean;
  follow?: boolean;
}

const GROUP = '/aws/omics/WorkflowLog';
const ENDED = ['COMPLETED', 'FAILED', 'CANCELLED', 'DELETED'];

/**
 * A run's log (or one task's, its engine log, its manifest) printed line by line from the server's CloudWatch
 * Logs API; with --follow, new lines as they come until the run ends.
 */
async function logs(runId: string, o: LogsOptions): Promise<number> {
  const omics = omicsFromOptions(o);
  const c = connectionSettings(o);
  const client = new CloudWatchLogsClient({ ...c, maxAttempts: 3 });
  let run = await omics.send(new GetRunCommand({ id: runId }));
  const stream = o.task ? `run/${runId}/task/${o.task}` : o.engine ? `run/${runId}/engine` : o.manifest ? `manifest/run/${runId}/${run.uuid}` : `run/${runId}`;
  let token: string | undefined;
  for (;;) {
    const page = await client
      .send(new GetLogEventsCommand({ logGroupName: GROUP, logStreamName: stream, startFromHead: true, ...(token ? { nextToken: token } : {}) }))
      .catch((e: Error) => (e.name === 'ResourceNotFoundException' ? { events: [], nextForwardToken: token } : Promise.reject(e)));
    for (const e of page.events ?? []) process.stdout.write(`${o.manifest ? '' : `${new Date(e.timestamp!).toISOString()} `}${e.message}\n`);
    const moved = page.nextForwardToken !== token;
    token = page.nextForwardToken;
    if (moved && (page.events?.length ?? 0) > 0) continue;
    if (!o.follow || ENDED.includes(run.status!)) return EXIT.ok;
    await new Promise((r) => setTimeout(r, 1000));
    run = await omics.send(new GetRunCommand({ id: runId }));
  }
}

export function logsCommand(): Command {
  return conn(new Command('logs'))
    .description(
      [
        "print a workflow run's log, a task's log (--task), the engine log of a failed run (--engine) or the run manifest (--manifest)",
        '  e.g. openomics logs 1234567890 --task 9876543210 --follow',
      ].join('\n'),
    )
    .argument('<runId>')
    .option('--task <taskId>', "a task's stdout and stderr")
    .option('--engine', 'the engine log (kept for failed runs)')
    .option('--manifest', 'the run manifest: the run, then one JSON record per task with what it used')
    .option('--follow', 'keep printing new lines until the run ends')
    .action(async (runId: string, o: LogsOptions) => {
      process.exitCode = await logs(runId, o);
    });
}
