/** DHCPv4 + PXE service: the factory main.ts wires, and the probe the authority runner uses. */
export { createDhcpService, MAX_PENDING_OFFERS, PXE_PORT, type DhcpDeps, type DhcpService } from './server.js';
export { probeDhcp, type ProbeOptions, type ProbeOffer } from './probe.js';
export { openDhcpSocket, type DhcpSocket } from './transport.js';
