export interface ApiKey {
  id: string;
  name: string;
  /** Site ids this key may access; null = all sites. */
  sites: string[] | null;
  /** First characters of the key, to recognise it in listings; never enough to use it. */
  prefix: string;
  createdAt: Date;
  lastUsedAt: Date | null;
  revokedAt: Date | null;
}

/** Who is calling: the authenticated API key. */
export interface Principal {
  keyId: string;
  name: string;
  sites: string[] | null;
}
