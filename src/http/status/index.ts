/** The operator's view on the metrics listener: status page, /metrics, /healthz. */
export { renderStatusPage, escapeHtml, formatTime, formatAge, formatBytes } from './page.js';
export { createOpsHandler, type OpsHandlerOptions } from './handler.js';
export { collectStatusSnapshot, poolUsage, lastBootFrom, setPoolGauges, type SnapshotSources } from './snapshot.js';
export type * from './types.js';
