import { Readable } from 'node:stream';
import { InvalidInputError } from '../domain/errors';

/**
 * A streaming multipart/form-data reader (RFC 7578) made for the upload path: the boundary is
 * found with Buffer.indexOf (native code), a file's bytes are handed on as slices of the chunks
 * the socket gave (never copied), and only the few bytes that may begin a boundary are held
 * back between chunks. A file part becomes a Readable with backpressure: while its consumer is
 * busy, the request is paused.
 *
 * Errors are the product's own: `bad_multipart` for a body that is not a form (no boundary,
 * malformed part headers, a body that ends before its closing boundary), `field_too_long`,
 * `too_many_fields`.
 */

export interface MultipartLimits {
  /** Text fields at most. */
  fields: number;
  /** Parts of any kind at most (text fields and files). */
  parts: number;
  /** Bytes of one text field's value at most. */
  fieldBytes: number;
  /** Characters of a part's name at most. */
  nameChars: number;
  /** Bytes of one part's headers at most. */
  headerBytes: number;
}

/** One file part: read `stream` (or resume it) to let the form go on. */
export interface FilePart {
  name: string;
  filename: string;
  /** The type the client declared; the upload decides by the contents, not by this. */
  declaredType: string | null;
  stream: Readable;
}

export interface MultipartHandlers {
  /** A complete text field. Throwing refuses the form with that error. */
  onField(name: string, value: string): void;
  /** A file part has begun. Throwing refuses the form with that error. */
  onFile(part: FilePart): void;
}

/** A running reader: `done` settles when the closing boundary and the end of the body were read. */
export interface MultipartReader {
  done: Promise<void>;
  /** Stops parsing (what is left of the body flows away unread) and ends the open file part with `err`. */
  stop(err: Error): void;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');
/** What a file part buffers before the request is paused: a few of the socket's chunks. */
const FILE_BUFFER_BYTES = 256 * 1024;
/** Held-back bytes shorter than this are copied out of the chunk they came from, so a few bytes never keep a large chunk alive. */
const SMALL_CHUNK = 4096;

function badForm(detail: string): InvalidInputError {
  return new InvalidInputError('bad_multipart', `The upload is not valid multipart/form-data: ${detail}`);
}

function tooManyFields(): InvalidInputError {
  return new InvalidInputError('too_many_fields', 'The form has too many or too long fields');
}

/** The boundary of a `multipart/form-data` Content-Type, or null. */
export function boundaryOf(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const match = /;\s*boundary\s*=\s*(?:"((?:[^"\\]|\\.){1,70})"|([^\s;"]{1,70}))/i.exec(contentType);
  if (!match) return null;
  return match[1] !== undefined ? match[1].replace(/\\(.)/g, '$1') : match[2]!;
}

/** `name="a"; filename="b.jpg"` → {name: 'a', filename: 'b.jpg'}; names are lower-cased. */
export function parseHeaderParams(value: string): { type: string; params: Map<string, string> } {
  const params = new Map<string, string>();
  const semi = value.indexOf(';');
  const type = (semi === -1 ? value : value.slice(0, semi)).trim().toLowerCase();
  const re = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(value)) !== null) {
    const key = m[1]!.toLowerCase();
    const raw = m[2] !== undefined ? m[2].replace(/\\(.)/g, '$1') : m[3]!.trim();
    if (!params.has(key)) params.set(key, raw);
  }
  return { type, params };
}

