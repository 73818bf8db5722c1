/** RFC 2131 §4.3.2 client states a DHCPREQUEST can come from. */
export type RequestState = 'selecting' | 'init-reboot' | 'renewing' | 'invalid';

/**
 * Which state a REQUEST was sent in (RFC 2131 §4.3.2): server id → SELECTING; requested IP without
 * ciaddr → INIT-REBOOT; ciaddr without requested IP → RENEWING or REBINDING (told apart only by
 * unicast/broadcast, answered alike here). Anything else is invalid and ignored.
 */
export function requestState(r: { serverId: string | undefined; requestedIp: string | undefined; ciaddr: string }): RequestState {
  if (r.serverId !== undefined) return r.requestedIp !== undefined || r.ciaddr !== '0.0.0.0' ? 'selecting' : 'invalid';
  if (r.requestedIp !== undefined && r.ciaddr === '0.0.0.0') return 'init-reboot';
  if (r.ciaddr !== '0.0.0.0') return 'renewing';
  return 'invalid';
}

/** Lease timers (RFC 2131 §4.4.5): T1 = 0.5 × lease, T2 = 0.875 × lease. */
export function leaseTimers(leaseSeconds: number): { t1: number; t2: number } {
  return { t1: Math.floor(leaseSeconds * 0.5), t2: Math.floor(leaseSeconds * 0.875) };
}
