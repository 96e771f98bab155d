/**
 * Node's timers hold a signed 32-bit millisecond count: a longer delay fires after 1 ms (with a
 * TimeoutOverflowWarning). Every duration option is validated against this ceiling, so a timer
 * built from one never overflows; timerMs() keeps the few that add a margin on top within it.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** 2147483 s, about 24.8 days: the longest duration option the validator accepts. */
export const MAX_TIMER_SECONDS = Math.floor(MAX_TIMER_MS / 1000);

/** Seconds (plus an optional margin) as a setTimeout delay that cannot overflow. */
export const timerMs = (seconds: number, marginMs = 0): number =>
  Math.min(MAX_TIMER_MS, Math.round(seconds * 1000) + marginMs);
