import { randomUUID } from 'node:crypto';
import type { DeviceStore } from '../../src/ports/deviceStore';

/** The DeviceStore contract, run against every adapter. */
export function describeDeviceStoreContract(name: string, setup: () => Promise<{ store: DeviceStore; teardown: () => Promise<void> }>): void {
  describe(`DeviceStore contract: ${name}`, () => {
    let store: DeviceStore;
    let teardown: () => Promise<void>;
    beforeEach(async () => {
      ({ store, teardown } = await setup());
    });
    afterEach(async () => teardown());

    test("an owner's devices come back newest first, and no one else's", async () => {
      const owner = `u-${randomUUID()}`;
      await store.register({ token: 'tok-a', ownerUid: owner, platform: 'android', updatedAt: '2025-01-01T00:00:00.000Z' });
      await store.register({ token: 'tok-b', ownerUid: owner, platform: 'ios', updatedAt: '2025-01-02T00:00:00.000Z' });
      await store.register({ token: 'tok-c', ownerUid: `other-${owner}`, platform: 'web', updatedAt: '2025-01-03T00:00:00.000Z' });
      expect(await store.listByOwner(owner)).toEqual([
        { token: 'tok-b', ownerUid: owner, platform: 'ios', updatedAt: '2025-01-02T00:00:00.000Z' },
        { token: 'tok-a', ownerUid: owner, platform: 'android', updatedAt: '2025-01-01T00:00:00.000Z' },
      ]);
    });

    test('registering a token again, under another user, moves it instead of copying it', async () => {
      const first = `u-${randomUUID()}`;
      const second = `u-${randomUUID()}`;
      const token = `tok-${randomUUID()}:with/odd+chars`;
      await store.register({ token, ownerUid: first, platform: 'android', updatedAt: '2025-01-01T00:00:00.000Z' });
      await store.register({ token, ownerUid: second, platform: 'android', updatedAt: '2025-01-05T00:00:00.000Z' });
      expect(await store.listByOwner(first)).toEqual([]);
      expect((await store.listByOwner(second)).map((d) => d.token)).toEqual([token]);
    });

    test('a removed token is gone; removing it twice is fine', async () => {
      const owner = `u-${randomUUID()}`;
      await store.register({ token: 'tok-x', ownerUid: owner, platform: 'web', updatedAt: '2025-01-01T00:00:00.000Z' });
      await store.remove('tok-x');
      await expect(store.remove('tok-x')).resolves.toBeUndefined();
      expect(await store.listByOwner(owner)).toEqual([]);
    });
  });
}
