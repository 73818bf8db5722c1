/*
 * DHCPv4 with real clients in network namespaces (RFC 2131 §3.1 DORA, §4.3.2 REQUEST states, §4.4.5 renew,
 * §4.4.6 release; §4.1 reply destinations; RFC 4578 PXE boot answers; RFC 3046 option 82 echo).
 *
 *   bdh-srv: bdh-s 10.99.0.1/24  <->  bdh-cli: bdh-c (dhclient, udhcpc, crafted PXE clients)
 *   bdh-srv: bdh-rs 10.99.2.1/24 <->  bdh-rly: bdh-r 10.99.2.2/24 + 10.99.1.1 on lo (relay, giaddr 10.99.1.1)
 * The server runs test/helpers/dhcp-launcher.ts in bdh-srv with dhcp.interfaces [bdh-s, bdh-rs]: one
 * SO_BINDTODEVICE socket each on port 67.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { canNetns, createNetns, deleteNetns, ip, veth, tempDir, launch, waitFor, craftExchange, sh, type Launched } from '../helpers/dhcp-netns.js';
import { dhcpSiteYaml } from '../helpers/dhcp-config.js';
import { clientPacket, decodeHex, hex, pxeDiscover } from '../helpers/dhcp-packets.js';
import { MessageType, Opt, readIpOption, readMessageType, readSubOptions, readText } from '../../src/dhcp4/codec/index.js';

const NS = ['bdh-srv', 'bdh-cli', 'bdh-rly'];
const has = (bin: string): boolean => { try { execFileSync('sh', ['-c', `command -v ${bin}`]); return true; } catch { return false; } };
const skip = !canNetns() ? 'needs root: network namespaces' : !has('dhclient') || !has('udhcpc') ? 'needs dhclient and udhcpc (.ci/apt.d/dhcp.txt)' : false;

describe('DHCP with real clients in namespaces', { skip, timeout: 180_000 }, () => {
  let dir = '';
  let srv: Launched;

  before(async () => {
    dir = tempDir();
    createNetns(NS);
    veth('bdh-srv', 'bdh-s', '10.99.0.1/24', 'bdh-cli', 'bdh-c', null);
    veth('bdh-srv', 'bdh-rs', '10.99.2.1/24', 'bdh-rly', 'bdh-r', '10.99.2.2/24');
    // The relay's client-side address (giaddr); on lo, as this kernel has no dummy links.
    ip(['-n', 'bdh-rly', 'addr', 'add', '10.99.1.1/32', 'dev', 'lo']);
    ip(['-n', 'bdh-srv', 'route', 'add', '10.99.1.0/24', 'via', '10.99.2.2']);
    srv = await launch('bdh-srv', dhcpSiteYaml({ dir, interfaces: ['bdh-s', 'bdh-rs'], leaseTime: '16s' }), dir);
  });

  after(async () => {
    await srv?.stop();
    deleteNetns(NS);
  });

  const setMac = (mac: string): void => {
    ip(['-n', 'bdh-cli', 'addr', 'flush', 'dev', 'bdh-c']);
    ip(['-n', 'bdh-cli', 'link', 'set', 'bdh-c', 'address', mac]);
  };

  /** dhclient run: returns its events; renews once (T1 = 8 s) and releases. */
  async function dhclientRun(mac: string, hostname?: string): Promise<{ events: () => string[]; renewAndRelease: () => Promise<void> }> {
    setMac(mac);
    const ev = join(dir, `dh-${mac}.events`);
    const script = join(dir, 'dh.sh');
    writeFileSync(script, `#!/bin/sh
echo "$reason ip=$new_ip_address mask=$new_subnet_mask router=$new_routers dns=$new_domain_name_servers domain=$new_domain_name lease=$new_dhcp_lease_time server=$new_dhcp_server_identifier" >> "${ev}"
case "$reason" in BOUND|RENEW|REBOOT|REBIND) ip addr replace $new_ip_address/24 dev $interface ;; RELEASE|EXPIRE|STOP) ip addr flush dev $interface ;; esac
`);
    chmodSync(script, 0o755);
    writeFileSync(ev, '');
    const conf = join(dir, 'dhclient.conf');
    writeFileSync(conf, `request subnet-mask, routers, domain-name-servers, domain-name, host-name;\n${hostname ? `send host-name "${hostname}";\n` : ''}`);
    const args = ['netns', 'exec', 'bdh-cli', 'dhclient', '-4', '-d', '-1', '-cf', conf, '-sf', script, '-lf', join(dir, `dh-${mac}.leases`), '-pf', join(dir, 'dh.pid'), 'bdh-c'];
    const child = spawn('ip', args, { stdio: 'ignore' });
    const events = (): string[] => readFileSync(ev, 'utf8').split('\n').filter(Boolean);
    await waitFor(() => events().some((l) => l.startsWith('BOUND')), 20_000).catch(() => { child.kill('SIGKILL'); throw new Error(`dhclient not bound: ${events().join(' | ')}`); });
    return {
      events,
      renewAndRelease: async () => {
        try {
          await waitFor(() => events().some((l) => l.startsWith('RENEW')), 15_000);
          // dhclient -r: releases the lease and stops the running client (pid file).
          sh('ip', ['netns', 'exec', 'bdh-cli', 'dhclient', '-r', '-cf', conf, '-sf', script, '-lf', join(dir, `dh-${mac}.leases`), '-pf', join(dir, 'dh.pid'), 'bdh-c']);
        } finally {
          if (child.exitCode === null) child.kill('SIGTERM');
        }
        await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5000);
      },
    };
  }

  const field = (line: string, k: string): string => (new RegExp(`${k}=([^ ]*)`).exec(line) ?? [])[1] ?? '';

  it('addresses(): one SO_BINDTODEVICE socket per served interface, with its address (option 54)', () => {
    assert.deepEqual(srv.ready, [{ iface: 'bdh-s', address: '10.99.0.1', port: 67 }, { iface: 'bdh-rs', address: '10.99.2.1', port: 67 }]);
  });

  it('dhclient: reserved MAC gets its reservation with router, DNS and domain; renews and releases', async () => {
    const run = await dhclientRun('52:54:00:aa:00:10');
    const bound = run.events().find((l) => l.startsWith('BOUND'))!;
    assert.equal(field(bound, 'ip'), '10.99.0.10');
    assert.equal(field(bound, 'router'), '10.99.0.1');
    assert.equal(field(bound, 'dns'), '10.99.0.1');
    assert.equal(field(bound, 'domain'), 'lab.example.net');
    assert.equal(field(bound, 'lease'), '16');
    assert.equal(field(bound, 'server'), '10.99.0.1');
    await run.renewAndRelease();
    assert.ok(run.events().some((l) => l.startsWith('RENEW') && field(l, 'ip') === '10.99.0.10'), `renewed: ${run.events().join(' | ')}`);
    assert.ok(run.events().some((l) => l.startsWith('RELEASE')));
    const d = await srv.dump();
    const l = d.leases.find((x) => x.ip === '10.99.0.10');
    assert.equal(l?.mac, '52:54:00:aa:00:10');
    assert.equal(l?.state, 'released');
    // A reserved host's name comes from the inventory, never from DHCP.
    assert.ok(!d.dynamic.some((r) => r.owner === '10.99.0.10'));
  });

  it('dhclient: unknown MAC gets a pool address; its hostname becomes A + PTR, removed on release', async () => {
    const run = await dhclientRun('52:54:00:bb:00:11', 'Dyn-One');
    const bound = run.events().find((l) => l.startsWith('BOUND'))!;
    const addr = field(bound, 'ip');
    assert.match(addr, /^10\.99\.0\.(1[0-9][0-9])$/);
    assert.equal(field(bound, 'router'), '10.99.0.1');
    assert.equal(field(bound, 'domain'), 'lab.example.net');
    const d = await srv.dump();
    const recs = d.dynamic.filter((r) => r.owner === addr).map((r) => `${r.type} ${r.name} ${r.data}`).sort();
    assert.deepEqual(recs, [
      `A dyn-one.lab.example.net ${addr}`,
      `PTR ${addr.split('.').reverse().join('.')}.in-addr.arpa dyn-one.lab.example.net`,
    ]);
    await run.renewAndRelease();
    assert.ok(run.events().some((l) => l.startsWith('RENEW')));
    const d2 = await waitFor(async () => { const x = await srv.dump(); return x.dynamic.some((r) => r.owner === addr) ? undefined : x; }, 3000);
    assert.equal(d2.leases.find((x) => x.ip === addr)?.state, 'released');
  });

  /** udhcpc run: bound, SIGUSR1 renew, SIGTERM with -R release. */
  async function udhcpcRun(mac: string, hostname?: string): Promise<string[]> {
    setMac(mac);
    const ev = join(dir, `ud-${mac}.events`);
    const script = join(dir, 'ud.sh');
    writeFileSync(script, `#!/bin/sh
echo "$1 ip=$ip mask=$mask router=$router dns=$dns domain=$domain lease=$lease serverid=$serverid" >> "${ev}"
case "$1" in bound|renew) ip addr replace $ip/$mask dev $interface ;; deconfig) ip addr flush dev $interface ;; esac
`);
    chmodSync(script, 0o755);
    writeFileSync(ev, '');
    const args = ['netns', 'exec', 'bdh-cli', 'udhcpc', '-f', '-R', '-i', 'bdh-c', '-s', script, '-t', '4', '-T', '2', '-A', '1'];
    if (hostname) args.push('-x', `hostname:${hostname}`);
    const child = spawn('ip', args, { stdio: 'ignore' });
    const events = (): string[] => readFileSync(ev, 'utf8').split('\n').filter(Boolean);
    try {
      await waitFor(() => events().some((l) => l.startsWith('bound')), 20_000);
      // `ip netns exec` execs udhcpc, so the child's pid is udhcpc's.
      child.kill('SIGUSR1');
      await waitFor(() => events().some((l) => l.startsWith('renew')), 10_000);
    } finally {
      child.kill('SIGTERM');
      await waitFor(() => child.exitCode !== null || child.signalCode !== null, 5000);
    }
    return events();
  }

  it('udhcpc: reserved MAC gets its reservation; renew (SIGUSR1) and release (-R) work', async () => {
    const events = await udhcpcRun('52:54:00:aa:00:20');
    const bound = events.find((l) => l.startsWith('bound'))!;
    assert.equal(field(bound, 'ip'), '10.99.0.20');
    assert.equal(field(bound, 'router'), '10.99.0.1');
    assert.equal(field(bound, 'dns'), '10.99.0.1');
    assert.equal(field(bound, 'domain'), 'lab.example.net');
    assert.equal(field(bound, 'serverid'), '10.99.0.1');
    assert.ok(events.some((l) => l.startsWith('renew') && field(l, 'ip') === '10.99.0.20'));
    const d = await waitFor(async () => { const x = await srv.dump(); return x.leases.find((l) => l.ip === '10.99.0.20' && l.state === 'released') ? x : undefined; }, 3000);
    assert.equal(d.leases.find((l) => l.ip === '10.99.0.20')?.mac, '52:54:00:aa:00:20');
  });

  it('udhcpc: unknown MAC gets a pool address and a sanitised DNS name, gone after release', async () => {
    let addr = '';
    const events = await udhcpcRun('52:54:00:bb:00:22', 'Bad_Name.example');
    const bound = events.find((l) => l.startsWith('bound'))!;
    addr = field(bound, 'ip');
    assert.match(addr, /^10\.99\.0\.1[0-9][0-9]$/);
    const d = await waitFor(async () => { const x = await srv.dump(); return x.leases.find((l) => l.ip === addr && l.state === 'released') ? x : undefined; }, 3000);
    assert.equal(d.leases.find((l) => l.ip === addr)?.hostname, 'bad-name');
    assert.ok(!d.dynamic.some((r) => r.owner === addr), 'records removed on release');
  });

  it('relayed DISCOVER/REQUEST (giaddr 10.99.1.1, option 82) gets a 10.99.1.0/24 address, replies to the relay port', () => {
    const agent = Buffer.from([1, 4, 0x65, 0x74, 0x68, 0x31]); // circuit-id "eth1"
    const mac = '52:54:00:cc:00:01';
    const disc = clientPacket({ type: MessageType.DISCOVER, mac, giaddr: '10.99.1.1', hops: 1, xid: 0xaa01, options: [[Opt.RELAY_AGENT_INFO, agent]] });
    const r1 = craftExchange('bdh-rly', { bindAddress: '0.0.0.0', bindPort: 67, dest: '10.99.2.1', destPort: 67, packets: [hex(disc)], waitMs: 800 });
    assert.equal(r1.length, 1, 'one OFFER');
    assert.equal(r1[0]!.port, 67, 'from the server port');
    const offer = decodeHex(r1[0]!.hex);
    assert.equal(readMessageType(offer.options), MessageType.OFFER);
    assert.match(offer.yiaddr, /^10\.99\.1\.(1[0-4][0-9]|150)$/);
    assert.equal(offer.giaddr, '10.99.1.1');
    assert.deepEqual(offer.options.get(Opt.RELAY_AGENT_INFO), agent, 'option 82 echoed');
    assert.deepEqual(offer.options.get(Opt.ROUTER), Buffer.from([10, 99, 1, 1]));
    const sid = readIpOption(offer.options, Opt.SERVER_ID)!;
    assert.equal(sid, '10.99.2.1', 'option 54: the receiving interface address');
    const req = clientPacket({ type: MessageType.REQUEST, mac, giaddr: '10.99.1.1', hops: 1, xid: 0xaa02, options: [
      [Opt.REQUESTED_IP, Buffer.from(offer.yiaddr.split('.').map(Number))], [Opt.SERVER_ID, Buffer.from(sid.split('.').map(Number))], [Opt.RELAY_AGENT_INFO, agent]] });
    const r2 = craftExchange('bdh-rly', { bindAddress: '0.0.0.0', bindPort: 67, dest: '10.99.2.1', destPort: 67, packets: [hex(req)], waitMs: 800 });
    assert.equal(r2.length, 1);
    const ack = decodeHex(r2[0]!.hex);
    assert.equal(readMessageType(ack.options), MessageType.ACK);
    assert.equal(ack.yiaddr, offer.yiaddr);
    // The reserved mgmt interface of hv01 gets its 10.99.1.10 through the relay.
    const d2 = clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:aa:01:10', giaddr: '10.99.1.1', xid: 0xaa03 });
    const r3 = craftExchange('bdh-rly', { bindAddress: '0.0.0.0', bindPort: 67, dest: '10.99.2.1', destPort: 67, packets: [hex(d2)], waitMs: 800 });
    assert.equal(decodeHex(r3[0]!.hex).yiaddr, '10.99.1.10');
  });

  /** Crafted clients broadcast from a socket bound to bdh-c (SO_BINDTODEVICE addon), with no address, like firmware. */
  const craftingFrom = (mac: string): void => setMac(mac);

  const exchange = (pkt: ReturnType<typeof pxeDiscover>) => {
    const r = craftExchange('bdh-cli', { bindAddress: '0.0.0.0', bindPort: 68, iface: 'bdh-c', dest: '255.255.255.255', destPort: 67, packets: [hex(pkt)], waitMs: 600 });
    assert.equal(r.length, 1, 'one reply');
    return decodeHex(r[0]!.hex);
  };
  const text = (p: ReturnType<typeof decodeHex>, code: number) => readText(p.options, code);

  it('PXE: arch 0/7/9/16 with and without iPXE get the right boot answer', () => {
    craftingFrom('52:54:00:dd:00:ff');
    const base = 'http://pxe.mgmt.example.net:10080';
    // Firmware PXE gets a "DHCP only" offer (siaddr + file, no option 60): with 60 "PXEClient" and no
    // option 43 boot menu, EDK2/OVMF classifies the offer as BINL and asks port 4011 instead (PXE 2.1
    // §2.2.1; seen in test/e2e/pxe-boot.test.ts). iPXE gets 60 + 175.176 so it skips its ProxyDHCP wait.
    const cases: { arch: number; ipxe?: 'bare' | 'rfc3004'; vendor?: string; file: string; vc: string | undefined; tftp: boolean; enc175: boolean }[] = [
      { arch: 0, file: 'undionly.kpxe', vc: undefined, tftp: true, enc175: false },
      { arch: 7, file: 'ipxe.efi', vc: undefined, tftp: true, enc175: false },
      { arch: 9, file: 'ipxe.efi', vc: undefined, tftp: true, enc175: false },
      { arch: 16, vendor: 'HTTPClient:Arch:00016:UNDI:003001', file: `${base}/ipxe.efi`, vc: 'HTTPClient', tftp: false, enc175: false },
      { arch: 0, ipxe: 'bare', file: '', vc: 'PXEClient', tftp: false, enc175: true },
      { arch: 7, ipxe: 'bare', file: '', vc: 'PXEClient', tftp: false, enc175: true },
      { arch: 9, ipxe: 'rfc3004', file: '', vc: 'PXEClient', tftp: false, enc175: true },
      { arch: 16, ipxe: 'bare', vendor: 'HTTPClient:Arch:00016:UNDI:003001', file: '', vc: 'PXEClient', tftp: false, enc175: true },
    ];
    cases.forEach((c, i) => {
      const mac = `52:54:00:dd:00:${(0x10 + i).toString(16)}`;
      const p = exchange(pxeDiscover({ mac, arch: c.arch, ipxe: c.ipxe, vendor: c.vendor }));
      const want = c.file || `${base}/boot/${mac}.ipxe`;
      const label = `arch ${c.arch}${c.ipxe ? ` iPXE(${c.ipxe})` : ''}`;
      assert.equal(readMessageType(p.options), MessageType.OFFER, label);
      assert.equal(p.file, want, `${label}: file`);
      assert.equal(text(p, Opt.BOOTFILE), want, `${label}: option 67`);
      assert.equal(p.siaddr, '10.99.0.1', `${label}: siaddr`);
      assert.equal(text(p, Opt.VENDOR_CLASS), c.vc, `${label}: option 60`);
      assert.equal(text(p, Opt.TFTP_SERVER), c.tftp ? '10.99.0.1' : undefined, `${label}: option 66`);
      const enc = readSubOptions(p.options.get(Opt.IPXE_ENCAP));
      assert.equal(enc?.get(176)?.[0], c.enc175 ? 1 : undefined, `${label}: 175.176`);
    });
  });

  it('PXE: reserved host boots its own profile; a non-PXE client gets no boot options', () => {
    craftingFrom('52:54:00:dd:00:fe');
    const hv = exchange(pxeDiscover({ mac: '52:54:00:aa:00:10', arch: 7, xid: 0x77 }));
    assert.equal(hv.yiaddr, '10.99.0.10');
    assert.equal(hv.file, 'grubx64.efi');
    assert.equal(text(hv, Opt.BOOTFILE), 'grubx64.efi');
    // fedora has no BIOS file: no boot answer, but an address.
    const hvBios = exchange(pxeDiscover({ mac: '52:54:00:aa:00:10', arch: 0, xid: 0x78 }));
    assert.equal(hvBios.yiaddr, '10.99.0.10');
    assert.equal(hvBios.file, '');
    assert.ok(!hvBios.options.has(Opt.BOOTFILE));
    const plain = exchange(clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:dd:01:01', xid: 0x79 }));
    assert.equal(readMessageType(plain.options), MessageType.OFFER);
    assert.equal(plain.file, '');
    for (const c of [Opt.VENDOR_CLASS, Opt.TFTP_SERVER, Opt.BOOTFILE, Opt.IPXE_ENCAP]) assert.ok(!plain.options.has(c), `no option ${c}`);
  });

  it('malformed packets are counted and dropped; the server still answers', async () => {
    craftingFrom('52:54:00:ee:00:ff');
    const good = hex(clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:ee:00:01', xid: 0x99 }));
    const badCookie = good.slice(0, 472) + '00000000' + good.slice(480);
    const noEnd = Buffer.from(good, 'hex'); noEnd.fill(0, 240 + 3); // 53 kept, END gone
    const badLen = Buffer.from(good, 'hex'); badLen[241] = 200; // option 53 length runs past the end
    const packets = ['0102', good.slice(0, 200), badCookie, noEnd.toString('hex'), badLen.toString('hex')];
    const r = craftExchange('bdh-cli', { bindAddress: '0.0.0.0', bindPort: 68, iface: 'bdh-c', dest: '255.255.255.255', destPort: 67, packets, waitMs: 500 });
    assert.equal(r.length, 0);
    const d = await srv.dump();
    const n = (reason: string) => d.dropped.find((x) => x.reason === reason)?.n ?? 0;
    assert.ok(n('short') >= 2, `short: ${JSON.stringify(d.dropped)}`);
    assert.ok(n('cookie') >= 1);
    assert.ok(n('no-end') >= 1);
    assert.ok(n('option-length') >= 1);
    const ok = craftExchange('bdh-cli', { bindAddress: '0.0.0.0', bindPort: 68, iface: 'bdh-c', dest: '255.255.255.255', destPort: 67, packets: [good], waitMs: 500 });
    assert.equal(ok.length, 1);
  });

  const probe = (): { serverId: string; yiaddr: string; from: string }[] => JSON.parse(sh('ip', ['netns', 'exec', 'bdh-cli', process.execPath, '--import', 'tsx',
    new URL('../helpers/dhcp-probe-run.ts', import.meta.url).pathname, JSON.stringify({ iface: 'bdh-c', port: 68, serverPort: 67, timeoutMs: 700 })]));

  it('probeDhcp (authority checks) sees the server\'s OFFER and commits nothing', async () => {
    setMac('52:54:00:dd:02:01');
    const before = (await srv.dump()).leases.length;
    const offers = probe();
    assert.equal(offers.length, 1);
    assert.equal(offers[0]!.serverId, '10.99.0.1');
    assert.match(offers[0]!.yiaddr, /^10\.99\.0\.1[0-9][0-9]$/);
    assert.equal((await srv.dump()).leases.length, before);
  });

  it('fenced: in production mode nothing but proxyDHCP leaves', async () => {
    await srv.stop();
    const fenced = await launch('bdh-srv', dhcpSiteYaml({ dir, interfaces: ['bdh-s'], proxy: true }), dir, ['--mode', 'production']);
    try {
      const plain = clientPacket({ type: MessageType.DISCOVER, mac: '52:54:00:ff:00:01', xid: 0x501 });
      const r = craftExchange('bdh-cli', { bindAddress: '0.0.0.0', bindPort: 68, iface: 'bdh-c', dest: '255.255.255.255', destPort: 67, packets: [hex(plain)], waitMs: 600 });
      assert.equal(r.length, 0, 'no address offer when not authoritative');
      assert.deepEqual(probe(), [], 'a probe sees no DHCP server');
      const p = exchange(pxeDiscover({ mac: '52:54:00:ff:00:02', arch: 0 }));
      assert.equal(p.yiaddr, '0.0.0.0', 'proxyDHCP: no address');
      assert.equal(p.file, 'undionly.kpxe');
      assert.equal(text(p, Opt.VENDOR_CLASS), 'PXEClient');
      const d = await fenced.dump();
      assert.ok((d.dropped.find((x) => x.reason === 'fenced')?.n ?? 0) >= 1);
      assert.equal(d.leases.length, 0, 'nothing allocated');
    } finally {
      await fenced.stop();
    }
  });
});

