/*
 * The per-transfer state machine of a read request (RRQ). Pure: the caller passes packets and timer
 * expiries in, the machine mutates only its own state object and returns effects as values. No I/O,
 * no clock: the server owns sockets, files and timers.
 *
 * Transition table (state × event → effects, next state):
 *
 * | state        | event                    | effects                               | next        |
 * |--------------|--------------------------|---------------------------------------|-------------|
 * | (start)      | RRQ with accepted options| oack, timer                           | negotiating |
 * | (start)      | RRQ without options      | data × window, timer                  | sending     |
 * | negotiating  | ACK 0                    | data × window, timer                  | sending     |
 * | negotiating  | ACK n ≠ 0                | (ignored)                             | negotiating |
 * | negotiating  | timeout (retries left)   | oack, timer (backed off)              | negotiating |
 * | sending      | ACK of last block        | done ok                               | done        |
 * | sending      | ACK n, acked < n ≤ sent  | data × window from n+1, timer         | sending     |
 * | sending      | ACK n ≤ acked (duplicate)| (ignored: no Sorcerer's Apprentice)   | sending     |
 * | sending      | ACK n > sent             | (ignored)                             | sending     |
 * | sending      | timeout (retries left)   | data acked+1..sent again, timer       | sending     |
 * | any          | timeout (no retries left)| done timeout                          | done        |
 * | any          | ERROR from client        | done client-error                     | done        |
 * | any          | DATA / RRQ / WRQ / OACK  | error 4, done error                   | done        |
 * | done         | anything                 | (ignored)                             | done        |
 */
import { ErrorCodes, Opcode, type Packet } from './codec.js';

export const SessionState = { negotiating: 'negotiating', sending: 'sending', done: 'done' } as const;
export type SessionState = (typeof SessionState)[keyof typeof SessionState];

/** How a transfer ended. */
export type SessionResult = 'ok' | 'timeout' | 'client-error' | 'error';

/** What the server must do, in order. */
export type Effect =
  /** Send an OACK with these options (RFC 2347 §2). */
  | { type: 'oack'; options: [string, string][] }
  /** Send DATA: absolute block number (wire number is block & 0xffff), payload = source[offset, offset+length). */
  | { type: 'data'; block: number; offset: number; length: number }
  /** Send ERROR (RFC 1350 §5). */
  | { type: 'error'; code: number; message: string }
  /** (Re)arm the single retransmission timer. */
  | { type: 'timer'; ms: number }
  /** The transfer is over: close its port. */
  | { type: 'done'; result: SessionResult; detail?: string };

/** Server limits applied during negotiation. */
export interface SessionLimits {
  /** Largest blksize accepted: min(config.tftp.max_blksize, path MTU − 32). */
  maxBlksize: number;
  /** Largest windowsize accepted (RFC 7440). */
  maxWindowsize: number;
  /** Retransmission timeout when the client negotiates none, ms. */
  defaultTimeoutMs?: number;
  /** Retransmissions of one packet before giving up. */
  maxRetries?: number;
  /** Upper bound of the backed-off timeout, ms. */
  maxTimeoutMs?: number;
}

/** Mutable state of one transfer. Created by startSession; read it, do not write it. */
export interface Session {
  state: SessionState;
  size: number;
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** Number of the last block (the first one shorter than blksize, possibly empty). */
  lastBlock: number;
  /** Highest block acknowledged (absolute). */
  acked: number;
  /** Highest block sent (absolute). */
  sent: number;
  retries: number;
  maxRetries: number;
  maxTimeoutMs: number;
  /** Options in the OACK (kept for retransmission). */
  oack: [string, string][];
  /** Total DATA packets sent, including retransmissions. */
  dataSent: number;
  retransmits: number;
  duplicateAcks: number;
}

/** RFC 2348 §1: valid blksize range. */
export const BLKSIZE_MIN = 8;
export const BLKSIZE_MAX = 65464;

function intOption(v: string, min: number, max: number): number | undefined {
  if (!/^\d{1,10}$/.test(v)) return undefined;
  const n = Number(v);
  return n >= min && n <= max ? n : undefined;
}

/**
 * Start a read transfer of `size` bytes with the client's options (names lowercased).
 * Unknown or invalid options are left out of the OACK (RFC 2347 §2: the server may ignore them).
 */
