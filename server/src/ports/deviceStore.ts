/**
 * DeviceStore: the push tokens (Firebase Cloud Messaging registration tokens) of each user's
 * devices. A token belongs to one device, so it is the key: registering a token again, or under
 * another user (a shared phone signed in as someone else), moves it.
 */

export type DevicePlatform = 'android' | 'ios' | 'web';

export interface Device {
  token: string;
  ownerUid: string;
  platform: DevicePlatform;
  /** ISO-8601, when the token was last registered. */
  updatedAt: string;
}

export interface DeviceStore {
  /** Stores or refreshes the token for this owner. */
  register(device: Device): Promise<void>;
  /** Every device of the owner, most recently registered first. */
  listByOwner(ownerUid: string): Promise<Device[]>;
  /** Forgets a token (FCM said it is unregistered); a missing token is not an error. */
  remove(token: string): Promise<void>;
  close(): Promise<void>;
}
