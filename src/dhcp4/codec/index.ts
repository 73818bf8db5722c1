/** DHCPv4 codec: pure packet and option encoding (RFC 2131, 2132, 3004, 3046, 3396, 4578, 4702). */
export * from './constants.js';
export * from './packet.js';
export * from './options.js';
