/** The old path of pool-totals.ts, kept until src/master.ts imports the new one; remove then. */
export { PoolTotals as PoolStats, RESTART_REASONS, type RestartReason, type Vitals } from './pool-totals.js';
