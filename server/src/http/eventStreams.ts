/**
 * The open Server-Sent Events streams of a process, so a shutdown can end them at once. An
 * open stream would otherwise hold the server open for the whole grace period (Cloud Run sends
 * SIGTERM, then waits up to 10 s before SIGKILL), and the client would learn only from a cut
 * connection. Ended streams carry a `retry:` hint: the browser's EventSource and the CLI
 * reconnect after it, to an instance that is still serving, and get the current document.
 */
export class EventStreams {
  private readonly open = new Set<(retryMs: number) => void>();
  private closing = false;

  /** Registers a stream's ender; returns the function that unregisters it. */
  add(end: (retryMs: number) => void): () => void {
    this.open.add(end);
    return () => this.open.delete(end);
  }

  /** True once the process is shutting down: new streams end at once too. */
  get isClosing(): boolean {
    return this.closing;
  }

  get size(): number {
    return this.open.size;
  }

  /** Ends every open stream with a `retry:` hint of `retryMs`. */
  endAll(retryMs: number): void {
    this.closing = true;
    for (const end of [...this.open]) end(retryMs);
    this.open.clear();
  }
}
