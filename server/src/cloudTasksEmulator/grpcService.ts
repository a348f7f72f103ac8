import crypto from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../logger';
import type { Dispatcher } from './dispatcher';
import {
  DEFAULT_RATE_LIMITS,
  DEFAULT_RETRY,
  applyQueueFields,
  decodeToken,
  encodeToken,
  page,
  pageSize,
  queueToProto,
  taskToProto,
  type Req,
} from './protoMapping';
import type { EmulatorStore, QueueRecord, TaskRecord } from './store';
import {
  MAX_TASK_BYTES,
  RpcError,
  camelPath,
  checkDeadline,
  checkHttpRequest,
  checkLocationName,
  checkQueueName,
  checkScheduleTime,
  checkTaskName,
  invalid,
  notFound,
} from './validation';

/**
 * The Cloud Tasks v2 API's methods (queues, tasks, pause/resume/purge, RunTask), one per RPC:
 * requests are checked as the real API checks them, queues and tasks live in the store, and the
 * dispatcher is woken when there may be work.
 */
export class CloudTasksService {
  constructor(
    private readonly store: EmulatorStore,
    private readonly dispatcher: Dispatcher,
    private readonly log: Logger,
    private readonly tombstoneMs: number,
    private readonly minDeadlineMs: number,
  ) {}

  // ---------------------------------------------------------------- queues

  createQueue(req: Req): unknown {
    const parent = checkLocationName(req.parent);
    const input = req.queue ?? {};
    const name = checkQueueName(input.name, 'queue.name');
    if (!name.startsWith(`${parent}/queues/`)) throw invalid(`queue.name ${name} is not under ${parent}`);
    if (this.store.getQueue(name)) throw new RpcError(grpc.status.ALREADY_EXISTS, `queue ${name} already exists`);
    const queue = applyQueueFields(
      { name, state: 'RUNNING', rateLimits: { ...DEFAULT_RATE_LIMITS }, retryConfig: { ...DEFAULT_RETRY } },
      input,
      undefined,
    );
    this.store.putQueue(queue);
    this.log.info({ message: 'queue created', queue: name });
    return queueToProto(queue);
  }

  /** Like the real UpdateQueue: creates the queue when it is missing. */
  updateQueue(req: Req): unknown {
    const input = req.queue ?? {};
    const name = checkQueueName(input.name, 'queue.name');
    const existing = this.store.getQueue(name) ?? {
      name,
      state: 'RUNNING' as const,
      rateLimits: { ...DEFAULT_RATE_LIMITS },
      retryConfig: { ...DEFAULT_RETRY },
    };
    const paths: string[] | undefined = req.updateMask?.paths?.length ? req.updateMask.paths.map(camelPath) : undefined;
    const queue = applyQueueFields(existing, input, paths);
    this.store.putQueue(queue);
    this.dispatcher.resetRuntime(name);
    this.dispatcher.wake();
    return queueToProto(queue);
  }

  getQueue(req: Req): unknown {
    return queueToProto(this.requireQueue(req.name));
  }

  listQueues(req: Req): unknown {
    const parent = checkLocationName(req.parent);
    const all = this.store.listQueues(`${parent}/queues/`);
    const { items, nextPageToken } = page(all, req.pageSize, req.pageToken, 1000);
    return { queues: items.map(queueToProto), nextPageToken };
  }

  deleteQueue(req: Req): unknown {
    const queue = this.requireQueue(req.name);
    this.store.deleteQueue(queue.name);
    this.dispatcher.forgetQueue(queue.name);
    return {};
  }

  purgeQueue(req: Req): unknown {
    const queue = this.requireQueue(req.name);
    const now = Date.now();
    const removed = this.store.purgeQueue(queue.name, now + this.tombstoneMs);
    queue.purgeTimeMs = now;
    this.store.putQueue(queue);
    this.log.info({ message: 'queue purged', queue: queue.name, removed });
    return queueToProto(queue);
  }

