import type { RrlOptions } from './rrl.js';
import type { ZonePayload } from './zone/zone-wire.js';

/*
 * Messages between the primary and its UDP workers (JSON over the child_process IPC channel). The
 * primary owns the zones, serials, TCP, transfers and the store; a worker answers plain UDP queries
 * from the same zone data and relays anything else to the primary.
 */

/** What a worker needs before it answers. */
export interface WorkerInit {
  t: 'init';
  ourUdp: number;
  rrl: RrlOptions;
  forwarders: boolean;
  forwardClients: string[];
  /** How many UDP sockets follow (one `socket` message each, with the handle). */
  sockets: number;
}

/** Primary → worker. */
export type ToWorker =
  | WorkerInit
  /** Socket `i`: a dgram handle sent with the message, or (`fd`) a batched socket inherited at that fd. */
  | { t: 'socket'; i: number; fd?: number }
  /** New zone data: `zones` replace or add, origins not in `keep` (and not in `zones`) are dropped. */
  | { t: 'zones'; gen: number; zones: ZonePayload[]; keep: string[]; site: boolean }
  | { t: 'auth'; gen: number; site: boolean }
  | { t: 'flush' };

/** Worker → primary. */
export type FromWorker =
  | { t: 'ready' }
  /** The worker applied everything up to generation `gen`. */
  | { t: 'ack'; gen: number }
  /** Answers counted (see QueryCounts), drops by reason, handler errors, since the last report. */
  | { t: 'counts'; q: [number, number][]; d: [string, number][]; e: number }
  /** A query that needs the full path: the primary answers it on its copy of socket `i`. */
  | { t: 'relay'; i: number; m: string; a: string; p: number };
