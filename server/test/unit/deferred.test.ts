import { deferredDeviceStore, loadOnce } from '../../src/adapters/deferred';
import type { DeviceStore } from '../../src/ports/deviceStore';

// Cloud adapters are made on first use (and by the warm-up after listening).

test('callers arriving together share one load', async () => {
  let loads = 0;
  const { ready } = loadOnce(async () => ++loads);
  expect(await Promise.all([ready(), ready(), ready()])).toEqual([1, 1, 1]);
  expect(loads).toBe(1);
});

test('a load that failed is tried again by the next caller, not remembered as a failure', async () => {
  let loads = 0;
  const { ready } = loadOnce(async () => {
    loads += 1;
    if (loads === 1) throw new Error('passing trouble');
    return 'made';
  });
  await expect(ready()).rejects.toThrow('passing trouble');
  await expect(ready()).resolves.toBe('made');
  await expect(ready()).resolves.toBe('made');
  expect(loads).toBe(2);
});

test('a deferred port loads its adapter on the first call, and close() never loads one just to close it', async () => {
  let loads = 0;
  const real: DeviceStore = {
    register: async () => undefined,
    listByOwner: async () => ['token-1'] as never,
    remove: async () => undefined,
  } as unknown as DeviceStore;
  const devices = deferredDeviceStore(async () => {
    loads += 1;
    return real;
  });
  await (devices.port as unknown as { close: () => Promise<void> }).close();
  expect(loads).toBe(0);
  await expect(devices.port.listByOwner('u')).resolves.toEqual(['token-1']);
  await devices.port.listByOwner('u');
  expect(loads).toBe(1);
});
