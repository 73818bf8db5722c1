/** DHCPv4 policy: pure decisions (subnet selection, reply destination, PXE boot answer, request state). */
export * from './subnet.js';
export * from './reply.js';
export * from './pxe.js';
export * from './request.js';
export * from './hostname.js';
