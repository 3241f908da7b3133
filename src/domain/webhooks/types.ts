export interface Webhook {
  id: string;
  siteId: string;
  url: string;
  /** Catalogue names, or ["*"] for all. */
  events: string[];
  secret: string;
  active: boolean;
  /** Name of the API key that created it. */
  createdBy: string;
  createdAt: Date;
  updatedAt: Date;
  /** Consecutive failed attempts; 0 after a success or a re-activation. */
  failCount: number;
  lastDeliveredAt: Date | null;
  /** Why the engine (or nobody) disabled it; null while active. */
  disabledReason: string | null;
}

export interface CreateWebhookInput {
  url: string;
  events: string[];
  secret?: string | undefined;
  active?: boolean | undefined;
}

export interface UpdateWebhookInput {
  url?: string | undefined;
  events?: string[] | undefined;
  secret?: string | undefined;
  active?: boolean | undefined;
}
