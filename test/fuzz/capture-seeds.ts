/*
 * Captures the seed corpus of `npm run fuzz` from real clients (run once, as root; the output is
 * committed): dig/kdig queries (UDP and TCP), tftp-hpa/atftp/curl RRQs, and dhclient, udhcpc and
 * perfdhcp DHCP packets seen by tcpdump in a namespace pair (prefix bfz-) with our DHCP service answering.
 *   node --import tsx test/fuzz/capture-seeds.ts   (--ipxe-only: just re-encode the iPXE capture)
 * Writes test/fixtures/fuzz/seeds/{dns,tftp,dhcp}.txt: one "hex # source" line per distinct packet.
 */
import dgram from 'node:dgram';
import net from 'node:net';
import { execFile, execFileSync, spawn } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdirSync, readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { udpFromPcap } from './pcap.js';
import { createNetns, deleteNetns, veth, ip, launch } from '../helpers/dhcp-netns.js';
import { dhcpSiteYaml } from '../helpers/dhcp-config.js';
import { encodeDhcp } from '../../src/dhcp4/codec/index.js';

const run = promisify(execFile);
const OUT = resolve(import.meta.dirname, '../fixtures/fuzz/seeds');
mkdirSync(OUT, { recursive: true });

type Seeds = Map<string, string>;
const add = (s: Seeds, b: Buffer, src: string): void => { const h = b.toString('hex'); if (!s.has(h)) s.set(h, src); };
const save = (name: string, s: Seeds): void => {
  writeFileSync(join(OUT, `${name}.txt`), [...s].map(([h, src]) => `${h} # ${src}`).join('\n') + '\n');
  console.log(`${name}: ${s.size} seeds`);
};
const quiet = async (cmd: string, args: string[]): Promise<void> => { try { await run(cmd, args, { timeout: 15_000 }); } catch { /* the answer does not matter */ } };

async function dnsSeeds(): Promise<void> {
  const seeds: Seeds = new Map();
  let label = '';
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  // Reply REFUSED (QR set, question echoed) so the client finishes at once.
  const refuse = (m: Buffer): Buffer => { const r = Buffer.from(m); if (r.length >= 4) { r[2] = (r[2]! | 0x80); r[3] = (r[3]! & 0xf0) | 5; } return r; };
  udp.on('message', (m, ri) => { add(seeds, m, label); udp.send(refuse(m), ri.port, ri.address); });
  const tcp = net.createServer((s) => {
    let buf = Buffer.alloc(0);
    s.on('data', (d) => {
      buf = Buffer.concat([buf, d]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const m = buf.subarray(2, 2 + buf.readUInt16BE(0));
        add(seeds, m, `${label} (tcp)`);
        const r = refuse(m); const len = Buffer.alloc(2); len.writeUInt16BE(r.length);
        s.write(Buffer.concat([len, r]));
        buf = buf.subarray(2 + m.length);
      }
    });
    s.on('error', () => undefined);
  });
  await new Promise<void>((r) => tcp.listen(port, '127.0.0.1', () => r()));
  const key = 'hmac-sha256:xfr-key:' + Buffer.alloc(32, 7).toString('base64');
  const digs: string[][] = [
    ['hv01.lab.example.net', 'A'], ['+noedns', 'lab.example.net', 'SOA'], ['+dnssec', 'lab.example.net', 'ANY'],
    ['+bufsize=4096', '+nsid', 'x.lab.example.net', 'AAAA'], ['+cookie', 'mail.files.example.net', 'MX'],
    ['+edns=1', '+noednsneg', 'lab.example.net', 'NS'], ['+subnet=10.99.0.0/24', 'pxe.lab.example.net', 'CNAME'],
    ['-x', '10.99.0.10'], ['+opcode=2', 'lab.example.net', 'A'], ['version.bind', 'TXT', 'CH'],
    ['+tcp', 'lab.example.net', 'AXFR'], ['lab.example.net', 'IXFR=2024010101'], ['+tcp', 'lab.example.net', 'IXFR=1'],
    ['-y', key, 'lab.example.net', 'SOA'], ['-y', key, '+tcp', 'lab.example.net', 'AXFR'], ['+padding=64', 'a.b.c.d.e.f.lab.example.net', 'TXT'],
    ['_http._tcp.files.example.net', 'SRV'], ['files.example.net', 'CAA'], ['unk.files.example.net', 'TYPE65400'],
    ['esc\\.aped\\032name.files.example.net', 'A'], ['+norec', '+cd', '+ad', 'HV01.LAB.EXAMPLE.NET', 'A'], ['.', 'NS'],
    ['+expire', 'lab.example.net', 'SOA'], ['+keepalive', '+tcp', 'lab.example.net', 'A'],
  ];
  for (const a of digs) { label = `dig ${a.join(' ')}`; await quiet('dig', ['@127.0.0.1', '-p', String(port), '+time=1', '+tries=1', ...a]); }
  const kdigs: string[][] = [
    ['hv01.lab.example.net', 'A'], ['+tcp', 'lab.example.net', 'AXFR'], ['+nsid', '+bufsize=1232', 'lab.example.net', 'SOA'],
    ['+edns-opt=65001:0102', 'lab.example.net', 'A'], ['-y', key, 'lab.example.net', 'SOA'], ['+padding=128', 'x.lab.example.net', 'AAAA'],
    ['lab.example.net', 'NOTIFY'], ['-t', 'IXFR=5', 'lab.example.net'],
  ];
  for (const a of kdigs) { label = `kdig ${a.join(' ')}`; await quiet('kdig', ['@127.0.0.1', '-p', String(port), '+time=1', '+retry=0', ...a]); }
  label = 'kdig +notify'; await quiet('kdig', ['@127.0.0.1', '-p', String(port), '+time=1', '+retry=0', '+opcode=4', 'lab.example.net', 'SOA']);
  udp.close(); tcp.close();
  save('dns', seeds);
}

