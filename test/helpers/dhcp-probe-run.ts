/* Test helper run inside a namespace: probeDhcp with the JSON options given as argv[2]; prints the offers as JSON. */
import { probeDhcp } from '../../src/dhcp4/index.js';

const opts = JSON.parse(process.argv[2] ?? '{}') as { iface?: string; port: number; serverPort: number; timeoutMs: number };
process.stdout.write(JSON.stringify(await probeDhcp(opts)));
