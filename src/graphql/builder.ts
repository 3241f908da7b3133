// SchemaBuilder setup only: plugins, context type, scalars' shapes, relay options. Types live in
// schema/, one file each.
import SchemaBuilder from '@pothos/core';
import RelayPlugin from '@pothos/plugin-relay';
import { typeOfId } from '../domain/ids.ts';
import { AppError } from '../domain/errors.ts';
import type { GraphQLContext } from './context.ts';

export const builder = new SchemaBuilder<{
  Context: GraphQLContext;
  Scalars: {
    DateTime: { Input: Date; Output: Date };
    JSON: { Input: unknown; Output: unknown };
  };
  Connection: { totalCount: number | (() => Promise<number>) };
  DefaultEdgesNullability: false;
  DefaultNodeNullability: false;
}>({
  plugins: [RelayPlugin],
  relay: {
    clientMutationId: 'optional',
    cursorType: 'String',
    // Our ids are already type-prefixed and globally unique (wh_..., dlv_...), so they serve as
    // relay global ids unchanged: the same id in REST and GraphQL.
    encodeGlobalID: (_typename, id) => String(id),
    decodeGlobalID: (globalID) => {
      const typename = typeOfId(globalID);
      if (!typename) throw new AppError('VALIDATION_ERROR', `Not a valid id: ${globalID}`, { fields: { id: 'unknown id format' } });
      return { typename, id: globalID };
    },
  },
});

builder.queryType({});
builder.mutationType({});

builder.globalConnectionField('totalCount', (t) =>
  t.int({
    nullable: false,
    description: 'Number of items matching the filters, over all pages.',
    resolve: (parent) => (typeof parent.totalCount === 'function' ? parent.totalCount() : parent.totalCount),
  }),
);