async function tftpSeeds(): Promise<void> {
  const seeds: Seeds = new Map();
  let label = '';
  const udp = dgram.createSocket('udp4');
  await new Promise<void>((r) => udp.bind(0, '127.0.0.1', () => r()));
  const port = udp.address().port;
  const notFound = Buffer.from('\x00\x05\x00\x01File not found\x00', 'latin1');
  udp.on('message', (m, ri) => { add(seeds, m, label); udp.send(notFound, ri.port, ri.address); });
  const tmp = mkdtempSync(join(tmpdir(), 'bfz-seed-'));
  const cmds: [string, string[]][] = [
    ['tftp', ['-m', 'binary', '127.0.0.1', String(port), '-c', 'get', 'pxelinux.0', join(tmp, 'a')]],
    ['tftp', ['-m', 'ascii', '127.0.0.1', String(port), '-c', 'get', 'pxelinux.cfg/default', join(tmp, 'b')]],
    ['atftp', ['-g', '-r', 'ipxe.efi', '-l', join(tmp, 'c'), '127.0.0.1', String(port)]],
    ['atftp', ['--option', 'blksize 1468', '--option', 'tsize', '--option', 'timeout 3', '--option', 'windowsize 8', '-g', '-r', 'grub/grub.cfg-52:54:00:aa:00:10', '-l', join(tmp, 'd'), '127.0.0.1', String(port)]],
    ['atftp', ['--option', 'multicast', '-g', '-r', 'undionly.kpxe', '-l', join(tmp, 'e'), '127.0.0.1', String(port)]],
    ['curl', ['-sS', '--max-time', '3', '-o', join(tmp, 'f'), `tftp://127.0.0.1:${port}/boot/vmlinuz`]],
    ['curl', ['-sS', '--max-time', '3', '--tftp-blksize', '1468', '-o', join(tmp, 'g'), `tftp://127.0.0.1:${port}/images/fedora/initrd.img`]],
    ['curl', ['-sS', '--max-time', '3', '--tftp-no-options', '-o', join(tmp, 'h'), `tftp://127.0.0.1:${port}/snp-arm64.efi`]],
  ];
  for (const [c, a] of cmds) { label = `${c} ${a.filter((x) => !x.startsWith(tmp)).join(' ')}`; await quiet(c, a); }
  // What clients send after the request: ACKs, an ERROR (RFC 2347 option refusal), a DATA.
  add(seeds, Buffer.from([0, 4, 0, 0]), 'ACK 0 (after OACK)');
  add(seeds, Buffer.from([0, 4, 0xff, 0xff]), 'ACK 65535 (rollover)');
  add(seeds, Buffer.from('\x00\x05\x00\x08tsize refused\x00', 'latin1'), 'ERROR 8 from a client');
  add(seeds, Buffer.from('\x00\x06blksize\x001468\x00tsize\x0012345\x00', 'latin1'), 'OACK (server to client)');
  add(seeds, Buffer.concat([Buffer.from([0, 3, 0, 1]), Buffer.alloc(512, 0x41)]), 'DATA 1');
  add(seeds, Buffer.from('\x00\x02upload.bin\x00octet\x00', 'latin1'), 'WRQ');
  udp.close();
  rmSync(tmp, { recursive: true, force: true });
  save('tftp', seeds);
}

