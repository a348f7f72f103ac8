import { MemoryJobStore } from '../fakes/memoryJobStore';
import { describeJobStoreContract } from './jobStore.contract';

// The in-memory store the pipeline's unit tests run on passes the same suite as the real ones.
describeJobStoreContract('MemoryJobStore (test fake)', async () => {
  const store = new MemoryJobStore();
  return { store, teardown: () => store.close() };
});
