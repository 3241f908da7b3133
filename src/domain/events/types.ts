export interface Event {
  id: string;
  siteId: string;
  type: string;
  data: Record<string, unknown>;
  createdAt: Date;
  /** Deliveries scheduled by the fan-out (the publish answer's `webhooks`). */
  webhookCount: number;
}

/** The JSON body every receiver gets, signed byte for byte. */
export function eventPayload(event: Event): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    siteId: event.siteId,
    createdAt: event.createdAt.toISOString(),
    data: event.data,
  });
}
