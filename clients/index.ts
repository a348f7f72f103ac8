/** The typed Node client of the avatar video service (see avatarClient.ts). */
export { AvatarClient, type AvatarClientOptions, type CallOptions, type PollAnswer } from './avatarClient';
export { ApiError, Unreachable, apiError, unreachable } from './errors';
export { serverSentEvents, type ServerSentEvent } from './events';
export { postMultipart, multipartBody, type MultipartAnswer, type MultipartOptions, type MultipartPart } from './multipart';
export { saveBody } from './download';
export { TERMINAL, type Accepted, type ClientConfig, type UploadRules, type JobPage, type JobSnapshot, type JobStatus, type UploadFile, type WatchSettings } from './types';