/** RFC 5987 `filename*=utf-8''na%C3%AFve.jpg` → `naïve.jpg` (what cannot be read is kept as sent). */
function extendedValue(value: string): string {
  const m = /^([^']*)'[^']*'(.*)$/.exec(value);
  if (!m) return value;
  try {
    return decodeURIComponent(m[2]!);
  } catch {
    return m[2]!;
  }
}

interface PartHead {
  name: string;
  filename: string | null;
  declaredType: string | null;
}

function parsePartHeaders(block: string, limits: MultipartLimits): PartHead {
  let disposition: string | null = null;
  let declaredType: string | null = null;
  for (const line of block.split('\r\n')) {
    if (line === '') continue;
    const colon = line.indexOf(':');
    if (colon <= 0) throw badForm('a part header has no name');
    const key = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (key === 'content-disposition') disposition = value;
    else if (key === 'content-type') declaredType = value;
  }
  if (disposition === null) throw badForm('a part has no Content-Disposition');
  const { type, params } = parseHeaderParams(disposition);
  if (type !== 'form-data') throw badForm(`a part's Content-Disposition is "${type}", not form-data`);
  const name = params.get('name');
  if (name === undefined) throw badForm('a part has no name');
  if (name.length > limits.nameChars) throw tooManyFields();
  const star = params.get('filename*');
  const filename = star !== undefined ? extendedValue(star) : (params.get('filename') ?? null);
  return { name, filename, declaredType };
}

type State = 'preamble' | 'afterBoundary' | 'headers' | 'body' | 'epilogue';

/**
 * Reads `req` as multipart/form-data with `boundary`, calling the handlers as parts arrive.
 * The reader consumes the request through 'data' events and pauses it while a file part's
 * consumer is not reading.
 */
export function readMultipart(req: Readable, boundary: string, limits: MultipartLimits, handlers: MultipartHandlers): MultipartReader {
  // Every boundary after the first is preceded by CRLF; the first may open the body. Starting
  // with a CRLF already "held back" lets one search cover both.
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  const D = delimiter.length;
  let held: Buffer = CRLF;
  let state: State = 'preamble';
  let file: Readable | null = null;
  let field: { name: string; chunks: Buffer[]; bytes: number } | null = null;
  let fields = 0;
  let parts = 0;
  let stopped = false;

  let resolveDone!: () => void;
  let rejectDone!: (err: Error) => void;
  const done = new Promise<void>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });

  const detach = (): void => {
    req.off('data', onData);
    req.off('end', onEnd);
    req.off('error', onError);
  };

  const stop = (err: Error): void => {
    if (stopped) return;
    stopped = true;
    detach();
    // The rest of the body flows away unread: the error's answer decides when the connection
    // is cut (http/errors.ts), and a paused request would hold that answer's budget check.
    req.resume();
    // Its consumer hears why; a stream nobody listens to any more (a refused file) just ends.
    if (file && !file.destroyed) file.destroy(file.listenerCount('error') > 0 ? err : undefined);
    file = null;
    rejectDone(err);
  };

  /** Bytes of the current part's body. */
  const emit = (bytes: Buffer): void => {
    if (bytes.length === 0) return;
    if (file) {
      if (!file.destroyed && !file.push(bytes)) req.pause();
      return;
    }
    if (field) {
      field.bytes += bytes.length;
      if (field.bytes > limits.fieldBytes) throw new InvalidInputError('field_too_long', `The field "${field.name}" is too long`);
      field.chunks.push(bytes);
    }
  };

  const endPart = (): void => {
    if (file) {
      if (!file.destroyed) file.push(null);
      file = null;
      // An ended stream asks for no more bytes, so it would never resume a request it paused;
      // its buffer cannot grow now, so the form goes on.
      if (!stopped) req.resume();
    } else if (field) {
      const { name, chunks } = field;
      field = null;
      handlers.onField(name, Buffer.concat(chunks).toString('utf8'));
    }
  };

  const beginPart = (head: PartHead): void => {
    parts += 1;
    if (parts > limits.parts) throw tooManyFields();
    if (head.filename === null) {
      fields += 1;
      if (fields > limits.fields) throw tooManyFields();
      field = { name: head.name, chunks: [], bytes: 0 };
      return;
    }
    const stream = new Readable({
      highWaterMark: FILE_BUFFER_BYTES,
      read: () => {
        if (!stopped) req.resume();
      },
    });
    file = stream;
    handlers.onFile({ name: head.name, filename: head.filename, declaredType: head.declaredType, stream });
  };

  /**
   * Reads `buf` from `pos` in the current state; answers the bytes to hold back for the next
   * chunk (a possible start of a boundary, or an unfinished header block).
   */
  const consume = (buf: Buffer, pos: number): Buffer => {
    while (pos < buf.length) {
      switch (state) {
        case 'preamble':
        case 'body': {
          const at = buf.indexOf(delimiter, pos);
          if (at === -1) {
            // Hold back only what could begin a boundary: from the last CR in the final D-1 bytes.
            let keepFrom = Math.max(pos, buf.length - (D - 1));
            const cr = buf.indexOf(13, keepFrom);
            keepFrom = cr === -1 ? buf.length : cr;
            if (state === 'body') emit(buf.subarray(pos, keepFrom));
            return buf.subarray(keepFrom);
          }
          if (state === 'body') {
            emit(buf.subarray(pos, at));
            endPart();
          }
          state = 'afterBoundary';
          pos = at + D;
          break;
        }
        case 'afterBoundary': {
          // "--" closes the form; otherwise optional blanks, then CRLF, then a part's headers.
          if (buf.length - pos < 2) return buf.subarray(pos);
          if (buf[pos] === 0x2d && buf[pos + 1] === 0x2d) {
            state = 'epilogue';
            return Buffer.alloc(0);
          }
          let p = pos;
          while (p < buf.length && (buf[p] === 0x20 || buf[p] === 0x09)) p++;
          if (buf.length - p < 2) {
            if (p - pos > 64) throw badForm('a boundary line is too long');
            return buf.subarray(pos);
          }
          if (buf[p] !== 13 || buf[p + 1] !== 10) throw badForm('a boundary is followed by something other than a line end');
          state = 'headers';
          pos = p + 2;
          break;
        }
        case 'headers': {
          // A part with no header at all starts with its blank line.
          const end = buf.length - pos >= 2 && buf[pos] === 13 && buf[pos + 1] === 10 ? pos - 2 : buf.indexOf(HEADER_END, pos);
          if ((end === -1 ? buf.length : end) - pos > limits.headerBytes) throw badForm("a part's headers are too long");
          if (end === -1) return buf.subarray(pos);
          const block = end < pos ? '' : buf.toString('utf8', pos, end);
          state = 'body';
          pos = end + 4;
          beginPart(parsePartHeaders(block, limits));
          break;
        }
        case 'epilogue':
          return Buffer.alloc(0);
      }
    }
    return buf.subarray(buf.length);
  };

  const onData = (chunk: Buffer): void => {
    if (stopped) return;
    try {
      if (state === 'body' && held.length > 0 && chunk.length >= D) {
        // A boundary may start in the held-back bytes and end in this chunk: look at the seam
        // only, so the chunk itself is never copied.
        const seam = Buffer.concat([held, chunk.subarray(0, D - 1)]);
        const at = seam.indexOf(delimiter);
        if (at !== -1) {
          emit(seam.subarray(0, at));
          endPart();
          state = 'afterBoundary';
          held = consume(chunk, at + D - held.length);
        } else {
          emit(held);
          held = consume(chunk, 0);
        }
      } else {
        const buf = held.length > 0 ? Buffer.concat([held, chunk]) : chunk;
        held = consume(buf, 0);
      }
      // What is held back is kept only as a copy: the chunk it came from may be large.
      if (held.length > 0 && held.length < SMALL_CHUNK && held.buffer.byteLength > SMALL_CHUNK) held = Buffer.from(held);
    } catch (err) {
      stop(err instanceof Error ? err : new Error(String(err)));
    }
  };

  const onEnd = (): void => {
    if (stopped) return;
    if (state !== 'epilogue') {
      stop(badForm('Unexpected end of form'));
      return;
    }
    detach();
    stopped = true;
    resolveDone();
  };

  const onError = (err: Error): void => stop(err);

  req.on('data', onData);
  req.on('end', onEnd);
  req.on('error', onError);
  req.resume();
  return { done, stop };
}
