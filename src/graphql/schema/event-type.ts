import { builder } from '../builder.ts';
import { EVENT_TYPES } from '../../domain/events/catalogue.ts';
import { principalOf } from '../context.ts';

interface EventTypeShape {
  name: string;
  description: string;
}

const EventType = builder.objectRef<EventTypeShape>('EventType').implement({
  description: 'An event type a site emits; webhooks subscribe to these names, or "*" for all.',
  fields: (t) => ({
    name: t.exposeString('name'),
    description: t.exposeString('description'),
  }),
});

builder.queryField('eventTypes', (t) =>
  t.field({
    type: [EventType],
    description: 'The catalogue of event types.',
    resolve: (_root, _args, ctx) => {
      principalOf(ctx);
      return EVENT_TYPES;
    },
  }),
);
