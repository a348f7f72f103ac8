import { randomUUID } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { deleteApp, initializeApp, type App } from 'firebase-admin/app';
import { getFirestore } from 'firebase-admin/firestore';
import { FirestoreDeviceStore } from '../../src/adapters/firestoreDeviceStore';
import { SqliteDeviceStore } from '../../src/adapters/sqliteDeviceStore';
import { startFirestoreEmulator, type FirestoreEmulator } from '../support/firestoreEmulator';
import { describeDeviceStoreContract } from './deviceStore.contract';

describeDeviceStoreContract('SqliteDeviceStore', async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'devices-'));
  const store = new SqliteDeviceStore({ file: path.join(dir, 'devices.sqlite') });
  return { store, teardown: async () => { await store.close(); await rm(dir, { recursive: true, force: true }); } };
});

// Google's emulator when FIRESTORE_EMULATOR_HOST names one, else the in-process npm emulator.
const googleEmulatorHost = process.env.FIRESTORE_EMULATOR_HOST;
let emulator: FirestoreEmulator | undefined;
let app: App;
beforeAll(async () => {
  if (!googleEmulatorHost) {
    emulator = await startFirestoreEmulator();
    process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
  }
  app = initializeApp({ projectId: 'demo-test' }, `devices-contract-${randomUUID()}`);
});
afterAll(async () => {
  await emulator?.stop();
  await deleteApp(app);
  if (!googleEmulatorHost) delete process.env.FIRESTORE_EMULATOR_HOST;
});

describeDeviceStoreContract('FirestoreDeviceStore', async () => ({
  store: new FirestoreDeviceStore({ firestore: getFirestore(app), collection: `userDevices-${randomUUID()}` }),
  teardown: async () => undefined,
}));
