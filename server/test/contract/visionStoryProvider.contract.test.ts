import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { VisionStoryProvider } from '../../src/adapters/visionStoryProvider';
import { startVisionStorySimulator } from '../../standins/visionStorySimulator';
import { describeAvatarProviderContract, mediaIn } from './avatarProvider.contract';

/**
 * The AvatarProvider contract, run against VisionStoryProvider talking HTTP to the VisionStory
 * simulator (real MP4 renders). The local blob store has no public URLs, so inputs travel inline
 * as base64, as they do in a local dress rehearsal.
 */

describeAvatarProviderContract(
  'VisionStoryProvider against the VisionStory simulator',
  async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'visionstory-contract-'));
    const blobs = new LocalBlobStore({ rootDir: path.join(root, 'blobs') });
    const sim = await startVisionStorySimulator({ apiKey: 'contract-key', latencyMs: 300 });
    const provider = new VisionStoryProvider({ apiKey: 'contract-key', baseUrl: sim.baseUrl, blobs, timeoutMs: 10_000 });
    return {
      provider,
      ...mediaIn(blobs),
      teardown: async () => {
        await sim.close();
        await fs.rm(root, { recursive: true, force: true });
      },
    };
  },
  { pollIntervalMs: 100 },
);
