import { FLAG_BROADCAST, MessageType } from '../codec/constants.js';

/** Where a reply goes: address and UDP port. */
export interface ReplyDestination {
  address: string;
  port: number;
  /** Set the broadcast bit in the reply (NAK through a relay, RFC 2131 §4.3.2). */
  setBroadcastFlag: boolean;
  /** Why, for logs and tests. */
  rule: 'relay' | 'nak-broadcast' | 'ciaddr' | 'broadcast-flag' | 'broadcast-no-address';
}

/**
 * RFC 2131 §4.1 (and §4.3.2 for NAK): giaddr ≠ 0 → the relay at its server port; NAK → broadcast;
 * ciaddr ≠ 0 → unicast to ciaddr; broadcast bit → broadcast; otherwise the RFC allows unicast to
 * yiaddr with chaddr in the ARP cache, which needs a raw socket: builderd broadcasts instead (clients
 * must accept a broadcast reply, RFC 2131 §4.1). Client port = server port + 1.
 */
export function replyDestination(
  req: { giaddr: string; ciaddr: string; flags: number },
  replyType: number,
  serverPort: number,
): ReplyDestination {
  const clientPort = serverPort + 1;
  if (req.giaddr !== '0.0.0.0') {
    return { address: req.giaddr, port: serverPort, setBroadcastFlag: replyType === MessageType.NAK, rule: 'relay' };
  }
  if (replyType === MessageType.NAK) return { address: '255.255.255.255', port: clientPort, setBroadcastFlag: false, rule: 'nak-broadcast' };
  if (req.ciaddr !== '0.0.0.0') return { address: req.ciaddr, port: clientPort, setBroadcastFlag: false, rule: 'ciaddr' };
  if (req.flags & FLAG_BROADCAST) return { address: '255.255.255.255', port: clientPort, setBroadcastFlag: false, rule: 'broadcast-flag' };
  return { address: '255.255.255.255', port: clientPort, setBroadcastFlag: false, rule: 'broadcast-no-address' };
}
