/*
 * The DHCP service on loopback, no root: a server socket on 127.0.0.1:<port> and a "relay" socket on
 * 127.0.0.2:<same port> (giaddr 127.0.0.2, so replies come back to it: RFC 2131 §4.1). Checks the
 * message handling of RFC 2131 §4.3 against the real memory store: write-then-ACK, NAK, DECLINE, INFORM,
 * RELEASE, option 82 echo, parameter request list, per-MAC rate limit, store failure → no ACK.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { parseConfig } from '../../src/config/load.js';
import { buildInventory } from '../../src/inventory/index.js';
import { createDhcpService, openDhcpSocket, type DhcpService } from '../../src/dhcp4/index.js';
import { createMemoryStore } from '../../src/store/memory/index.js';
import { fixedAuthority } from '../../src/lib/authority-view.js';
import { createMetrics, type Metrics } from '../../src/lib/metrics.js';
import { silentLogger } from '../../src/lib/logger.js';
import { systemClock } from '../../src/lib/clock.js';
import { MessageType, Opt, decodeDhcp, encodeDhcp, readIpOption, readMessageType, type DhcpPacket } from '../../src/dhcp4/codec/index.js';
import { clientPacket } from '../helpers/dhcp-packets.js';
import type { BootEvent, Store } from '../../src/store/ports.js';

const yaml = (maxPerMac: number): string => `
site: { name: lab, domain: lab.example.net, mgmt_domain: mgmt.example.net }
paths: { state: /tmp/bdh-lo/state, artifacts: /tmp/bdh-lo/a, templates: /tmp/bdh-lo/t }
authority: { router: { dns: 127.0.0.53:53 } }
dns: { listen: [] }
dhcp:
  max_packets_per_mac: ${maxPerMac}
  lease_time: 10m
  subnets:
    - { cidr: 127.0.0.0/24, pool: 127.0.0.100-127.0.0.110, gateway: 127.0.0.1, dns: [127.0.0.1] }
http: { listen: [], base_url: "http://pxe.mgmt.example.net" }
control: { socket: /tmp/bdh-lo/sock }
hosts:
  - name: known
    interfaces: [{ mac: "52:54:00:11:00:01", ip: 127.0.0.50 }]
`;

const ip4 = (s: string): Buffer => Buffer.from(s.split('.').map(Number));

describe('DHCP service on loopback (relay path)', () => {
  let svc: DhcpService;
  let store: Store;
  let metrics: Metrics;
  let relay: dgram.Socket;
  let port = 0;
  const events: BootEvent[] = [];
  const inbox: DhcpPacket[] = [];
  let dnsChanges = 0;

  before(async () => {
    const { config } = parseConfig(yaml(5), '/tmp/bdh-lo/site.yaml');
    store = createMemoryStore();
    metrics = createMetrics();
    const sock = await openDhcpSocket(null, 0, '127.0.0.1');
    port = sock.port;
    config.dhcp.port = port;
    svc = await createDhcpService({
      config, reservations: buildInventory(config).reservations, leases: store.leases, zones: store.zones,
      authority: fixedAuthority('bootstrap'), logger: silentLogger(), metrics, clock: systemClock,
      onBootEvent: (e) => events.push(e), onDnsChange: () => { dnsChanges++; }, sockets: [sock],
    });
    await svc.listen();
    relay = dgram.createSocket('udp4');
    await new Promise<void>((r) => relay.bind(port, '127.0.0.2', () => r()));
    relay.on('message', (m) => { try { inbox.push(decodeDhcp(m)); } catch { /* not ours */ } });
  });
  after(async () => {
    relay.close();
    await svc.close();
    await store.close();
  });

  /** Send as the relay and wait for the reply with this xid (or none within ms). */
  async function ask(p: DhcpPacket, ms = 400): Promise<DhcpPacket | undefined> {
    relay.send(encodeDhcp(p), port, '127.0.0.1');
    const end = Date.now() + ms;
    while (Date.now() < end) {
      const i = inbox.findIndex((x) => x.xid === p.xid);
      if (i >= 0) return inbox.splice(i, 1)[0];
      await new Promise((r) => setTimeout(r, 10));
    }
    return undefined;
  }
  let xid = 1;
  const pkt = (type: number, mac: string, options: [number, Buffer][] = [], ciaddr = '0.0.0.0') =>
    clientPacket({ type, mac, xid: xid++, giaddr: '127.0.0.2', ciaddr, options });

  it('DORA: the ACKed lease is in the store before the ACK arrives; option 82 echoed; PRL order honoured', async () => {
    const mac = '52:54:00:22:00:01';
    const agent = Buffer.from([2, 3, 0x61, 0x62, 0x63]);
    const offer = (await ask(pkt(MessageType.DISCOVER, mac, [[Opt.PARAM_REQUEST_LIST, Buffer.from([6, 3, 1])], [Opt.RELAY_AGENT_INFO, agent]])))!;
    assert.equal(readMessageType(offer.options), MessageType.OFFER);
    assert.deepEqual([...offer.options.keys()].slice(0, 7), [53, 54, 51, 58, 59, 6, 3]);
    assert.deepEqual(offer.options.get(Opt.RELAY_AGENT_INFO), agent);
    assert.equal(readIpOption(offer.options, Opt.SERVER_ID), '127.0.0.1');
    const ack = (await ask(pkt(MessageType.REQUEST, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.1')], [Opt.HOSTNAME, Buffer.from('lo-host')]])))!;
    assert.equal(readMessageType(ack.options), MessageType.ACK);
    assert.equal(ack.yiaddr, offer.yiaddr);
    const stored = await store.leases.get(offer.yiaddr);
    assert.equal(stored?.state, 'bound');
    assert.equal(stored?.mac, mac);
    assert.deepEqual(events.map((e) => e.kind).slice(-2), ['dhcp.offer', 'dhcp.ack']);
    const dyn = await store.zones.dynamicRecords();
    assert.ok(dyn.some((r) => r.type === 'A' && r.name === 'lo-host.lab.example.net' && r.data === offer.yiaddr));
    assert.ok(dnsChanges >= 1);
  });

  it('a hostname equal to an inventory name is not published', async () => {
    const mac = '52:54:00:22:00:02';
    const offer = (await ask(pkt(MessageType.DISCOVER, mac)))!;
    await ask(pkt(MessageType.REQUEST, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.1')], [Opt.HOSTNAME, Buffer.from('known')]]));
    const dyn = await store.zones.dynamicRecords();
    assert.ok(!dyn.some((r) => r.owner === offer.yiaddr));
  });

  it('INIT-REBOOT for an address not valid here → NAK with the broadcast bit (through a relay)', async () => {
    const nak = (await ask(pkt(MessageType.REQUEST, '52:54:00:22:00:03', [[Opt.REQUESTED_IP, ip4('127.0.0.50')]])))!;
    assert.equal(readMessageType(nak.options), MessageType.NAK);
    assert.equal(nak.yiaddr, '0.0.0.0');
    assert.equal(nak.flags & 0x8000, 0x8000);
  });

  it('SELECTING another server: silence, and our offer is dropped', async () => {
    const mac = '52:54:00:22:00:04';
    const offer = (await ask(pkt(MessageType.DISCOVER, mac)))!;
    const r = await ask(pkt(MessageType.REQUEST, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.9')]]), 300);
    assert.equal(r, undefined);
  });

  it('RENEWING (ciaddr) → ACK; RELEASE → released and DNS removed', async () => {
    const mac = '52:54:00:22:00:01';
    const lease = (await store.leases.all()).find((l) => l.mac === mac)!;
    const ack = (await ask(pkt(MessageType.REQUEST, mac, [], lease.ip)))!;
    assert.equal(readMessageType(ack.options), MessageType.ACK);
    assert.equal(ack.ciaddr, lease.ip);
    relay.send(encodeDhcp(pkt(MessageType.RELEASE, mac, [[Opt.SERVER_ID, ip4('127.0.0.1')]], lease.ip)), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await store.leases.get(lease.ip))?.state, 'released');
    assert.ok(!(await store.zones.dynamicRecords()).some((r) => r.owner === lease.ip));
  });

  it('DECLINE quarantines the address (RFC 2131 §4.3.3)', async () => {
    const mac = '52:54:00:22:00:05';
    const offer = (await ask(pkt(MessageType.DISCOVER, mac)))!;
    relay.send(encodeDhcp(pkt(MessageType.DECLINE, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.1')]])), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await store.leases.get(offer.yiaddr))?.state, 'declined');
    const again = (await ask(pkt(MessageType.DISCOVER, mac)))!;
    assert.notEqual(again.yiaddr, offer.yiaddr);
  });

  it('INFORM → ACK with configuration and no lease time (RFC 2131 §4.3.5)', async () => {
    const ack = (await ask(pkt(MessageType.INFORM, '52:54:00:22:00:06', [], '127.0.0.77')))!;
    assert.equal(readMessageType(ack.options), MessageType.ACK);
    assert.equal(ack.yiaddr, '0.0.0.0');
    assert.equal(ack.options.has(Opt.LEASE_TIME), false);
    assert.deepEqual(ack.options.get(Opt.ROUTER), ip4('127.0.0.1'));
  });

  it('the store refusing the write means no ACK (issue 10: never ACK an unwritten lease)', async () => {
    const mac = '52:54:00:22:00:07';
    const offer = (await ask(pkt(MessageType.DISCOVER, mac)))!;
    const put = store.leases.put.bind(store.leases);
    store.leases.put = async () => { throw new Error('disk full (test)'); };
    try {
      const r = await ask(pkt(MessageType.REQUEST, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.1')]]), 300);
      assert.equal(r, undefined);
    } finally {
      store.leases.put = put;
    }
    assert.equal(await store.leases.get(offer.yiaddr), undefined);
    const errs = (await metrics.errors.get()).values.find((v) => v.labels['code'] === 'STORE_ERR_WRITE');
    assert.ok((errs?.value ?? 0) >= 1);
    const ack = (await ask(pkt(MessageType.REQUEST, mac, [[Opt.REQUESTED_IP, ip4(offer.yiaddr)], [Opt.SERVER_ID, ip4('127.0.0.1')]])))!;
    assert.equal(readMessageType(ack.options), MessageType.ACK, 'the retry succeeds');
  });

  it('per-MAC rate limit: packets over max_packets_per_mac in one second are dropped and counted', async () => {
    const mac = '52:54:00:22:00:08';
    const sent = Array.from({ length: 10 }, () => pkt(MessageType.DISCOVER, mac));
    for (const p of sent) relay.send(encodeDhcp(p), port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 300));
    const got = inbox.filter((p) => sent.some((s) => s.xid === p.xid)).length;
    assert.equal(got, 5);
    const rl = (await metrics.dropped.get()).values.find((v) => v.labels['reason'] === 'rate-limit');
    assert.equal(rl?.value, 5);
  });

  it('leases() lists what the store holds', async () => {
    const mine = svc.leases().filter((l) => l.state === 'bound').map((l) => l.ip).sort();
    const stored = (await store.leases.all()).filter((l) => l.state === 'bound').map((l) => l.ip).sort();
    assert.deepEqual(mine, stored);
  });
});

describe('proxyDHCP when not the DHCP authority (PXE spec, RFC 4578 clients)', () => {
  it('answers PXE clients with boot options and no address, on the DHCP port and on 4011; others get nothing', async (t) => {
    const { config } = parseConfig(yaml(0).replace('lease_time: 10m', 'lease_time: 10m\n  proxy: true').replace('hosts:', `boot_profiles:\n  default: { bios: undionly.kpxe, uefi: ipxe.efi }\nhosts:`).replace('dns: [127.0.0.1] }', 'dns: [127.0.0.1], boot: default }'), '/tmp/bdh-lo/site.yaml');
    const store = createMemoryStore();
    const main = await openDhcpSocket(null, 0, '127.0.0.1');
    let pxe;
    try { pxe = await openDhcpSocket(null, 4011, '127.0.0.1'); } catch { t.skip('port 4011 busy on loopback'); await store.close(); return; }
    const svc = await createDhcpService({
      config, reservations: [], leases: store.leases, zones: store.zones, authority: fixedAuthority('production'),
      logger: silentLogger(), metrics: createMetrics(), clock: systemClock, sockets: [main, pxe],
    });
    await svc.listen();
    const relay = dgram.createSocket('udp4');
    await new Promise<void>((r) => relay.bind(main.port, '127.0.0.2', () => r()));
    const got: DhcpPacket[] = [];
    relay.on('message', (m) => got.push(decodeDhcp(m)));
    try {
      const arch = Buffer.from([0, 0]);
      const disc = clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:33:00:01', xid: 901, giaddr: '127.0.0.2',
        options: [[Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00000:UNDI:002001')], [Opt.CLIENT_ARCH, arch]] });
      const plain = clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:33:00:02', xid: 902, giaddr: '127.0.0.2' });
      relay.send(encodeDhcp(disc), main.port, '127.0.0.1');
      relay.send(encodeDhcp(plain), main.port, '127.0.0.1');
      // Port 4011: the client asks from its own address and port; the answer goes back there.
      const req = clientPacket({ type: MessageType.REQUEST, mac: '52:54:00:33:00:01', xid: 903, ciaddr: '127.0.0.2',
        options: [[Opt.VENDOR_CLASS, Buffer.from('PXEClient:Arch:00000:UNDI:002001')], [Opt.CLIENT_ARCH, arch]] });
      relay.send(encodeDhcp(req), 4011, '127.0.0.1');
      await new Promise((r) => setTimeout(r, 300));
      const offer = got.find((p) => p.xid === 901);
      assert.ok(offer, 'proxy offer');
      assert.equal(readMessageType(offer.options), MessageType.OFFER);
      assert.equal(offer.yiaddr, '0.0.0.0');
      assert.equal(offer.file, 'undionly.kpxe');
      assert.equal(offer.options.get(Opt.VENDOR_CLASS)?.toString(), 'PXEClient');
      assert.equal(offer.options.has(Opt.LEASE_TIME), false);
      assert.equal(got.find((p) => p.xid === 902), undefined, 'non-PXE client: nothing');
      const ack = got.find((p) => p.xid === 903);
      assert.ok(ack, 'ACK from 4011');
      assert.equal(readMessageType(ack.options), MessageType.ACK);
      assert.equal(ack.file, 'undionly.kpxe');
      assert.equal((await store.leases.all()).length, 0, 'nothing allocated');
    } finally {
      relay.close();
      await svc.close();
      await store.close();
    }
  });
});
