import { createContext, useContext } from 'react';
import type { MeQuery } from '../generated/graphql';

export type Me = MeQuery['me'];

export interface Session {
  me: Me;
  /// Starts a fresh client (new WebSocket, empty cache) after signing in or out.
  restart: () => void;
}

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

export function hasRole(me: Me, ...roles: string[]): boolean {
  return me.roles.includes('ADMIN') || roles.some((role) => me.roles.includes(role as Me['roles'][number]));
}
