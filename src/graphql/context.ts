import type { Principal } from '../domain/api-keys/types.ts';
import { unauthorized } from '../domain/errors.ts';
import type { Services } from '../services.ts';
import type { LiveBus } from '../live/bus.ts';

export interface GraphQLContext {
  requestId: string;
  /** Null when the request carried no valid key; the auth plugin refuses such operations. */
  principal: Principal | null;
  /** Why the key was refused, for the auth plugin's answer. */
  authError: Error | null;
  services: Services;
  live: LiveBus;
}

export function principalOf(ctx: GraphQLContext): Principal {
  if (!ctx.principal) throw ctx.authError ?? unauthorized();
  return ctx.principal;
}
