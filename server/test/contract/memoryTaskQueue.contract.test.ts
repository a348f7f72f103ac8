import { MemoryTaskQueue } from '../fakes/memoryTaskQueue';
import { describeTaskQueueContract, type ReceivedTask } from './taskQueue.contract';

// The in-memory queue the pipeline's unit tests run on passes the same suite as Cloud Tasks.
// Here a small dispatcher takes due tasks every 10 ms, as the queue's own dispatch would.
describeTaskQueueContract('MemoryTaskQueue (test fake)', async () => {
  const queue = new MemoryTaskQueue();
  const received = new Map<string, ReceivedTask[]>();
  const dispatch = setInterval(() => {
    for (const t of queue.takeDue()) {
      received.set(t.name, [...(received.get(t.name) ?? []), { body: t.task, at: Date.now(), etaMs: t.dueAt.getTime() }]);
    }
  }, 10);
  return {
    queue,
    received: (name) => received.get(name) ?? [],
    async waitUntil(predicate, timeoutMs = 5000) {
      const deadline = Date.now() + timeoutMs;
      while (!predicate()) {
        if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    },
    async close() {
      clearInterval(dispatch);
      await queue.close();
    },
  };
});
