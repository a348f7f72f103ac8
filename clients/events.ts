/** The service's event streams (`GET /jobs/:id/events`): text/event-stream, read from a fetch body. */

export interface ServerSentEvent {
  /** The `event:` name; `message` when the block has none; `retry` for a block with only a `retry:` hint. */
  event: string;
  data: string;
  /** The `retry:` hint (ms), when the block carries one. */
  retry?: number;
}

/** Reads `event:`/`data:`/`retry:` blocks from an SSE response body; comments are skipped. */
export async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerSentEvent> {
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let cut: number;
    while ((cut = buffer.search(/\r?\n\r?\n/)) >= 0) {
      const block = buffer.slice(0, cut);
      buffer = buffer.slice(cut).replace(/^\r?\n\r?\n/, '');
      let event = 'message';
      let retry: number | undefined;
      const data: string[] = [];
      for (const line of block.split(/\r?\n/)) {
        if (line.startsWith('event:')) event = line.slice(6).trim();
        else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
        else if (/^retry:\s*\d+$/.test(line)) retry = Number(line.slice(6).trim());
      }
      if (data.length > 0 || retry !== undefined) yield { event: data.length > 0 ? event : 'retry', data: data.join('\n'), retry };
    }
  }
}
