/**
 * The embedded Cloud Tasks emulator: the Cloud Tasks v2 API over real gRPC on loopback, queues
 * and tasks in SQLite, HTTP tasks dispatched with Cloud Tasks' headers, OIDC tokens, retries and
 * limits. The local stack starts it in-process; `npm run emulator:tasks` runs it alone (main.ts).
 */
export { startCloudTasksEmulator, type CloudTasksEmulator, type CloudTasksEmulatorOptions } from './server';
export { OidcSigner } from './oidc';
