import net from 'node:net';
import * as grpc from '@grpc/grpc-js';

/** A failure answered to the gRPC caller with a status code, as the real API would. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export const invalid = (message: string) => new RpcError(grpc.status.INVALID_ARGUMENT, message);
export const notFound = (message: string) => new RpcError(grpc.status.NOT_FOUND, message);

const LOCATION_RE = /^projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+$/;
// Queue ids: letters, digits and hyphens, at most 100 characters (API reference).
const QUEUE_RE = /^(projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+)\/queues\/[A-Za-z0-9-]{1,100}$/;
// Task ids: letters, digits, hyphens and underscores, at most 500 characters.
const TASK_RE = /^(projects\/[A-Za-z0-9.:_-]+\/locations\/[A-Za-z0-9_-]+\/queues\/[A-Za-z0-9-]{1,100})\/tasks\/[A-Za-z0-9_-]{1,500}$/;

export function checkLocationName(name: unknown): string {
  if (typeof name !== 'string' || !LOCATION_RE.test(name)) {
    throw invalid(`parent must look like projects/PROJECT/locations/LOCATION, got "${String(name)}"`);
  }
  return name;
}

export function checkQueueName(name: unknown, field = 'name'): string {
  if (typeof name !== 'string' || !QUEUE_RE.test(name)) {
    throw invalid(`${field} must look like projects/PROJECT/locations/LOCATION/queues/QUEUE_ID, got "${String(name)}"`);
  }
  return name;
}

/** Checks a full task name and returns its queue name. */
export function checkTaskName(name: unknown): { name: string; queue: string } {
  const match = typeof name === 'string' ? TASK_RE.exec(name) : null;
  if (!match) {
    throw invalid(`task name must look like projects/PROJECT/locations/LOCATION/queues/QUEUE_ID/tasks/TASK_ID, got "${String(name)}"`);
  }
  return { name: name as string, queue: match[1] };
}

/** True for 127.0.0.0/8, ::1 and localhost: the only targets this emulator will call. */
export function isLoopbackHost(hostname: string): boolean {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (net.isIPv4(host)) return host.startsWith('127.');
  if (net.isIPv6(host)) return host === '::1' || host === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(host);
  return false;
}

/** A `google.protobuf.FieldMask` path in the client's camelCase (callers send either form). */
export function camelPath(path: string): string {
  return path
    .split('.')
    .map((part) => part.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()))
    .join('.');
}