export function startSession(size: number, options: ReadonlyMap<string, string>, limits: SessionLimits): { session: Session; effects: Effect[] } {
  let blksize = 512;
  let windowsize = 1;
  let timeoutMs = limits.defaultTimeoutMs ?? 1000;
  const oack: [string, string][] = [];
  for (const [name, value] of options) {
    switch (name) {
      case 'blksize': {
        // RFC 2348: 8..65464; the server may answer a smaller value (here: its cap).
        const n = intOption(value, BLKSIZE_MIN, BLKSIZE_MAX);
        if (n === undefined) break;
        blksize = Math.max(BLKSIZE_MIN, Math.min(n, limits.maxBlksize));
        oack.push(['blksize', String(blksize)]);
        break;
      }
      case 'tsize':
        // RFC 2349 §2 (read request): the client sends 0, the server answers the size.
        if (intOption(value, 0, Number.MAX_SAFE_INTEGER) === undefined) break;
        oack.push(['tsize', String(size)]);
        break;
      case 'timeout': {
        // RFC 2349 §1: 1..255 seconds, echoed as is.
        const n = intOption(value, 1, 255);
        if (n === undefined) break;
        timeoutMs = n * 1000;
        oack.push(['timeout', String(n)]);
        break;
      }
      case 'windowsize': {
        // RFC 7440 §3: 1..65535; the server may answer a smaller value.
        const n = intOption(value, 1, 65535);
        if (n === undefined) break;
        windowsize = Math.min(n, Math.max(1, limits.maxWindowsize));
        oack.push(['windowsize', String(windowsize)]);
        break;
      }
      default:
        break;
    }
  }
  const session: Session = {
    state: oack.length ? SessionState.negotiating : SessionState.sending,
    size,
    blksize,
    windowsize,
    timeoutMs,
    lastBlock: Math.floor(size / blksize) + 1,
    acked: 0,
    sent: 0,
    retries: 0,
    maxRetries: limits.maxRetries ?? 5,
    maxTimeoutMs: Math.max(timeoutMs, limits.maxTimeoutMs ?? 8000),
    oack,
    dataSent: 0,
    retransmits: 0,
    duplicateAcks: 0,
  };
  const effects: Effect[] = [];
  if (session.state === SessionState.negotiating) {
    // RFC 2347 §2: the OACK is answered by ACK 0 before any DATA.
    effects.push({ type: 'oack', options: oack }, { type: 'timer', ms: timeoutMs });
  } else {
    sendWindow(session, effects);
  }
  return { session, effects };
}

function dataEffect(s: Session, block: number): Effect {
  const offset = (block - 1) * s.blksize;
  return { type: 'data', block, offset, length: Math.max(0, Math.min(s.blksize, s.size - offset)) };
}

/** RFC 7440 §4: send the window that follows the last acknowledged block. */
function sendWindow(s: Session, effects: Effect[]): void {
  const end = Math.min(s.acked + s.windowsize, s.lastBlock);
  for (let b = s.acked + 1; b <= end; b++) {
    if (b <= s.sent) s.retransmits++;
    effects.push(dataEffect(s, b));
    s.dataSent++;
  }
  if (end > s.sent) s.sent = end;
  effects.push({ type: 'timer', ms: s.timeoutMs });
}

/** Map a 16-bit ACK number to the absolute block in (acked, sent], or undefined (RFC 1350 blocks roll over past 65535). */
function absoluteAck(s: Session, wire: number): number | undefined {
  const a = s.sent - ((s.sent - wire) & 0xffff);
  return a > s.acked && a <= s.sent ? a : undefined;
}

/** Feed a packet that arrived from the client's TID. */
export function onPacket(s: Session, p: Packet): Effect[] {
  if (s.state === SessionState.done) return [];
  const effects: Effect[] = [];
  switch (p.opcode) {
    case Opcode.ACK: {
      if (s.state === SessionState.negotiating) {
        if (p.block !== 0) return effects;
        s.state = SessionState.sending;
        s.retries = 0;
        sendWindow(s, effects);
        return effects;
      }
      const a = absoluteAck(s, p.block);
      if (a === undefined) {
        // RFC 1350 / RFC 1123 §4.2.3.1: never answer a duplicate ACK with DATA (Sorcerer's Apprentice).
        s.duplicateAcks++;
        return effects;
      }
      s.acked = a;
      s.retries = 0;
      if (a === s.lastBlock) {
        s.state = SessionState.done;
        effects.push({ type: 'done', result: 'ok' });
        return effects;
      }
      // ACK of the window's last block: next window. ACK inside the window (RFC 7440 §4: the client
      // saw a gap): restart the window after it.
      sendWindow(s, effects);
      return effects;
    }
    case Opcode.ERROR:
      s.state = SessionState.done;
      effects.push({ type: 'done', result: 'client-error', detail: `${p.code} ${p.message}` });
      return effects;
    default:
      // RFC 1350 §7: an unexpected packet type on the transfer is an illegal operation.
      s.state = SessionState.done;
      effects.push({ type: 'error', code: ErrorCodes.illegalOperation, message: 'Illegal TFTP operation' });
      effects.push({ type: 'done', result: 'error', detail: `unexpected opcode ${p.opcode}` });
      return effects;
  }
}

/** The retransmission timer fired. */
export function onTimeout(s: Session): Effect[] {
  if (s.state === SessionState.done) return [];
  const effects: Effect[] = [];
  if (s.retries >= s.maxRetries) {
    s.state = SessionState.done;
    effects.push({ type: 'done', result: 'timeout', detail: `no ACK after ${s.retries} retransmissions` });
    return effects;
  }
  s.retries++;
  // Exponential backoff (RFC 1123 §4.2.3.2 asks for an adaptive timeout), capped.
  const ms = Math.min(s.timeoutMs * 2 ** s.retries, s.maxTimeoutMs);
  if (s.state === SessionState.negotiating) {
    effects.push({ type: 'oack', options: s.oack }, { type: 'timer', ms });
    return effects;
  }
  for (let b = s.acked + 1; b <= s.sent; b++) {
    effects.push(dataEffect(s, b));
    s.dataSent++;
    s.retransmits++;
  }
  effects.push({ type: 'timer', ms });
  return effects;
}

/** Abort from the server side (file changed under us, shutdown): error to the client and done. */
export function abort(s: Session, code: number, message: string): Effect[] {
  if (s.state === SessionState.done) return [];
  s.state = SessionState.done;
  return [{ type: 'error', code, message }, { type: 'done', result: 'error', detail: message }];
}
