/**
 * Reconnect delays: exponential back-off with "full jitter" (the delay is
 * uniformly random between 0 and the exponential ceiling), so that thousands
 * of clients cut off by one server restart do not come back in lock-step.
 */

export interface BackoffOptions {
  /** Ceiling of the first retry, in ms (default 500). */
  baseMs?: number;
  /** Largest ceiling, in ms (default 30 000). */
  capMs?: number;
  /** Source of randomness in [0, 1); injectable for deterministic tests. */
  random?: () => number;
}

export const DEFAULT_BACKOFF = { baseMs: 500, capMs: 30_000 } as const;

/** The ceiling for retry number `attempt` (0-based): `min(cap, base * 2^attempt)`. */
export function backoffCeiling(attempt: number, options: BackoffOptions = {}): number {
  const base = options.baseMs ?? DEFAULT_BACKOFF.baseMs;
  const cap = options.capMs ?? DEFAULT_BACKOFF.capMs;
  // Clamp the exponent so 2^attempt cannot overflow to Infinity after a long outage.
  return Math.min(cap, base * 2 ** Math.min(Math.max(0, attempt), 30));
}

/** The delay before retry number `attempt`: uniform in [0, ceiling). Never negative, never above the cap. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  const random = options.random ?? Math.random;
  const r = Math.min(Math.max(random(), 0), 1);
  return Math.floor(r * backoffCeiling(attempt, options));
}
