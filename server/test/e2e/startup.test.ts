import net from 'node:net';
import { freePort, startTestStack } from '../support/stack';

// The port opens before the store, the queue and the app are ready; Cloud Run sends traffic as
// soon as the port accepts. A request in that window must be answered, not left hanging.

function connectAsap(port: number, until: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const socket = net.connect(port, '127.0.0.1');
      socket.once('connect', () => resolve(socket));
      socket.once('error', () => {
        socket.destroy();
        if (Date.now() > until) reject(new Error('the port never opened'));
        else setTimeout(attempt, 2);
      });
    };
    attempt();
  });
}

test('a request that arrives while the service is still starting is answered once it is ready', async () => {
  const port = await freePort();
  const starting = startTestStack({ env: { PORT: String(port) } });
  const socket = await connectAsap(port, Date.now() + 20000);
  let readyAt = 0;
  void starting.then(() => (readyAt = Date.now()));
  const answer = new Promise<string>((resolve, reject) => {
    let text = '';
    socket.on('data', (d) => {
      text += d.toString();
      if (text.includes('\r\n\r\n') && text.includes('}')) resolve(text);
    });
    socket.on('error', reject);
    // Unref'd: once the answer is in, this timer must not hold the test process open.
    setTimeout(() => reject(new Error(`no answer; got ${JSON.stringify(text)}`)), 15000).unref();
  });
  socket.write('GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n');
  const sentAt = Date.now();
  const stack = await starting;
  try {
    const text = await answer;
    expect(text).toMatch(/^HTTP\/1\.1 200/);
    expect(text).toContain('"store":"ok"');
    // The request really was early: it went out before the start finished.
    expect(sentAt).toBeLessThanOrEqual(readyAt);
  } finally {
    socket.destroy();
    await stack.close();
  }
});
