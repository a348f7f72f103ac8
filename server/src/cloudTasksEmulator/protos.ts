import fs from 'node:fs';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

/**
 * Finds a package's `build/protos` folder. `@google-cloud/tasks` does not export its
 * package.json (an `exports` map hides it), so we resolve the entry point and walk up until a
 * folder holds `build/protos`.
 */
function findProtosDir(packageName: string, probe: string): string {
  let dir = path.dirname(require.resolve(packageName));
  for (;;) {
    const candidate = path.join(dir, 'build', 'protos');
    if (fs.existsSync(path.join(candidate, probe))) return candidate;
    const parent = path.dirname(dir);
    if (parent === dir) throw new Error(`cannot find build/protos (${probe}) for ${packageName}`);
    dir = parent;
  }
}

/** Folders the Cloud Tasks v2 protos import from: the tasks package's own, then google-gax's. */
export function cloudTasksProtoDirs(): string[] {
  const tasksDir = findProtosDir('@google-cloud/tasks', 'google/cloud/tasks/v2/cloudtasks.proto');
  // google-gax ships google/api, google/iam, google/rpc, google/protobuf. Resolve it from the
  // tasks package so we get the copy the client itself uses.
  const gaxEntry = require.resolve('google-gax', { paths: [tasksDir] });
  let dir = path.dirname(gaxEntry);
  let gaxDir: string | undefined;
  for (;;) {
    const candidate = path.join(dir, 'build', 'protos');
    if (fs.existsSync(path.join(candidate, 'google/api/annotations.proto'))) {
      gaxDir = candidate;
      break;
    }
    const parent = path.dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  if (!gaxDir) throw new Error('cannot find google-gax build/protos');
  return [tasksDir, gaxDir];
}

/** The `google.cloud.tasks.v2.CloudTasks` service definition, as grpc-js wants it. */
export function loadCloudTasksService(): grpc.ServiceDefinition {
  const definition = protoLoader.loadSync('google/cloud/tasks/v2/cloudtasks.proto', {
    includeDirs: cloudTasksProtoDirs(),
    // camelCase field names, like the Node client; no defaults so that an absent field (for
    // example scheduleTime) stays undefined instead of turning into a zero value.
    keepCase: false,
    longs: Number,
    enums: String,
    defaults: false,
    oneofs: true,
  });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    google: { cloud: { tasks: { v2: { CloudTasks: grpc.ServiceClientConstructor } } } };
  };
  return pkg.google.cloud.tasks.v2.CloudTasks.service;
}
