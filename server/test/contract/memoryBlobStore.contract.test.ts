import { MemoryBlobStore } from '../fakes/memoryBlobStore';
import { describeBlobStoreContract } from './blobStore.contract';

// The in-memory store the pipeline's unit tests run on passes the same suite as the real ones.
describeBlobStoreContract('MemoryBlobStore (test fake)', async () => {
  const store = new MemoryBlobStore();
  return {
    store,
    signsUrls: false,
    keepsBytesInMemory: true,
    residue: async () => store.contents(),
    teardown: async () => {},
  };
});
