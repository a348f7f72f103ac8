/**
 * `delete <jobId> [--server URL] [--token TOKEN] [--yes]`: deletes a job, its uploads and its
 * video (a running job is cancelled first). Asks for confirmation on a terminal unless --yes;
 * without a terminal, --yes is required. Exit status: 0 deleted, 1 not found or the server
 * refused, 2 bad usage or not confirmed.
 */
import readline from 'node:readline';
import { parseArgs } from 'node:util';

export const DELETE_USAGE = 'usage: npm run delete -- <jobId> [--server URL] [--token TOKEN] [--yes]';

export interface DeleteIo {
  out: NodeJS.WritableStream;
  err: NodeJS.WritableStream;
  /** Asks a yes/no question; null when there is no terminal to ask on. */
  confirm: ((question: string) => Promise<boolean>) | null;
  env: Record<string, string | undefined>;
}

function terminalConfirm(question: string): Promise<boolean> {
  const rl = readline.createInterface({ input: process.stdin, output: process.stderr });
  return new Promise((resolve) => {
    rl.question(question, (answer) => {
      rl.close();
      resolve(/^y(es)?$/i.test(answer.trim()));
    });
  });
}

export async function deleteCommand(argv: string[], io: DeleteIo): Promise<number> {
  let parsed: ReturnType<typeof parse>;
  const parse = () =>
    parseArgs({
      args: argv,
      allowPositionals: true,
      options: { server: { type: 'string' }, token: { type: 'string' }, yes: { type: 'boolean', short: 'y' } },
    });
  try {
    parsed = parse();
  } catch (e) {
    io.err.write(`delete: ${(e as Error).message}\n${DELETE_USAGE}\n`);
    return 2;
  }
  const [jobId, ...extra] = parsed.positionals;
  if (!jobId || extra.length > 0 || !/^[A-Za-z0-9-]{1,64}$/.test(jobId)) {
    io.err.write(`delete: give exactly one job id\n${DELETE_USAGE}\n`);
    return 2;
  }
  const server = (parsed.values.server ?? 'http://localhost:8080').replace(/\/$/, '');
  const token = parsed.values.token ?? io.env.AVATAR_TOKEN;
  if (!parsed.values.yes) {
    if (!io.confirm) {
      io.err.write('delete: no terminal to confirm on; add --yes to delete without asking\n');
      return 2;
    }
    const ok = await io.confirm(`Delete job ${jobId}, its photo, recording and video for good? [y/N] `);
    if (!ok) {
      io.err.write('delete: not deleted\n');
      return 2;
    }
  }
  let res: Response;
  try {
    res = await fetch(`${server}/jobs/${encodeURIComponent(jobId)}`, {
      method: 'DELETE',
      headers: token ? { authorization: `Bearer ${token}` } : {},
    });
  } catch (e) {
    io.err.write(`delete: cannot reach ${server}: ${(e as Error).message}\n`);
    return 1;
  }
  if (res.status === 204) {
    io.out.write(`deleted ${jobId}\n`);
    return 0;
  }
  const body = (await res.json().catch(() => null)) as { error?: { message?: string } } | null;
  io.err.write(`delete: ${res.status === 404 ? `no job ${jobId} for you` : (body?.error?.message ?? `the server answered ${res.status}`)}\n`);
  return 1;
}

if (require.main === module) {
  deleteCommand(process.argv.slice(2), {
    out: process.stdout,
    err: process.stderr,
    confirm: process.stdin.isTTY ? terminalConfirm : null,
    env: process.env,
  }).then((code) => process.exit(code));
}
