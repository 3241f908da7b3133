import { GraphQLError, Kind } from 'graphql';
import { builder } from '../builder.ts';
import { parseDateTime } from '../../domain/validation.ts';

builder.scalarType('DateTime', {
  description: 'An RFC 3339 date-time with a zone, e.g. 2019-08-24T14:15:22Z.',
  serialize: (value) => (value as Date).toISOString(),
  parseValue: (value) => {
    const date = parseDateTime(value);
    if (!date) throw new GraphQLError('DateTime must be an RFC 3339 date-time with a zone, e.g. 2019-08-24T14:15:22Z', { extensions: { code: 'VALIDATION_ERROR' } });
    return date;
  },
  parseLiteral: (ast) => {
    const date = ast.kind === Kind.STRING ? parseDateTime(ast.value) : null;
    if (!date) throw new GraphQLError('DateTime must be an RFC 3339 date-time with a zone, e.g. 2019-08-24T14:15:22Z', { extensions: { code: 'VALIDATION_ERROR' } });
    return date;
  },
});

function literalToValue(ast: import('graphql').ValueNode): unknown {
  switch (ast.kind) {
    case Kind.STRING:
    case Kind.BOOLEAN:
      return ast.value;
    case Kind.INT:
    case Kind.FLOAT:
      return Number(ast.value);
    case Kind.NULL:
      return null;
    case Kind.LIST:
      return ast.values.map(literalToValue);
    case Kind.OBJECT:
      return Object.fromEntries(ast.fields.map((f) => [f.name.value, literalToValue(f.value)]));
    default:
      throw new GraphQLError('JSON literals cannot contain variables', { extensions: { code: 'VALIDATION_ERROR' } });
  }
}

builder.scalarType('JSON', {
  description: 'Any JSON value.',
  serialize: (value) => value,
  parseValue: (value) => value,
  parseLiteral: literalToValue,
});
