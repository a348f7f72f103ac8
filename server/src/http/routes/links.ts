import type { Request } from 'express';

/** The base URL clients use to reach us: PUBLIC_URL when set, else what the request says. */
export function publicBaseUrl(req: Request, configured?: string): string {
  if (configured) return configured;
  return `${req.protocol}://${req.get('host') ?? 'localhost'}`;
}
