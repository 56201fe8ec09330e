import type { CombinedError } from 'urql';

/// What the server said, one line per error, with its stable code (`FORBIDDEN: …`), for people to read.
export function describeError(error: CombinedError | undefined | null): string | null {
  if (!error) return null;
  if (error.networkError) return `The server cannot be reached: ${error.networkError.message}`;
  return error.graphQLErrors
    .map((e) => {
      const code = e.extensions?.code;
      return typeof code === 'string' ? `${code}: ${e.message}` : e.message;
    })
    .join('\n');
}

export function errorCode(error: CombinedError | undefined | null): string | undefined {
  const code = error?.graphQLErrors[0]?.extensions?.code;
  return typeof code === 'string' ? code : undefined;
}
