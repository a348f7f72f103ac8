import { FirestoreServer } from '@firestore-emulator/server';
import type { Server } from '@grpc/grpc-js';
import path from 'node:path';

/**
 * The npm Firestore emulator (`@firestore-emulator/server`), started in-process for tests: the
 * official client libraries talk to it over real gRPC on loopback.
 *
 * What it gets right: document reads and writes, `create` preconditions, equality / `in` filters,
 * ordering by fields, count aggregations, and document listeners. What it gets wrong, measured
 * against firebase-admin 13 (and patched or skipped here):
 * - Query cursors (`startAt` / `startAfter` / `endAt` / `endBefore`) and `offset` are ignored,
 *   and ordering by the document id (`FieldPath.documentId()`, `__name__`) is a no-op. A paged
 *   owner list would repeat its first page forever. {@link patchQueryCursors} adds them, so the
 *   adapter's production query runs unchanged.
 * - Transactions are not isolated: there is one dummy transaction id, two conflicting
 *   transactions both commit, and `update_time` preconditions are ignored. Nothing is patched
 *   for that; the concurrency contract cases are skipped against this emulator.
 */
export interface FirestoreEmulator {
  /** `127.0.0.1:<port>`, the value for FIRESTORE_EMULATOR_HOST. */
  host: string;
  port: number;
  /** Drops every document (between tests). */
  clear(): void;
  stop(): Promise<void>;
}

