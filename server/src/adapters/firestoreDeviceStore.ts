import { createHash } from 'node:crypto';
import { Timestamp, type Firestore } from 'firebase-admin/firestore';
import type { Device, DeviceStore } from '../ports/deviceStore';

/**
 * Push tokens in Firestore: `userDevices/{sha256(token)}` with ownerUid, token, platform and
 * updatedAt. The id is a hash because a token may be longer than a document id allows and holds
 * characters ids must not. Only the server writes here (the security rules deny clients).
 */
export class FirestoreDeviceStore implements DeviceStore {
  private readonly db: Firestore;
  private readonly collectionName: string;

  constructor(options: { firestore: Firestore; collection?: string }) {
    this.db = options.firestore;
    this.collectionName = options.collection ?? 'userDevices';
  }

  private ref(token: string) {
    return this.db.collection(this.collectionName).doc(createHash('sha256').update(token).digest('hex'));
  }

  async register(device: Device): Promise<void> {
    await this.ref(device.token).set({
      token: device.token,
      ownerUid: device.ownerUid,
      platform: device.platform,
      updatedAt: Timestamp.fromDate(new Date(device.updatedAt)),
    });
  }

  async listByOwner(ownerUid: string): Promise<Device[]> {
    // Equality only (no composite index); a user has a handful of devices, sorted here.
    const snap = await this.db.collection(this.collectionName).where('ownerUid', '==', ownerUid).get();
    return snap.docs
      .map((d) => {
        const data = d.data();
        return {
          token: String(data.token),
          ownerUid: String(data.ownerUid),
          platform: data.platform as Device['platform'],
          updatedAt: (data.updatedAt as Timestamp).toDate().toISOString(),
        };
      })
      .sort((a, b) => b.updatedAt.localeCompare(a.updatedAt) || a.token.localeCompare(b.token));
  }

  async remove(token: string): Promise<void> {
    await this.ref(token).delete();
  }

  async close(): Promise<void> {
    // The Firestore instance is shared with the job store, which terminates it.
  }
}