async function dhcpSeeds(): Promise<void> {
  const seeds: Seeds = new Map();
  const NS = ['bfz-cap-s', 'bfz-cap-c'];
  const dir = mkdtempSync(join(tmpdir(), 'bfz-cap-'));
  createNetns(NS);
  try {
    veth('bfz-cap-s', 'bfz-cs', '10.99.0.1/24', 'bfz-cap-c', 'bfz-cc', null);
    ip(['-n', 'bfz-cap-s', 'route', 'add', 'default', 'dev', 'bfz-cs']);
    ip(['-n', 'bfz-cap-c', 'route', 'add', 'default', 'dev', 'bfz-cc']);
    const srv = await launch('bfz-cap-s', dhcpSiteYaml({ dir, interfaces: [], port: 67, leaseTime: '8s' }), dir);
    const pcap = join(dir, 'cap.pcap');
    const td = spawn('ip', ['netns', 'exec', 'bfz-cap-s', 'tcpdump', '-U', '-n', '-i', 'bfz-cs', '-w', pcap, 'udp'], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1500));
    const inNs = (args: string[], ms: number): Promise<void> => new Promise((res) => {
      const c = spawn('ip', ['netns', 'exec', 'bfz-cap-c', ...args], { stdio: 'ignore' });
      const t = setTimeout(() => c.kill('SIGTERM'), ms);
      c.on('exit', () => { clearTimeout(t); res(); });
    });
    const script = join(dir, 'noop.sh');
    writeFileSync(script, '#!/bin/sh\ncase "$reason" in BOUND|RENEW|REBOOT) ip addr replace $new_ip_address/24 dev $interface ;; esac\nexit 0\n', { mode: 0o755 });
    writeFileSync(join(dir, 'dh.conf'), 'send host-name "seed-host";\nrequest subnet-mask, routers, domain-name-servers, domain-name, host-name, ntp-servers;\n');
    ip(['-n', 'bfz-cap-c', 'link', 'set', 'bfz-cc', 'address', '52:54:00:aa:00:10']);
    await inNs(['dhclient', '-4', '-d', '-1', '-cf', join(dir, 'dh.conf'), '-sf', script, '-lf', join(dir, 'dh.leases'), '-pf', join(dir, 'dh.pid'), 'bfz-cc'], 6000);
    await inNs(['dhclient', '-4', '-r', '-cf', join(dir, 'dh.conf'), '-sf', script, '-lf', join(dir, 'dh.leases'), '-pf', join(dir, 'dh.pid'), 'bfz-cc'], 3000);
    ip(['-n', 'bfz-cap-c', 'addr', 'flush', 'dev', 'bfz-cc']);
    ip(['-n', 'bfz-cap-c', 'link', 'set', 'bfz-cc', 'address', '52:54:00:bb:00:33']);
    await inNs(['udhcpc', '-f', '-q', '-R', '-i', 'bfz-cc', '-s', '/bin/true', '-x', 'hostname:udhcpc-seed', '-V', 'PXEClient:Arch:00007:UNDI:003016', '-O', 'tftp', '-O', 'bootfile', '-t', '3', '-T', '1'], 6000);
    // perfdhcp as a relay (giaddr 10.99.0.60): DORA with PXE options, then without.
    ip(['-n', 'bfz-cap-c', 'addr', 'add', '10.99.0.60/24', 'dev', 'bfz-cc']);
    await inNs(['perfdhcp', '-4', '-l', '10.99.0.60', '-r', '20', '-n', '30', '-R', '10', '-o', '93,0007', '-o', '60,505845436c69656e74', '-o', '61,0152540000aabb', '10.99.0.1'], 6000);
    await inNs(['perfdhcp', '-4', '-l', '10.99.0.60', '-r', '20', '-n', '20', '-R', '5', '10.99.0.1'], 5000);
    await new Promise((r) => setTimeout(r, 800));
    td.kill('SIGINT');
    await new Promise((r) => td.once('exit', r));
    await srv.stop();
    for (const d of udpFromPcap(readFileSync(pcap))) {
      if (d.dport !== 67 && d.dport !== 68) continue;
      const who = d.src === '10.99.0.1' ? 'server' : d.src === '10.99.0.60' ? 'perfdhcp relay' : 'client';
      add(seeds, d.payload, `${who} ${d.src}:${d.sport} -> ${d.dst}:${d.dport} (tcpdump)`);
    }
    // Distinct perfdhcp packets differ only in xid/chaddr; keep at most 6 per kind.
    const byKind = new Map<string, number>();
    for (const [h, src] of [...seeds]) {
      const b = Buffer.from(h, 'hex');
      const k = `${src.split(' ')[0]}-${b.length}-${b.subarray(240, 260).toString('hex')}`;
      const n = (byKind.get(k) ?? 0) + 1;
      byKind.set(k, n);
      if (n > 6) seeds.delete(h);
    }
  } finally {
    deleteNetns(NS);
    rmSync(dir, { recursive: true, force: true });
  }
  save('dhcp', seeds);
  void execFileSync;
}

