import { useCallback, useEffect, useRef } from 'react';

/// Read models follow the event log asynchronously, so right after a mutation (or before a new entity
/// exists) the read side may still show the old state. The live subscription normally brings the change;
/// these refetches make sure a page also gets there when a push is missed (a dropped WebSocket, a proxy
/// that does not pass it).
const SETTLE_AFTER_MS = [300, 1000, 2500, 5000];
const MISSING_POLL_MS = 1000;

/// Returns `settle()`: refetch a few times over the next seconds.
export function useSettle(refetch: () => void): () => void {
  const timers = useRef<ReturnType<typeof setTimeout>[]>([]);
  useEffect(() => () => timers.current.forEach(clearTimeout), []);
  return useCallback(() => {
    timers.current.forEach(clearTimeout);
    timers.current = SETTLE_AFTER_MS.map((delay) => setTimeout(refetch, delay));
  }, [refetch]);
}

/// Refetches every second while `missing` (a just-created entity the read side does not have yet).
export function usePollWhileMissing(missing: boolean, refetch: () => void) {
  useEffect(() => {
    if (!missing) return;
    const timer = setInterval(refetch, MISSING_POLL_MS);
    return () => clearInterval(timer);
  }, [missing, refetch]);
}