  setQueueState(req: Req, state: 'RUNNING' | 'PAUSED'): unknown {
    const queue = this.requireQueue(req.name);
    if (queue.state === 'DISABLED') throw new RpcError(grpc.status.FAILED_PRECONDITION, `queue ${queue.name} is disabled`);
    queue.state = state;
    this.store.putQueue(queue);
    this.dispatcher.wake();
    return queueToProto(queue);
  }

  private requireQueue(name: unknown): QueueRecord {
    const queueName = checkQueueName(name);
    const queue = this.store.getQueue(queueName);
    if (!queue) throw notFound(`queue ${queueName} does not exist`);
    return queue;
  }

  // ---------------------------------------------------------------- tasks

  createTask(req: Req): unknown {
    const parent = checkQueueName(req.parent, 'parent');
    const queue = this.store.getQueue(parent);
    if (!queue) throw notFound(`queue ${parent} does not exist`);
    if (queue.state === 'DISABLED') throw new RpcError(grpc.status.FAILED_PRECONDITION, `queue ${parent} is disabled`);
    const input = req.task;
    if (!input) throw invalid('task is required');
    let name: string;
    if (input.name) {
      const checked = checkTaskName(input.name);
      if (checked.queue !== parent) throw invalid(`task name ${input.name} is not in queue ${parent}`);
      name = checked.name;
    } else {
      // The real service makes up a numeric id for unnamed tasks.
      name = `${parent}/tasks/${BigInt('0x' + crypto.randomBytes(8).toString('hex')).toString()}`;
    }
    const now = Date.now();
    const task: TaskRecord = {
      name,
      queue: parent,
      http: checkHttpRequest(input),
      scheduleMs: checkScheduleTime(input.scheduleTime, now),
      createMs: now,
      dispatchDeadlineMs: checkDeadline(input.dispatchDeadline, this.minDeadlineMs),
      dispatchCount: 0,
      responseCount: 0,
      executionCount: 0,
    };
    const size = Buffer.byteLength(JSON.stringify(task.http));
    if (size > MAX_TASK_BYTES) throw invalid(`task is ${size} bytes; the limit is ${MAX_TASK_BYTES}`);
    if (this.store.insertTask(task, now) === 'exists') {
      throw new RpcError(grpc.status.ALREADY_EXISTS, `task ${name} already exists or existed recently`);
    }
    this.log.debug({ message: 'task created', task: name, scheduleMs: task.scheduleMs });
    this.dispatcher.wake();
    return taskToProto(task, req.responseView);
  }

  getTask(req: Req): unknown {
    return taskToProto(this.requireTask(req.name), req.responseView);
  }

  listTasks(req: Req): unknown {
    const queue = this.requireQueue(req.parent);
    const offset = decodeToken(req.pageToken);
    const size = pageSize(req.pageSize, 1000);
    const items = this.store.listTasks(queue.name, offset, size + 1);
    const more = items.length > size;
    return {
      tasks: items.slice(0, size).map((t) => taskToProto(t, req.responseView)),
      nextPageToken: more ? encodeToken(offset + size) : '',
    };
  }

  deleteTask(req: Req): unknown {
    const task = this.requireTask(req.name);
    this.store.removeTask(task.name, Date.now() + this.tombstoneMs);
    this.log.debug({ message: 'task deleted', task: task.name });
    return {};
  }

  /** Dispatches a task now, whatever its schedule, the queue's limits or state. */
  runTask(req: Req): unknown {
    const task = this.requireTask(req.name);
    const queue = this.store.getQueue(task.queue);
    if (!queue) throw notFound(`queue ${task.queue} does not exist`);
    this.dispatcher.runNow(queue, task);
    return taskToProto(task, req.responseView);
  }

  private requireTask(name: unknown): TaskRecord {
    const checked = checkTaskName(name);
    const task = this.store.getTask(checked.name);
    if (!task) throw notFound(`task ${checked.name} does not exist`);
    return task;
  }
}
