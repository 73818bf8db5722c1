/** BOOTP op codes (RFC 951 §3, RFC 2131 §2). */
export const BootOp = { REQUEST: 1, REPLY: 2 } as const;

/** DHCP message types, option 53 (RFC 2132 §9.6). */
export const MessageType = {
  DISCOVER: 1,
  OFFER: 2,
  REQUEST: 3,
  DECLINE: 4,
  ACK: 5,
  NAK: 6,
  RELEASE: 7,
  INFORM: 8,
} as const;
export type MessageType = (typeof MessageType)[keyof typeof MessageType];

/** Lowercase names of message types, for logs and metric labels. */
export const messageTypeName: Record<number, string> = {
  1: 'discover', 2: 'offer', 3: 'request', 4: 'decline', 5: 'ack', 6: 'nak', 7: 'release', 8: 'inform',
};

/** Option codes used by builderd (RFC 2132 unless noted). */
export const Opt = {
  PAD: 0,
  SUBNET_MASK: 1,
  ROUTER: 3,
  DNS_SERVERS: 6,
  HOSTNAME: 12,
  DOMAIN_NAME: 15,
  BROADCAST: 28,
  VENDOR_SPECIFIC: 43,
  REQUESTED_IP: 50,
  LEASE_TIME: 51,
  OVERLOAD: 52,
  MESSAGE_TYPE: 53,
  SERVER_ID: 54,
  PARAM_REQUEST_LIST: 55,
  MESSAGE: 56,
  MAX_MESSAGE_SIZE: 57,
  RENEWAL_T1: 58,
  REBINDING_T2: 59,
  VENDOR_CLASS: 60,
  CLIENT_ID: 61,
  TFTP_SERVER: 66,
  BOOTFILE: 67,
  USER_CLASS: 77, // RFC 3004
  CLIENT_FQDN: 81, // RFC 4702
  RELAY_AGENT_INFO: 82, // RFC 3046
  CLIENT_ARCH: 93, // RFC 4578 §2.1
  CLIENT_NDI: 94, // RFC 4578 §2.2
  CLIENT_UUID: 97, // RFC 4578 §2.3
  IPXE_ENCAP: 175, // iPXE encapsulated options (src/include/ipxe/dhcp.h)
  END: 255,
} as const;

/** iPXE option 175 sub-options. */
export const IpxeOpt = { NO_PXEDHCP: 176 } as const;

/** RFC 2131 §3: the magic cookie 99.130.83.99 that starts the options field. */
export const MAGIC_COOKIE = 0x63825363;
/** RFC 2131 §2: fixed BOOTP header length before the cookie. */
export const BOOTP_FIXED = 236;
/** RFC 1542 §2.1: BOOTP messages shorter than 300 bytes are dropped by some relays; pad to 300. */
export const BOOTP_MIN_LEN = 300;
/** RFC 2131 §2: the broadcast bit of flags. */
export const FLAG_BROADCAST = 0x8000;
