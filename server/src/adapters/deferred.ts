import type { AvatarProvider } from '../ports/avatarProvider';
import type { BlobStore } from '../ports/blobStore';
import type { DeviceStore } from '../ports/deviceStore';
import type { JobStore, Unsubscribe } from '../ports/jobStore';

/**
 * A port whose adapter is made on first use. The Google client libraries take most of a cloud
 * instance's start-up to load (firebase-admin and Firestore, Cloud Storage, axios): the service
 * listens without them, calls {@link Deferred.ready} right after (the warm-up), and a request
 * that arrives sooner waits for the same load instead of starting another.
 */
export interface Deferred<T> {
  port: T;
  /** Loads and makes the adapter, once; every call of the port waits for it first. */
  ready(): Promise<T>;
}

type AsyncMethodNames<T> = { [K in keyof T]-?: NonNullable<T[K]> extends (...args: never[]) => Promise<unknown> ? K : never }[keyof T] & string;

/**
 * `load` run once for every caller; a failed load is forgotten, so the next caller tries again
 * (a warm-up that failed on a passing error must not fail every later request).
 */
export function loadOnce<T>(load: () => Promise<T>): { ready: () => Promise<T>; loaded: () => Promise<T | undefined> } {
  let loading: Promise<T> | undefined;
  const ready = (): Promise<T> =>
    (loading ??= load().catch((err: unknown) => {
      loading = undefined;
      throw err;
    }));
  return { ready, loaded: async () => loading?.catch(() => undefined) };
}

function deferred<T extends object>(load: () => Promise<T>, methods: readonly AsyncMethodNames<T>[], own: Partial<T> = {}): Deferred<T> {
  const { ready, loaded } = loadOnce(load);
  const port: Record<string, unknown> = {};
  for (const name of methods) {
    port[name] = async (...args: unknown[]) => {
      const real = (await ready()) as Record<string, (...a: unknown[]) => Promise<unknown>>;
      return real[name]!(...args);
    };
  }
  // close() never loads an adapter just to close it.
  port.close = async () => {
    const real = (await loaded()) as { close?: () => Promise<void> } | undefined;
    await real?.close?.();
  };
  Object.assign(port, own);
  return { port: port as T, ready };
}

export function deferredJobStore(load: () => Promise<JobStore>): Deferred<JobStore> {
  const store: Deferred<JobStore> = deferred<JobStore>(
    load,
    ['create', 'get', 'listByOwner', 'createWithinLimit', 'countActiveByOwner', 'listOverdue', 'update', 'delete', 'listEndedBefore', 'getProviderStats', 'updateProviderStats', 'ping'],
    {
      // watch() answers at once with its unsubscribe; the listener starts once the store is made.
      watch(jobId, onSnapshot, onError): Unsubscribe {
        let stopped = false;
        let unsubscribe: Unsubscribe | undefined;
        store.ready().then(
          (real) => {
            if (!stopped) unsubscribe = real.watch(jobId, onSnapshot, onError);
          },
          (err: unknown) => {
            if (!stopped) onError?.(err instanceof Error ? err : new Error(String(err)));
          },
        );
        return () => {
          stopped = true;
          unsubscribe?.();
        };
      },
    },
  );
  return store;
}

export function deferredDeviceStore(load: () => Promise<DeviceStore>): Deferred<DeviceStore> {
  return deferred<DeviceStore>(load, ['register', 'listByOwner', 'remove']);
}

/** A blob store in the cloud (Cloud Storage): no local paths, custom times for lifecycle rules. */
export function deferredBlobStore(load: () => Promise<BlobStore>): Deferred<BlobStore> {
  return deferred<BlobStore>(load, ['putStream', 'openRead', 'stat', 'signedReadUrl', 'delete', 'setCustomTime']);
}

/** A provider by its name, known before its adapter is loaded. */
export function deferredProvider(name: string, load: () => Promise<AvatarProvider>): Deferred<AvatarProvider> {
  return deferred<AvatarProvider>(load, ['createAvatar', 'createVideo', 'getVideo', 'openVideo'], { name });
}
