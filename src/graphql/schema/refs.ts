// Object refs shared between type files, kept apart so that type files need not import each other.
import { builder } from '../builder.ts';
import type { Delivery } from '../../domain/deliveries/types.ts';
import type { Event } from '../../domain/events/types.ts';
import type { Webhook } from '../../domain/webhooks/types.ts';

export const WebhookRef = builder.objectRef<Webhook>('Webhook');
export const EventRef = builder.objectRef<Event>('Event');
export const DeliveryRef = builder.objectRef<Delivery>('Delivery');
export const ReplayRef = builder.objectRef<import('../../domain/replays/types.ts').Replay>('Replay');
