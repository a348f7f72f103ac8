import type { ChildProcess } from 'node:child_process';

/** Waits for a child process started with piped stderr to exit; its exit code and what it wrote to stderr. */
export async function exitOf(child: ChildProcess): Promise<{ code: number | null; stderr: string }> {
  let stderr = '';
  child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
  const code = await new Promise<number | null>((r) => child.on('exit', r));
  return { code, stderr };
}
