/**
 * The service's HTTP API as the command line uses it: the shared Node client (clients/), made
 * with the server and the token the flags or the environment give.
 */
import { AvatarClient } from '../clients/avatarClient';

export { ApiError, Unreachable } from '../clients/errors';
export { TERMINAL, type Accepted, type JobSnapshot, type UploadRules, type WatchSettings } from '../clients/types';

export type ApiClient = AvatarClient;

export function apiClient(server: string, token?: string): ApiClient {
  return new AvatarClient(server, { token });
}
