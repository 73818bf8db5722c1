// Issue 10, faults: a served interface going down and up. `builderd serve` with dhcp.interfaces set
// (one SO_BINDTODEVICE socket per interface) in a namespace; a relay agent at 10.99.0.50 on the peer.
// Down/up and an address flush/re-add must leave DHCP answering; an interface that is deleted and
// created again (a new ifindex: a replugged USB NIC, a recreated bridge or VLAN) needs its socket rebound.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { faultSite, CLIENT, SERVER, type FaultSite } from '../helpers/fault-site.js';
import { needsRoot } from '../helpers/netns.js';
import { relayDiscover } from '../helpers/relay-client.js';
import { ROOT } from '../helpers/daemon.js';

const addon = join(ROOT, 'native/bindtodevice/build/Release/bindtodevice.node');
const skip = needsRoot('namespaces') || (!existsSync(addon) ? 'needs the SO_BINDTODEVICE addon (npm run build:native)' : false);
const PORT = 10067;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('served interface down and up: DHCP keeps answering', { skip, timeout: 90_000 }, () => {
  let site: FaultSite;
  let xid = 0x5100;
  before(async () => {
    site = await faultSite('bfz-if', (y) => y.replace('interfaces: []', 'interfaces: ["bfz-if-vb"]'));
  });
  after(async () => { await site?.cleanup(); });

  const offered = async (tries = 6): Promise<string | undefined> => {
    for (let i = 0; i < tries; i++) {
      const o = relayDiscover(site.ns.a, CLIENT, SERVER, PORT, '52:54:00:aa:00:10', xid++);
      if (o) return o.yiaddr;
      await sleep(500);
    }
    return undefined;
  };
  const ipB = (...args: string[]): string => site.ns.exec(site.ns.b, ['ip', ...args]);
  const ipA = (...args: string[]): string => site.ns.exec(site.ns.a, ['ip', ...args]);

  it('answers on the bound interface', async () => {
    const lines = site.d.lines.find((l) => l['event'] === 'dhcp.listen');
    assert.match(JSON.stringify(lines), /bfz-if-vb/);
    assert.equal(await offered(), '10.99.0.10');
  });

  it('link down, then up: answers again', async () => {
    ipB('link', 'set', site.ns.ifB, 'down');
    await sleep(500);
    assert.equal(relayDiscover(site.ns.a, CLIENT, SERVER, PORT, '52:54:00:aa:00:10', xid++), undefined, 'nothing while down');
    ipB('link', 'set', site.ns.ifB, 'up');
    ipB('route', 'replace', 'default', 'dev', site.ns.ifB);
    assert.equal(await offered(), '10.99.0.10');
    assert.equal(site.d.child.exitCode, null);
  });

  it('address flushed and added back: answers again', async () => {
    ipB('addr', 'flush', 'dev', site.ns.ifB);
    await sleep(300);
    ipB('addr', 'add', `${SERVER}/24`, 'dev', site.ns.ifB);
    ipB('route', 'replace', 'default', 'dev', site.ns.ifB);
    assert.equal(await offered(), '10.99.0.10');
  });

  it('interface deleted and created again (new ifindex): the DHCP socket is rebound', async () => {
    ipB('link', 'del', site.ns.ifB);
    ipA('link', 'add', site.ns.ifA, 'type', 'veth', 'peer', 'name', site.ns.ifB, 'netns', site.ns.b);
    ipA('addr', 'add', `${CLIENT}/24`, 'dev', site.ns.ifA);
    ipA('addr', 'add', '10.99.0.51/24', 'dev', site.ns.ifA);
    ipA('link', 'set', site.ns.ifA, 'up');
    ipB('addr', 'add', `${SERVER}/24`, 'dev', site.ns.ifB);
    ipB('link', 'set', site.ns.ifB, 'up');
    ipB('route', 'replace', 'default', 'dev', site.ns.ifB);
    ipA('route', 'replace', 'default', 'dev', site.ns.ifA);
    assert.equal(await offered(4), "10.99.0.10", "no OFFER within 5 s on the re-created interface");
  });

  it('after a restart the re-created interface is served (so the missing rebind is the only cause)', async () => {
    await site.d.stop();
    await site.start();
    assert.equal(await offered(), '10.99.0.10');
  });
});
