import { Client, fetchExchange, subscriptionExchange } from 'urql';
import { cacheExchange } from '@urql/exchange-graphcache';
import { createClient as createWsClient } from 'graphql-ws';

/// Types whose `id` names one thing whatever the query's arguments: normalised, so a subscription push or a
/// mutation result updates every view of them. Everything else (heatmap cells, techniques as of a moment,
/// history events…) depends on the query's `asOf`/policy/filters and stays embedded under its query.
const NORMALISED = new Set([
  'TestCase', 'Campaign', 'Notification', 'UserSummary', 'ApiToken', 'ScoringPolicy', 'ImportRun', 'IntelItem',
  'SavedLayer', 'Me',
]);

const keys = new Proxy({} as Record<string, (data: Record<string, unknown>) => string | null>, {
  get: (_target, typename: string) =>
    NORMALISED.has(typename) ? (data: Record<string, unknown>) => (data.id as string | undefined) ?? null : () => null,
  has: () => true,
});

/// A client per session: the WebSocket is authenticated by the cookie present when it opens, so signing in
/// or out starts a new client (and an empty cache).
export function createClient(): Client {
  const protocol = window.location.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = createWsClient({ url: `${protocol}//${window.location.host}/graphql/ws`, lazy: true, retryAttempts: 5 });
  return new Client({
    url: '/graphql',
    // The server runs operations on POST only (GET /graphql is GraphiQL), so a link can never run one.
    preferGetMethod: false,
    fetchOptions: { credentials: 'same-origin' },
    exchanges: [
      cacheExchange({
        keys,
        updates: {
          Mutation: {
            markNotificationsRead: (_result, _args, cache) => cache.invalidate('Query', 'myNotifications'),
            createApiToken: (_result, _args, cache) => cache.invalidate('Query', 'myApiTokens'),
            revokeApiToken: (_result, _args, cache) => cache.invalidate('Query', 'myApiTokens'),
            createUser: (_result, _args, cache) => cache.invalidate('Query', 'users'),
          },
        },
      }),
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
}
