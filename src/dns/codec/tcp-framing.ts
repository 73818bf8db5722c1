/**
 * DNS over TCP framing (RFC 1035 §4.2.2, RFC 7766 §8): each message is preceded by its length as
 * two bytes. Feed chunks in, get whole messages out; a frame of length 0 is an error.
 */
export class FrameReader {
  private pending: Buffer = Buffer.alloc(0);

  /** Add bytes; returns the complete messages now available, or throws on a zero-length frame. */
  push(chunk: Buffer): Buffer[] {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    const out: Buffer[] = [];
    let o = 0;
    while (this.pending.length - o >= 2) {
      const len = this.pending.readUInt16BE(o);
      if (len === 0) throw new Error('zero-length DNS frame');
      if (this.pending.length - o - 2 < len) break;
      out.push(this.pending.subarray(o + 2, o + 2 + len));
      o += 2 + len;
    }
    this.pending = o === 0 ? this.pending : Buffer.from(this.pending.subarray(o));
    return out;
  }

  /** Bytes buffered waiting for the rest of a frame. */
  get buffered(): number {
    return this.pending.length;
  }
}

/** Prefix a message with its two-byte length (RFC 1035 §4.2.2). */
export function frame(msg: Buffer): Buffer {
  const out = Buffer.allocUnsafe(msg.length + 2);
  out.writeUInt16BE(msg.length, 0);
  msg.copy(out, 2);
  return out;
}
