import { PassThrough, Readable } from 'node:stream';
import { boundaryOf, parseHeaderParams, readMultipart, type MultipartLimits } from '../../src/http/multipart';

// The upload's multipart reader, fed from memory: every way a body can be cut into chunks, bytes
// in a file that look almost like a boundary, the limits, and bodies that are not forms.

const LIMITS: MultipartLimits = { fields: 8, parts: 10, fieldBytes: 4016, nameChars: 100, headerBytes: 16 * 1024 };
const B = 'XyZ-boundary-42';

type Part = { name: string; value: string } | { name: string; filename: string; data: Buffer; type?: string };

function formBody(parts: Part[], boundary = B, options: { preamble?: string; epilogue?: string } = {}): Buffer {
  const pieces: Buffer[] = [];
  if (options.preamble !== undefined) pieces.push(Buffer.from(`${options.preamble}\r\n`));
  for (const part of parts) {
    if ('value' in part) {
      pieces.push(Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"\r\n\r\n${part.value}\r\n`));
    } else {
      pieces.push(
        Buffer.from(
          `--${boundary}\r\nContent-Disposition: form-data; name="${part.name}"; filename="${part.filename}"\r\nContent-Type: ${part.type ?? 'application/octet-stream'}\r\n\r\n`,
        ),
        part.data,
        Buffer.from('\r\n'),
      );
    }
  }
  pieces.push(Buffer.from(`--${boundary}--\r\n${options.epilogue ?? ''}`));
  return Buffer.concat(pieces);
}

function cut(body: Buffer, sizes: number[]): Buffer[] {
  const chunks: Buffer[] = [];
  let pos = 0;
  let i = 0;
  while (pos < body.length) {
    const n = Math.max(1, sizes[i++ % sizes.length]!);
    chunks.push(body.subarray(pos, pos + n));
    pos += n;
  }
  return chunks;
}

interface Parsed {
  fields: Record<string, string>;
  /** File bytes as latin1 strings: one string comparison instead of jest's byte-by-byte walk. */
  files: { name: string; filename: string; declaredType: string | null; data: string }[];
}

const bytes = (b: Buffer): string => b.toString('latin1');

async function parse(chunks: Buffer[], options: { boundary?: string; limits?: Partial<MultipartLimits> } = {}): Promise<Parsed> {
  const source = Readable.from(chunks, { objectMode: false });
  const out: Parsed = { fields: {}, files: [] };
  const reads: Promise<void>[] = [];
  const reader = readMultipart(source, options.boundary ?? B, { ...LIMITS, ...options.limits }, {
    onField: (name, value) => {
      out.fields[name] = value;
    },
    onFile: ({ name, filename, declaredType, stream }) => {
      const entry = { name, filename, declaredType, data: '' };
      out.files.push(entry);
      reads.push(
        (async () => {
          const got: Buffer[] = [];
          for await (const c of stream) got.push(c as Buffer);
          entry.data = bytes(Buffer.concat(got));
        })().catch(() => {
          // A refused form ends its open file with the same error done rejects with.
        }),
      );
    },
  });
  await reader.done;
  await Promise.all(reads);
  return out;
}

/** A seeded generator, so a failing case can be run again. */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('boundaryOf', () => {
  test('reads a plain, a quoted and an escaped boundary, and none', () => {
    expect(boundaryOf(`multipart/form-data; boundary=${B}`)).toBe(B);
    expect(boundaryOf('multipart/form-data; charset=utf-8; BOUNDARY="a b;c"')).toBe('a b;c');
    expect(boundaryOf('multipart/form-data; boundary="a\\"b"')).toBe('a"b');
    expect(boundaryOf('multipart/form-data')).toBeNull();
    expect(boundaryOf(undefined)).toBeNull();
    expect(boundaryOf(`multipart/form-data; boundary=${'x'.repeat(71)}`)).toBe('x'.repeat(70));
  });

  test('header parameters: quoted, unquoted, the first of a repeated name wins', () => {
    const { type, params } = parseHeaderParams('Form-Data; name="a;b"; filename=c.jpg; name="d"');
    expect(type).toBe('form-data');
    expect(params.get('name')).toBe('a;b');
    expect(params.get('filename')).toBe('c.jpg');
  });
});

describe('readMultipart', () => {
  const photo = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 7) % 256));
  const voice = Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * 13 + 5) % 256));
  const form: Part[] = [
    { name: 'instructorName', value: 'Kim Ji-woo 김지우' },
    { name: 'image', filename: 'photo.jpg', data: photo, type: 'image/jpeg' },
    { name: 'instructorBio', value: '' },
    { name: 'audio', filename: 'voice.wav', data: voice },
  ];
  const expected = {
    fields: { instructorName: 'Kim Ji-woo 김지우', instructorBio: '' },
    files: [
      { name: 'image', filename: 'photo.jpg', declaredType: 'image/jpeg', data: bytes(photo) },
      { name: 'audio', filename: 'voice.wav', declaredType: 'application/octet-stream', data: bytes(voice) },
    ],
  };

  test('whole, and cut into chunks of every size from 1 to 64 bytes', async () => {
    const body = formBody(form);
    expect(await parse([body])).toEqual(expected);
    for (let size = 1; size <= 64; size++) expect(await parse(cut(body, [size]))).toEqual(expected);
  });

  test('cut at every single position into two chunks', async () => {
    const body = formBody(form);
    for (let at = 1; at < body.length; at++) {
      expect(await parse([body.subarray(0, at), body.subarray(at)])).toEqual(expected);
    }
  });

  test('file bytes that almost make a boundary stay in the file, however the body is cut', async () => {
    const tricky = Buffer.from(
      [`\r\n--${B.slice(0, -1)}`, `--${B}`, `\r--${B}`, `\n--${B}`, `\r\n-${B}`, `\r\n--${B.slice(0, 5)}\r\n`, '\r\n\r\n', '\r', '\r\n--'].join('x'),
    );
    const parts: Part[] = [
      { name: 'image', filename: 'a.jpg', data: tricky },
      { name: 'audio', filename: 'b.wav', data: Buffer.concat([Buffer.from('\r\n--'), tricky, Buffer.from('\r')]) },
    ];
    const body = formBody(parts);
    const want = parts.map((p) => ('data' in p ? p.data.toString('latin1') : ''));
    for (let size = 1; size <= 80; size++) {
      const got = await parse(cut(body, [size, size * 3 + 1]));
      expect(got.files.map((f) => f.data)).toEqual(want);
    }
  });

  test('random files full of CR, LF and dashes, in random chunkings, come out byte for byte', async () => {
    const rnd = random(20261129);
    const alphabet = [13, 10, 45, ...Buffer.from(B)];
    for (let round = 0; round < 150; round++) {
      const make = (n: number): Buffer => Buffer.from(Array.from({ length: n }, () => (rnd() < 0.7 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256))));
      const parts: Part[] = [
        { name: 'image', filename: 'a.jpg', data: make(Math.floor(rnd() * 400)) },
        { name: 'note', value: 'x' },
        { name: 'audio', filename: 'b.wav', data: make(Math.floor(rnd() * 9000)) },
      ];
      const body = formBody(parts);
      const sizes = Array.from({ length: 5 }, () => 1 + Math.floor(rnd() * (rnd() < 0.5 ? 40 : 5000)));
      const got = await parse(cut(body, sizes));
      expect(got.files.map((f) => f.data)).toEqual([parts[0], parts[2]].map((p) => bytes((p as { data: Buffer }).data)));
      expect(got.fields).toEqual({ note: 'x' });
    }
  });

  test('large chunks: a file of 1 MB in 64 KB chunks arrives whole, the boundary found across a seam', async () => {
    const big = Buffer.alloc(1024 * 1024, 0x41);
    const body = formBody([{ name: 'audio', filename: 'b.wav', data: big }]);
    // The boundary after the file starts 3 bytes before a chunk's end.
    const first = body.indexOf(`\r\n--${B}--`) + 3;
    const got = await parse([...cut(body.subarray(0, first), [65536]), body.subarray(first)]);
    expect(got.files[0]!.data === bytes(big)).toBe(true);
  });

  test('a preamble and an epilogue are ignored; an empty file is a file with no bytes', async () => {
    const body = formBody(
      [
        { name: 'image', filename: 'empty.jpg', data: Buffer.alloc(0) },
        { name: 'instructorName', value: 'Kim' },
      ],
      B,
      { preamble: 'This is a multi-part message.', epilogue: 'trailing words\r\n' },
    );
    const got = await parse(cut(body, [7]));
    expect(got.fields).toEqual({ instructorName: 'Kim' });
    expect(got.files).toEqual([{ name: 'image', filename: 'empty.jpg', declaredType: 'application/octet-stream', data: '' }]);
  });

  test('a UTF-8 filename given as filename* is decoded', async () => {
    const body = Buffer.from(
      `--${B}\r\nContent-Disposition: form-data; name="image"; filename="x.jpg"; filename*=utf-8''%EC%82%AC%EC%A7%84.jpg\r\n\r\nabc\r\n--${B}--`,
    );
    expect((await parse([body])).files[0]!.filename).toBe('사진.jpg');
  });

  test('blanks after a boundary are allowed (transport padding)', async () => {
    const body = Buffer.from(`--${B}  \t\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--${B}--`);
    expect((await parse([body])).fields).toEqual({ a: 'v' });
  });

  // Every row has all four columns: jest takes a test function with more parameters than the
  // row has columns for one that waits for a done callback.
  const refusals: [string, Buffer | string, string, Partial<MultipartLimits>][] = [
    ['a body that ends before its closing boundary', formBody(form).subarray(0, 2000), 'bad_multipart', {}],
    ['a body with no boundary at all', 'just some text', 'bad_multipart', {}],
    ['a part with no Content-Disposition', `--${B}\r\nContent-Type: text/plain\r\n\r\nv\r\n--${B}--`, 'bad_multipart', {}],
    ['a part that is not form-data', `--${B}\r\nContent-Disposition: attachment; name="a"\r\n\r\nv\r\n--${B}--`, 'bad_multipart', {}],
    ['a part with no name', `--${B}\r\nContent-Disposition: form-data\r\n\r\nv\r\n--${B}--`, 'bad_multipart', {}],
    ['a header line with no colon', `--${B}\r\nContent-Disposition form-data\r\n\r\nv\r\n--${B}--`, 'bad_multipart', {}],
    ['something other than a line end after a boundary', `--${B}xx\r\nContent-Disposition: form-data; name="a"\r\n\r\nv\r\n--${B}--`, 'bad_multipart', {}],
    ['headers that never end', `--${B}\r\nContent-Disposition: form-data; name="a"\r\nX: ${'y'.repeat(20000)}`, 'bad_multipart', {}],
    ['a text field over its byte limit', formBody([{ name: 'instructorBio', value: 'b'.repeat(5000) }]), 'field_too_long', {}],
    ['more text fields than allowed', formBody(Array.from({ length: 9 }, (_, i) => ({ name: `f${i}`, value: 'v' }))), 'too_many_fields', {}],
    ['more parts than allowed', formBody(Array.from({ length: 4 }, (_, i) => ({ name: `f${i}`, filename: 'x', data: Buffer.from('z') }))), 'too_many_fields', { parts: 3 }],
    ['a part name over its limit', formBody([{ name: 'n'.repeat(101), value: 'v' }]), 'too_many_fields', {}],
  ];
  test.each(refusals)('refuses %s', async (_what, body, code, limits) => {
    const buf = typeof body === 'string' ? Buffer.from(body) : body;
    await expect(parse(cut(buf, [100]), { limits })).rejects.toMatchObject({ code });
  });

  test('a text field over its limit is refused before the rest of it arrives', async () => {
    const source = new PassThrough();
    const reader = readMultipart(source, B, LIMITS, { onField: () => undefined, onFile: () => undefined });
    source.write(`--${B}\r\nContent-Disposition: form-data; name="bio"\r\n\r\n`);
    source.write('b'.repeat(LIMITS.fieldBytes + 10));
    await expect(reader.done).rejects.toMatchObject({ code: 'field_too_long' });
    source.destroy();
  });

  test('a handler that throws refuses the form with its error', async () => {
    const reader = readMultipart(Readable.from([formBody(form)]), B, LIMITS, {
      onField: () => {
        throw Object.assign(new Error('no fields here'), { code: 'nope' });
      },
      onFile: ({ stream }) => stream.resume(),
    });
    await expect(reader.done).rejects.toMatchObject({ code: 'nope' });
  });

  test('backpressure: a file nobody reads pauses the request; reading it lets the form go on', async () => {
    const source = new PassThrough({ highWaterMark: 64 * 1024 });
    const data = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    let stream: Readable | undefined;
    const reader = readMultipart(source, B, LIMITS, {
      onField: () => undefined,
      onFile: (part) => {
        stream = part.stream;
      },
    });
    source.write(`--${B}\r\nContent-Disposition: form-data; name="audio"; filename="v.wav"\r\n\r\n`);
    let written = 0;
    // Write until the source itself is full: the reader has stopped taking bytes.
    for (let accepted = true; accepted && written < data.length; written += 64 * 1024) accepted = source.write(data.subarray(written, written + 64 * 1024));
    await new Promise((r) => setTimeout(r, 50));
    expect(stream).toBeDefined();
    expect(source.isPaused()).toBe(true);
    expect(stream!.readableLength).toBeGreaterThan(0);
    expect(stream!.readableLength).toBeLessThanOrEqual(512 * 1024);
    expect(written).toBeLessThan(data.length);
    // Now read: the rest is sent and everything arrives.
    const got: Buffer[] = [];
    const reading = (async () => {
      for await (const c of stream!) got.push(c as Buffer);
    })();
    for (; written < data.length; written += 64 * 1024) {
      if (!source.write(data.subarray(written, written + 64 * 1024))) await new Promise((r) => source.once('drain', r));
    }
    source.end(`\r\n--${B}--\r\n`);
    await reader.done;
    await reading;
    expect(Buffer.concat(got).equals(data)).toBe(true);
  });

  test('a file that ends while its reader is behind does not hold the fields after it', async () => {
    const source = new PassThrough();
    const fields: Record<string, string> = {};
    let stream: Readable | undefined;
    const reader = readMultipart(source, B, LIMITS, {
      onField: (n, v) => {
        fields[n] = v;
      },
      onFile: (part) => {
        stream = part.stream;
      },
    });
    source.end(formBody([{ name: 'image', filename: 'a.jpg', data: Buffer.alloc(1024 * 1024, 1) }, { name: 'instructorName', value: 'Kim' }]));
    // Nobody reads the file until the form is done: the field after it still arrives.
    await reader.done;
    expect(fields).toEqual({ instructorName: 'Kim' });
    let n = 0;
    for await (const c of stream!) n += (c as Buffer).length;
    expect(n).toBe(1024 * 1024);
  });

  test('stop() ends the open file part with the error its reader hears, and settles done', async () => {
    const source = new PassThrough();
    let stream: Readable | undefined;
    const reader = readMultipart(source, B, LIMITS, { onField: () => undefined, onFile: (p) => (stream = p.stream) });
    source.write(`--${B}\r\nContent-Disposition: form-data; name="audio"; filename="v.wav"\r\n\r\nsome bytes`);
    await new Promise((r) => setImmediate(r));
    const heard = new Promise<Error>((resolve) => stream!.on('error', resolve));
    const why = new Error('refused');
    reader.stop(why);
    expect(await heard).toBe(why);
    await expect(reader.done).rejects.toBe(why);
    // The rest of the body flows away unread (the answer decides when the connection is cut).
    expect(source.readableFlowing).toBe(true);
  });
});
