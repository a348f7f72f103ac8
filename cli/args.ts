/**
 * The command line's arguments: the subcommand, its flags, and the checks that need no server
 * (files, --out, the server URL). Every problem here is bad usage, exit 2.
 */
import { constants, promises as fs } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { SNIFF_BYTES, sniffAudio, sniffImage } from '../server/src/http/mediaTypes';
import type { Language, messagesFor } from './messages';
import type { UploadRules } from '../clients/types';
import { formatBytes } from '../server/src/domain/format';

export type Messages = ReturnType<typeof messagesFor>;

/** Ends the command with an exit status and a message for the person at the terminal. */
export class Exit extends Error {
  constructor(
    readonly code: 0 | 1 | 2 | 130,
    message: string,
    readonly showUsage = false,
    /** The server's error code, for --json. */
    readonly errorCode?: string,
  ) {
    super(message);
  }
}

export const COMMANDS = ['generate', 'watch', 'download', 'list', 'cancel', 'retry', 'delete'] as const;
export type Command = (typeof COMMANDS)[number];


/** Which flag belongs to which command; --server, --token, --json and --help to all. */
const FLAGS_OF: Record<Command, string[]> = {
  generate: ['image', 'audio', 'name', 'bio', 'out', 'force'],
  watch: [],
  download: ['out', 'force'],
  list: ['limit'],
  cancel: [],
  retry: [],
  delete: ['yes'],
};

export interface Options {
  command: Command;
  jobId?: string;
  image?: string;
  audio?: string;
  name: string;
  /** The name was made from the photo's file name (no --name): cut to the server's limit. */
  nameFromFile?: boolean;
  bio: string;
  server: string;
  out?: string;
  force: boolean;
  /** delete: without asking. */
  yes: boolean;
  limit: number;
  token?: string;
  json: boolean;
  help: boolean;
  language: Language;
}

/** `--server`, else AVATAR_API_URL, else localhost:8080; `host:port` gets http://. */
export function serverUrl(flag: string | undefined, env: NodeJS.ProcessEnv, m: Messages): string {
  const raw = (flag ?? env.AVATAR_API_URL ?? '').trim() || 'http://localhost:8080';
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(raw) ? raw : `http://${raw}`;
  let url: URL;
  try {
    url = new URL(withScheme);
  } catch {
    throw new Exit(2, m.badServer(raw), true);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Exit(2, m.badServer(raw), true);
  return withScheme.replace(/\/+$/, '');
}

export function parseOptions(argv: string[], env: NodeJS.ProcessEnv, language: Language, m: Messages): Options {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        image: { type: 'string' },
        audio: { type: 'string' },
        name: { type: 'string' },
        bio: { type: 'string' },
        server: { type: 'string' },
        out: { type: 'string' },
        force: { type: 'boolean' },
        yes: { type: 'boolean', short: 'y' },
        limit: { type: 'string' },
        token: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    // parseArgs says which flag is unknown or lacks its value.
    throw new Exit(2, (e as Error).message, true);
  }
  const { values, positionals } = parsed;
  const rest = [...positionals];
  // `generate` is the default: flags alone (or nothing but --help) mean generate.
  const first = rest[0];
  let command: Command = 'generate';
  if (first !== undefined) {
    if (!(COMMANDS as readonly string[]).includes(first)) throw new Exit(2, m.unknownCommand(first), true);
    command = first as Command;
    rest.shift();
  }
  const base = {
    command,
    name: '',
    bio: '',
    force: Boolean(values.force),
    yes: Boolean(values.yes),
    limit: 20,
    json: Boolean(values.json),
    help: Boolean(values.help),
    language,
    server: '',
    token: values.token ?? (env.AVATAR_TOKEN || undefined),
  };
  if (base.help) return base;
  for (const flag of ['image', 'audio', 'name', 'bio', 'out', 'force', 'limit', 'yes'] as const) {
    if (values[flag] !== undefined && !FLAGS_OF[command].includes(flag)) throw new Exit(2, m.flagNotFor(`--${flag}`, command), true);
  }
  const server = serverUrl(values.server, env, m);
  if (command === 'generate') {
    if (rest.length > 0) throw new Exit(2, m.extraArgument(rest[0]!), true);
    if (!values.image) throw new Exit(2, m.missingFlag('--image'), true);
    if (!values.audio) throw new Exit(2, m.missingFlag('--audio'), true);
    const name = (values.name ?? nameFromFile(values.image)).trim();
    if (!name) throw new Exit(2, m.nameEmpty, true);
    const bio = (values.bio ?? '').trim();
    return { ...base, server, image: values.image, audio: values.audio, name, nameFromFile: values.name === undefined, bio, out: values.out };
  }
  if (command === 'list') {
    if (rest.length > 0) throw new Exit(2, m.extraArgument(rest[0]!), true);
    const limit = values.limit === undefined ? 20 : Number(values.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 100) throw new Exit(2, m.badLimit, true);
    return { ...base, server, limit };
  }
  const jobId = rest.shift();
  if (!jobId) throw new Exit(2, m.missingJobId(command), true);
  if (rest.length > 0) throw new Exit(2, m.extraArgument(rest[0]!), true);
  return { ...base, server, jobId, out: values.out };
}

