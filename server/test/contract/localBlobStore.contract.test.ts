import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { describeBlobStoreContract } from './blobStore.contract';

/** Every file under `dir`, relative, sorted: temp files from a failed write would show here. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)))
    .sort();
}

describeBlobStoreContract('LocalBlobStore', async () => {
  const rootDir = await fs.mkdtemp(path.join(os.tmpdir(), 'local-blobs-'));
  return {
    store: new LocalBlobStore({ rootDir }),
    signsUrls: false,
    residue: () => listFiles(rootDir),
    teardown: () => fs.rm(rootDir, { recursive: true, force: true }),
  };
});