/** One option value of the iPXE capture's text form (shared/research/ipxe-dhcp-capture.txt) as bytes. */
function ipxeValue(code: number, text: string): Buffer {
  const ip = (t: string): number[] => t.split('.').map(Number);
  const u = (n: number, bytes: number): number[] => Array.from({ length: bytes }, (_, i) => (n >>> (8 * (bytes - 1 - i))) & 0xff);
  const types: Record<string, number> = { DISCOVER: 1, OFFER: 2, REQUEST: 3, DECLINE: 4, ACK: 5, NAK: 6, RELEASE: 7, INFORM: 8 };
  switch (code) {
    case 53: return Buffer.from([types[text] ?? 0]);
    case 57: return Buffer.from(u(Number(text), 2));
    case 51: case 58: case 59: return Buffer.from(u(Number(text), 4));
    case 1: case 3: case 28: case 50: case 54: return Buffer.from(ip(text));
    case 55: return Buffer.from(JSON.parse(text) as number[]);
    case 93: return Buffer.from([...text.matchAll(/'(\d+)/g)].flatMap((m) => u(Number(m[1]), 2)));
    case 94: { const m = /type (\d+), UNDI (\d+)\.(\d+)/.exec(text)!; return Buffer.from([Number(m[1]), Number(m[2]), Number(m[3])]); }
    case 61: { const m = /htype (\d+) (\S+)/.exec(text)!; return Buffer.from([Number(m[1]), ...Buffer.from(m[2]!.replace(/:/g, ''), 'hex')]); }
    case 97: { const m = /type (\d+) (\S+)/.exec(text)!; return Buffer.from([Number(m[1]), ...Buffer.from(m[2]!.replace(/-/g, ''), 'hex')]); }
    case 67: return Buffer.from(text.replace(/ <NUL-terminated>$/, '') + (text.endsWith('<NUL-terminated>') ? '\0' : ''), 'latin1');
    case 175: {
      // iPXE encapsulated options: bus-id is type + vendor + device, version three bytes, features one byte.
      const parts: Buffer[] = [];
      for (const m of text.matchAll(/'(\d+) [^']*': ('[^']*'|\d+)/g)) {
        const sub = Number(m[1]);
        const v = m[2]!.replace(/'/g, '');
        let b: Buffer;
        if (sub === 177) { const x = /bus (\d+) ([0-9a-f]{4}):([0-9a-f]{4})/.exec(v)!; b = Buffer.from([Number(x[1]), ...Buffer.from(x[2]! + x[3]!, 'hex')]); }
        else if (sub === 235) b = Buffer.from(v.split('.').map(Number));
        else b = Buffer.from([Number(v)]);
        parts.push(Buffer.from([sub, b.length]), b);
      }
      return Buffer.concat(parts);
    }
    default: return Buffer.from(text, 'latin1');
  }
}

/** The iPXE exchange captured by the research harness (text), rebuilt into packets with our encoder. */
function ipxeSeeds(): void {
  const file = resolve(import.meta.dirname, '../../../../shared/research/ipxe-dhcp-capture.txt');
  let text = '';
  try { text = readFileSync(file, 'utf8'); } catch { console.log('ipxe capture not found; dhcp seeds kept'); return; }
  const seeds: Seeds = new Map();
  const current = readFileSync(join(OUT, 'dhcp.txt'), 'utf8').split('\n').filter(Boolean);
  for (const l of current) { const [h, src] = l.split(' # '); seeds.set(h!, src ?? ''); }
  for (const block of text.split('\n--- ').slice(1)) {
    const [head, ...lines] = block.split('\n');
    const h = /(client|server) \S+ -> \S+\s+(\w+) chaddr=(\S+) flags=(\w+) secs=(\d+) ciaddr=(\S+) yiaddr=(\S+) siaddr=(\S+) file='([^']*)'/.exec(head!);
    if (!h) continue;
    const options = new Map<number, Buffer>();
    for (const line of lines) {
      const m = /^\s+(\d+) \S+\s+(.*)$/.exec(line);
      if (m) options.set(Number(m[1]), ipxeValue(Number(m[1]), m[2]!.trim()));
    }
    const chaddr = Buffer.alloc(16);
    Buffer.from(h[3]!.replace(/:/g, ''), 'hex').copy(chaddr);
    const bytes = encodeDhcp({
      op: h[1] === 'client' ? 1 : 2, htype: 1, hlen: 6, hops: 0, xid: 0x1f00 + seeds.size, secs: Number(h[5]), flags: parseInt(h[4]!, 16),
      ciaddr: h[6]!, yiaddr: h[7]!, siaddr: h[8]!, giaddr: '0.0.0.0', chaddr, sname: '', file: h[9]!, options,
    }, { maxSize: 1472 });
    add(seeds, bytes, `iPXE ${h[1]} ${h[2]} (shared/research/ipxe-dhcp-capture.txt, re-encoded)`);
  }
  save('dhcp', seeds);
}

if (process.argv.includes('--ipxe-only')) { ipxeSeeds(); process.exit(0); }
await dnsSeeds();
await tftpSeeds();
if (process.getuid?.() === 0) await dhcpSeeds(); else console.log('dhcp: skipped (needs root for namespaces)');
ipxeSeeds();
