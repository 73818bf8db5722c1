/**
 * One file served (or refused) over TFTP or HTTP. The servers emit these through an optional
 * callback; main.ts may forward them to the status page or the journal (e.g. "hv01 fetched its iPXE script").
 */
export interface BootEvent {
  proto: 'tftp' | 'http';
  /** Client address. */
  peer: string;
  /** Path as requested (TFTP filename, HTTP path without query). */
  path: string;
  result: 'ok' | 'not-found' | 'refused' | 'error' | 'aborted';
  /** Payload bytes delivered (TFTP) or written (HTTP body). */
  bytes: number;
  /** Duration, ms. */
  ms: number;
  /** Served from the dynamic (per-host boot file) hook rather than the artifacts folder. */
  dynamic: boolean;
  /** Short reason for anything but ok. */
  detail?: string;
}
