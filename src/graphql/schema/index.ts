// Imports every type file (each adds its own root fields), then builds the schema.
import { lexicographicSortSchema } from 'graphql';
import { builder } from '../builder.ts';
import './scalars.ts';
import './event-type.ts';
import './webhook.ts';
import './delivery.ts';
import './event.ts';
import './replay.ts';
import './subscriptions.ts';

export const schema = builder.toSchema();
export const sortedSchema = () => lexicographicSortSchema(schema);
