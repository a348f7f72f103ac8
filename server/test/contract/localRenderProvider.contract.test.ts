import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { LocalRenderProvider } from '../../src/adapters/localRender/localRenderProvider';
import { describeAvatarProviderContract, mediaIn } from './avatarProvider.contract';

describeAvatarProviderContract('LocalRenderProvider', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-render-contract-'));
  const blobs = new LocalBlobStore({ rootDir: path.join(root, 'blobs') });
  const provider = new LocalRenderProvider({ blobs, workDir: path.join(root, 'render'), maxConcurrentRenders: 2 });
  return {
    provider,
    ...mediaIn(blobs),
    teardown: async () => {
      await provider.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
});
