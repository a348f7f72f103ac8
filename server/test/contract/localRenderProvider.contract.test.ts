import { createReadStream, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { LocalBlobStore } from '../../src/adapters/localBlobStore';
import { LocalRenderProvider } from '../../src/adapters/localRender/localRenderProvider';
import { CONTENT_TYPE, type HeaderFormat } from '../support/media';
import { describeAvatarProviderContract } from './avatarProvider.contract';

function contentTypeOf(file: string): string {
  const ext = path.extname(file).slice(1).toLowerCase();
  const format = (ext === 'jpg' ? 'jpeg' : ext) as HeaderFormat;
  return CONTENT_TYPE[format] ?? 'application/octet-stream';
}

describeAvatarProviderContract('LocalRenderProvider', async () => {
  const root = await fs.mkdtemp(path.join(os.tmpdir(), 'local-render-contract-'));
  const blobs = new LocalBlobStore({ rootDir: path.join(root, 'blobs') });
  const provider = new LocalRenderProvider({ blobs, workDir: path.join(root, 'render'), maxConcurrentRenders: 2 });
  let n = 0;
  const put = async (file: string, kind: string) => {
    const key = `uploads/${kind}-${++n}${path.extname(file)}`;
    const contentType = contentTypeOf(file);
    await blobs.putStream(key, createReadStream(file), { contentType });
    return { key, contentType };
  };
  return {
    provider,
    putImage: (file) => put(file, 'image'),
    putAudio: (file) => put(file, 'audio'),
    teardown: async () => {
      await provider.close();
      await fs.rm(root, { recursive: true, force: true });
    },
  };
});
