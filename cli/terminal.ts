/**
 * What the person at the terminal sees: messages on stderr, one status line that rewrites
 * itself, the "Cancel the job?" prompt, and for scripts (`--json`) one JSON object per line on
 * stdout and nothing else there.
 */
import readline from 'node:readline';

/** Columns a character takes on a terminal: Hangul, CJK and full-width forms take two. */
function columns(char: string): number {
  const c = char.codePointAt(0)!;
  const wide =
    (c >= 0x1100 && c <= 0x115f) ||
    (c >= 0x2e80 && c <= 0xa4cf) ||
    (c >= 0xac00 && c <= 0xd7a3) ||
    (c >= 0xf900 && c <= 0xfaff) ||
    (c >= 0xfe30 && c <= 0xfe4f) ||
    (c >= 0xff00 && c <= 0xff60) ||
    (c >= 0xffe0 && c <= 0xffe6);
  return wide ? 2 : 1;
}

export function displayWidth(text: string): number {
  let width = 0;
  for (const char of text) width += columns(char);
  return width;
}

/**
 * `text` cut to `width` columns at a word boundary, never inside a word, with "…" when
 * something was left out. Separators left dangling at the cut (` · `) go too.
 */
export function fitToWidth(text: string, width: number): string {
  if (displayWidth(text) <= width) return text;
  const words = text.split(/(\s+)/);
  let out = '';
  for (const piece of words) {
    if (displayWidth(out + piece) + 2 > width) break; // room for " …"
    out += piece;
  }
  out = out.replace(/[\s·,;:|-]+$/u, '');
  return out ? `${out} …` : '';
}

export interface StatusStream {
  write(text: string): boolean;
  isTTY?: boolean;
  columns?: number;
}

/**
 * The line at the bottom of the terminal. `render` is called again every second, so times
 * computed in it (the elapsed time) move while no event arrives. Without a terminal nothing is
 * drawn: logs get the step lines only.
 */
export class StatusLine {
  private render: (() => string) | null = null;
  private shown = false;
  private paused = false;
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: StatusStream,
    private readonly intervalMs = 1000,
  ) {}

  get enabled(): boolean {
    return Boolean(this.stream.isTTY);
  }

  set(render: () => string): void {
    this.render = render;
    this.draw();
    if (!this.timer && this.enabled) {
      this.timer = setInterval(() => this.draw(), this.intervalMs);
      this.timer.unref(); // never keeps the process alive
    }
  }

  draw(): void {
    if (!this.enabled || this.paused || !this.render) return;
    const width = Math.max(10, (this.stream.columns || 80) - 1);
    this.stream.write(`\r\x1b[2K${fitToWidth(this.render(), width)}`);
    this.shown = true;
  }

  /** Removes the line (before a message is printed above it). */
  clear(): void {
    if (this.enabled && this.shown) this.stream.write('\r\x1b[2K');
    this.shown = false;
  }

  /** While a prompt waits for an answer the line must not draw over it. */
  pause(): void {
    this.clear();
    this.paused = true;
  }

  resume(): void {
    this.paused = false;
    this.draw();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.render = null;
    this.clear();
  }
}

export function bar(fraction: number, width = 24): string {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width);
  return `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
}

export function formatDuration(ms: number): string {
  const total = Math.max(0, Math.round(ms / 1000));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

/** The command's voice: human lines on stderr, or JSON lines on stdout with `--json`. */
export class Output {
  readonly status: StatusLine;

  constructor(
    readonly json: boolean,
    private readonly err: NodeJS.WriteStream = process.stderr,
    private readonly out: NodeJS.WriteStream = process.stdout,
  ) {
    // With --json a script reads stdout; the person may still watch stderr, but keep it plain.
    this.status = new StatusLine(json ? { write: () => true, isTTY: false } : err);
  }

  /** A line for the person (stderr); silent with --json, where the JSON lines say it all. */
  say(line: string): void {
    if (this.json) return;
    this.status.clear();
    this.err.write(`${line}\n`);
    this.status.draw();
  }

  /** An error for the person: always on stderr, also with --json. */
  error(line: string): void {
    this.status.clear();
    this.err.write(`${line}\n`);
  }

  /** One JSON object on one line (only with --json). */
  event(object: Record<string, unknown>): void {
    if (this.json) this.out.write(`${JSON.stringify(object)}\n`);
  }

  /** The human result on stdout (a path, a table); nothing with --json. */
  result(text: string): void {
    if (!this.json) this.out.write(text.endsWith('\n') ? text : `${text}\n`);
  }

  /** "Cancel the job? [y/N]" on the terminal; null when the person presses Ctrl-C again. */
  ask(question: string): Promise<string | null> {
    return new Promise((resolve) => {
      this.status.pause();
      const rl = readline.createInterface({ input: process.stdin, output: this.err });
      const done = (answer: string | null): void => {
        rl.close();
        resolve(answer);
        // The answer is in: the status line comes back at once, not at the next tick.
        this.status.resume();
      };
      rl.on('SIGINT', () => {
        this.err.write('\n');
        done(null);
      });
      rl.question(question, (answer) => done(answer));
    });
  }
}
