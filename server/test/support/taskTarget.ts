import http from 'node:http';
import type { AddressInfo } from 'node:net';

/** One HTTP request the target received. */
export interface Delivery {
  at: number;
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  body: string;
  /** Set when the caller hung up before the answer (a dispatch deadline). */
  abortedAt?: number;
}

/** How the target answers one delivery. */
export interface Answer {
  status?: number;
  headers?: Record<string, string>;
  delayMs?: number;
}

/**
 * A small node:http server on 127.0.0.1 that stands in for the worker: it records every
 * request, answers as the test says, and tracks how many requests are open at once.
 */
export class TaskTarget {
  readonly deliveries: Delivery[] = [];
  inFlight = 0;
  maxInFlight = 0;
  answer: (delivery: Delivery, index: number) => Answer = () => ({ status: 200 });
  private server?: http.Server;
  private waiters: (() => void)[] = [];

  async start(): Promise<this> {
    this.server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const delivery: Delivery = {
          at: Date.now(),
          method: req.method ?? '',
          path: req.url ?? '',
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        };
        const index = this.deliveries.push(delivery) - 1;
        this.inFlight += 1;
        this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
        for (const wake of this.waiters.splice(0)) wake();
        const answer = this.answer(delivery, index);
        let finished = false;
        const timer = setTimeout(() => {
          finished = true;
          this.inFlight -= 1;
          res.writeHead(answer.status ?? 200, answer.headers);
          res.end('ok');
        }, answer.delayMs ?? 0);
        res.on('close', () => {
          if (!finished) {
            clearTimeout(timer);
            delivery.abortedAt = Date.now();
            this.inFlight -= 1;
          }
        });
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return (this.server!.address() as AddressInfo).port;
  }

  url(path = '/worker/process-avatar'): string {
    return `http://127.0.0.1:${this.port}${path}`;
  }

  /** Deliveries whose X-CloudTasks-TaskName is `taskId`. */
  forTask(taskId: string): Delivery[] {
    return this.deliveries.filter((d) => d.headers['x-cloudtasks-taskname'] === taskId);
  }

  /** Resolves once `predicate` holds, checking on every delivery; rejects after `timeoutMs`. */
  async waitUntil(predicate: () => boolean, timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`target: condition not met within ${timeoutMs} ms (${this.deliveries.length} deliveries)`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 50));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
  }
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
