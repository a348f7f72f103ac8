/**
 * `npx avatar-video [command] …`: the command line of the avatar video service (`--help` lists
 * the commands, flags and exit statuses). Progress and messages go to stderr; stdout gets the
 * result (a saved path, a job id, a table) or, with `--json`, one JSON object per line.
 */
import { apiClient } from './api';
import { Exit, parseOptions } from './args';
import { COMMAND_RUNNERS, type Context } from './commands';
import { languageOf, messagesFor } from './messages';
import { Output } from './terminal';

export async function run(argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const language = languageOf(env);
  const m = messagesFor(language);
  const json = argv.includes('--json');
  const out = new Output(json);
  const name = 'avatar-video';
  try {
    const options = parseOptions(argv, env, language, m);
    if (options.help) {
      process.stdout.write(`${m.usage}\n\n${m.help}\n`);
      return 0;
    }
    const ctx: Context = { options, m, out, api: apiClient(options.server, options.token) };
    return await COMMAND_RUNNERS[options.command](ctx);
  } catch (e) {
    out.status.stop();
    if (e instanceof Exit) {
      out.error(`${name}: ${e.message}`);
      if (e.showUsage) out.error(m.usage);
      out.event({ type: 'error', exitCode: e.code, code: e.errorCode ?? null, message: e.message });
      return e.code;
    }
    out.error(`${name}: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
    out.event({ type: 'error', exitCode: 1, code: 'internal', message: e instanceof Error ? e.message : String(e) });
    return 1;
  }
}

/** Ends the process once stdout and stderr are flushed (a pipe may still hold the last lines). */
export function runAndExit(argv: string[]): void {
  void run(argv).then((code) => {
    process.stdout.write('', () => process.stderr.write('', () => process.exit(code)));
  });
}

if (require.main === module) runAndExit(process.argv.slice(2));