/** "kim_lee-portrait.jpg" → "kim lee portrait"; "Instructor" when nothing is left. */
function nameFromFile(file: string): string {
  const base = path.basename(file, path.extname(file)).replace(/[_\-.]+/g, ' ').trim();
  return base || 'Instructor';
}

/**
 * The name and bio against the server's limits (GET /config): a name taken from the file name
 * is cut to fit; one given with --name, or a bio, that is too long is an error.
 */
export function checkText(options: Options, rules: UploadRules | null, m: Messages): { name: string; bio: string } {
  if (!rules) return { name: options.name, bio: options.bio };
  let name = options.name;
  if (options.nameFromFile) name = name.slice(0, rules.nameMaxChars).trim() || 'Instructor';
  else if (name.length > rules.nameMaxChars) throw new Exit(2, m.nameTooLong(rules.nameMaxChars), true);
  if (options.bio.length > rules.bioMaxChars) throw new Exit(2, m.bioTooLong(rules.bioMaxChars), true);
  return { name, bio: options.bio };
}

export interface CheckedFile {
  path: string;
  name: string;
  bytes: number;
  mime: string;
}

/** The server's own checks, made first so a wrong file costs no upload (the size: checkSize). */
export async function checkFile(file: string, kind: 'image' | 'audio', m: Messages): Promise<CheckedFile> {
  const flag = `--${kind}`;
  let stat;
  try {
    stat = await fs.stat(file);
  } catch {
    throw new Exit(2, m.noSuchFile(flag, file), true);
  }
  if (!stat.isFile()) throw new Exit(2, m.notAFile(flag, file), true);
  if (stat.size === 0) throw new Exit(2, m.emptyFile(flag, file));
  const handle = await fs.open(file, 'r');
  const head = Buffer.alloc(SNIFF_BYTES);
  try {
    await handle.read(head, 0, SNIFF_BYTES, 0);
  } finally {
    await handle.close();
  }
  const type = kind === 'image' ? sniffImage(head) : sniffAudio(head);
  if (!type) throw new Exit(2, kind === 'image' ? m.notAnImage(file) : m.notAudio(file));
  return { path: file, name: path.basename(file), bytes: stat.size, mime: type.mime };
}

/** A checked file against the server's size limit (GET /config), when the server gives one. */
export function checkSize(file: CheckedFile, kind: 'image' | 'audio', rules: UploadRules | null, m: Messages): void {
  const maxBytes = rules?.[kind].maxBytes;
  if (maxBytes !== undefined && file.bytes > maxBytes) throw new Exit(2, m.fileTooLarge(`--${kind}`, file.path, formatBytes(file.bytes), formatBytes(maxBytes)));
}

/**
 * Where the video will go, checked before anything is uploaded: the folder exists and is
 * writable, and an existing file is replaced only with --force. `--out` may name a folder, then
 * the video is `<folder>/<jobId>.mp4`; the job id is known only later, so this returns a function.
 */
export async function checkOut(out: string | undefined, force: boolean, m: Messages): Promise<(jobId: string) => string> {
  const target = path.resolve(out ?? '.');
  const isDir = await fs.stat(target).then((s) => s.isDirectory(), () => false);
  const dir = isDir ? target : path.dirname(target);
  const dirExists = await fs.stat(dir).then((s) => s.isDirectory(), () => false);
  if (!dirExists) throw new Exit(2, m.outNoFolder(dir), true);
  try {
    await fs.access(dir, constants.W_OK);
  } catch {
    throw new Exit(2, m.outNotWritable(dir), true);
  }
  if (isDir) return (jobId) => path.join(target, `${jobId}.mp4`);
  const exists = await fs.stat(target).then(() => true, () => false);
  if (exists && !force) throw new Exit(2, m.outExists(target), true);
  return () => target;
}
