// `ip netns exec NS node --import tsx test/helpers/probe-main.ts PORT SERVER_PORT TIMEOUT_MS [IFACE]`:
// one DHCPDISCOVER from inside a namespace; prints the OFFERs seen as JSON (authority tests).
import { probeDhcp } from '../../src/dhcp4/probe.js';

const [port, serverPort, timeoutMs, iface] = process.argv.slice(2);
const offers = await probeDhcp({ port: Number(port), serverPort: Number(serverPort), timeoutMs: Number(timeoutMs), ...(iface ? { iface } : {}) });
process.stdout.write(JSON.stringify(offers) + '\n');
