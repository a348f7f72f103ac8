import crypto from 'node:crypto';

/**
 * Signs OIDC identity tokens the way Cloud Tasks does for `oidcToken` tasks, with an RSA key
 * made at start. Workers verify them against `publicCerts()` instead of Google's published
 * certificates.
 */
export class OidcSigner {
  private readonly privateKey: crypto.KeyObject;
  readonly kid: string;
  readonly publicPem: string;

  constructor() {
    const { privateKey, publicKey } = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    this.privateKey = privateKey;
    this.publicPem = publicKey.export({ type: 'spki', format: 'pem' }).toString();
    this.kid = crypto.createHash('sha256').update(this.publicPem).digest('hex').slice(0, 40);
  }

  /** `{[kid]: pem}`: the shape OAuth2Client.verifySignedJwtWithCertsAsync takes. */
  publicCerts(): Record<string, string> {
    return { [this.kid]: this.publicPem };
  }

  /** An RS256 JWT with Google's ID-token claims for a service account. */
  sign(serviceAccountEmail: string, audience: string, nowMs = Date.now()): string {
    const iat = Math.floor(nowMs / 1000);
    const header = { alg: 'RS256', kid: this.kid, typ: 'JWT' };
    // Google puts the service account's numeric unique id in `sub` (and `azp`); derive a
    // stable stand-in from the email.
    const uniqueId = BigInt('0x' + crypto.createHash('sha256').update(serviceAccountEmail).digest('hex').slice(0, 15)).toString();
    const payload = {
      aud: audience,
      azp: uniqueId,
      email: serviceAccountEmail,
      email_verified: true,
      exp: iat + 3600,
      iat,
      iss: 'https://accounts.google.com',
      sub: uniqueId,
    };
    const encode = (value: object) => Buffer.from(JSON.stringify(value)).toString('base64url');
    const signingInput = `${encode(header)}.${encode(payload)}`;
    const signature = crypto.sign('RSA-SHA256', Buffer.from(signingInput), this.privateKey).toString('base64url');
    return `${signingInput}.${signature}`;
  }
}