/** Starts the emulator on 127.0.0.1 and a free port. */
export async function startFirestoreEmulator(): Promise<FirestoreEmulator> {
  const emulator = new FirestoreServer();
  patchQueryCursors(emulator);
  // FirestoreServer.start(port) binds 0.0.0.0 and does not say which port it got; bind its
  // gRPC server ourselves to loopback and port 0 instead.
  const grpcServer = (emulator as unknown as { server: Server }).server;
  // The emulator pins its own @grpc/grpc-js, which only accepts its own credentials objects.
  const grpcDir = path.dirname(require.resolve('@firestore-emulator/server'));
  const { ServerCredentials } = require(require.resolve('@grpc/grpc-js', { paths: [grpcDir] })) as typeof import('@grpc/grpc-js');
  const port = await new Promise<number>((resolve, reject) => {
    grpcServer.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(err) : resolve(bound),
    );
  });
  return {
    host: `127.0.0.1:${port}`,
    port,
    clear: () => emulator.state.clear(),
    stop: async () => {
      // The emulator never ends a listen stream after the client unsubscribes (half-closes), so
      // a graceful shutdown would wait forever. Force it, then give the clients a moment to
      // take in the final status of those streams.
      grpcServer.forceShutdown();
      await new Promise((resolve) => setTimeout(resolve, 50));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Query cursors and document-id ordering, which the emulator's v1Query ignores.

interface ProtoValue {
  null_value?: unknown;
  boolean_value?: boolean;
  integer_value?: number | string;
  double_value?: number;
  timestamp_value?: { seconds?: number | string; nanos?: number };
  string_value?: string;
  reference_value?: string;
}

interface ProtoMessage {
  toObject(): unknown;
  serializeBinary(): Uint8Array;
}

interface StructuredQuery extends ProtoMessage {
  order_by: { field: { field_path: string }; direction: number }[];
  has_start_at: boolean;
  has_end_at: boolean;
  start_at: { values: ProtoMessage[]; before: boolean };
  end_at: { values: ProtoMessage[]; before: boolean };
  offset: number;
  has_limit: boolean;
  limit: { value: number } | undefined;
}

interface EmulatedDocument {
  getPath(): string;
  getField(path: string): { toV1ValueObject(): ProtoValue } | undefined;
}

type V1Query = (parent: string, query: StructuredQuery) => EmulatedDocument[];

const DESCENDING = 2;

function patchQueryCursors(emulator: FirestoreServer): void {
  const state = emulator.state as unknown as { v1Query: V1Query };
  const original = state.v1Query.bind(state);
  state.v1Query = (parent, query) => {
    const byName = query.order_by.some((o) => o.field.field_path === '__name__');
    if (!byName && !query.has_start_at && !query.has_end_at && !query.offset) return original(parent, query);

    // Let the emulator filter without its limit, then order, cut and limit here.
    const Ctor = query.constructor as unknown as { deserializeBinary(b: Uint8Array): StructuredQuery };
    const unlimited = Ctor.deserializeBinary(query.serializeBinary());
    unlimited.limit = undefined;
    let docs = original(parent, unlimited);

    const orders = query.order_by.map((o) => ({ path: o.field.field_path, desc: o.direction === DESCENDING }));
    // Firestore always breaks ties by document name, in the direction of the last order.
    if (!byName) orders.push({ path: '__name__', desc: orders[orders.length - 1]?.desc ?? false });
    const valueOf = (doc: EmulatedDocument, path: string): ProtoValue | undefined =>
      path === '__name__' ? { reference_value: doc.getPath() } : doc.getField(path)?.toV1ValueObject();
    const compareToValues = (doc: EmulatedDocument, values: ProtoValue[]): number => {
      for (let i = 0; i < values.length && i < orders.length; i += 1) {
        const order = orders[i]!;
        const c = compareValues(valueOf(doc, order.path), values[i]);
        if (c !== 0) return order.desc ? -c : c;
      }
      return 0;
    };
    docs = docs.slice().sort((a, b) => {
      for (const order of orders) {
        const c = compareValues(valueOf(a, order.path), valueOf(b, order.path));
        if (c !== 0) return order.desc ? -c : c;
      }
      return 0;
    });
    if (query.has_start_at) {
      const { values, before } = query.start_at;
      const cursor = values.map(cursorValue);
      docs = docs.filter((d) => (before ? compareToValues(d, cursor) >= 0 : compareToValues(d, cursor) > 0));
    }
    if (query.has_end_at) {
      const { values, before } = query.end_at;
      const cursor = values.map(cursorValue);
      docs = docs.filter((d) => (before ? compareToValues(d, cursor) < 0 : compareToValues(d, cursor) <= 0));
    }
    if (query.offset) docs = docs.slice(query.offset);
    if (query.has_limit && query.limit) docs = docs.slice(0, query.limit.value);
    return docs;
  };
}

/**
 * A cursor value as a plain object holding only the kind that is set: the generated toObject()
 * also fills every other member of the oneof with its default.
 */
function cursorValue(message: ProtoMessage): ProtoValue {
  const all = message.toObject() as Record<string, unknown>;
  const set = message as unknown as Record<string, unknown>;
  const kinds = ['null_value', 'boolean_value', 'integer_value', 'double_value', 'timestamp_value', 'string_value', 'reference_value'];
  const kind = kinds.find((k) => set[`has_${k}`] === true);
  return kind ? ({ [kind]: all[kind] } as ProtoValue) : {};
}

/** Firestore's cross-type value order, for the types a cursor can hold here. */
function compareValues(a: ProtoValue | undefined, b: ProtoValue | undefined): number {
  const rank = (v: ProtoValue | undefined): number => {
    if (!v || 'null_value' in v) return 0;
    if (v.boolean_value !== undefined) return 1;
    if (v.integer_value !== undefined || v.double_value !== undefined) return 2;
    if (v.timestamp_value !== undefined) return 3;
    if (v.string_value !== undefined) return 4;
    if (v.reference_value !== undefined) return 6;
    return 9;
  };
  const ra = rank(a);
  const rb = rank(b);
  if (ra !== rb) return ra - rb;
  switch (ra) {
    case 1:
      return Number(a!.boolean_value) - Number(b!.boolean_value);
    case 2:
      return Number(a!.integer_value ?? a!.double_value) - Number(b!.integer_value ?? b!.double_value);
    case 3: {
      const ta = a!.timestamp_value!;
      const tb = b!.timestamp_value!;
      return Number(ta.seconds ?? 0) - Number(tb.seconds ?? 0) || (ta.nanos ?? 0) - (tb.nanos ?? 0);
    }
    case 4:
      return compareStrings(a!.string_value!, b!.string_value!);
    case 6:
      return compareStrings(a!.reference_value!, b!.reference_value!);
    default:
      return 0;
  }
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
