// Issue 10, faults: the store cannot be written while DHCP is serving (`builderd serve` in a
// namespace, clients through a relay address). Read-only (the WAL made immutable with chattr +i, what
// a read-only remount looks like even to root), disk full (the state directory on a small tmpfs,
// filled up) and SQLITE_BUSY (another connection holding the write lock). Either way: no ACK leaves for a lease that was not written, the failure is logged
// (dhcp.store.failed, error level), DNS keeps answering, and once the disk is writable again the same
// REQUEST is ACKed and survives a restart.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { join } from 'node:path';
import { MessageType, Opt, encodeDhcp } from '../../src/dhcp4/codec/index.js';
import { clientPacket } from '../helpers/dhcp-packets.js';
import { openSqliteStore } from '../../src/store/sqlite/index.js';
import { controlCall } from '../../src/control/client.js';
import { faultSite, CLIENT, SERVER, type FaultSite } from '../helpers/fault-site.js';
import { needsRoot, have } from '../helpers/netns.js';
import { relayDiscover, relayRequest, serverIdOf } from '../helpers/relay-client.js';

const skip = needsRoot('namespaces, chattr and tmpfs') || (!have('chattr') ? 'needs chattr (e2fsprogs)' : false);
const PORT = 10067;

interface Fault { name: string; prefix: string; setup?(stateDir: string): void; break(stateDir: string): void; heal(stateDir: string): void }

let locker: Database.Database | undefined;

const faults: Fault[] = [
  {
    name: 'read-only store (WAL immutable: chattr +i)',
    prefix: 'bfz-ro',
    break: (d) => execFileSync('chattr', ['+i', join(d, 'builderd.db-wal')]),
    heal: (d) => execFileSync('chattr', ['-i', join(d, 'builderd.db-wal')]),
  },
  {
    name: 'disk full (state directory on an 8 MB tmpfs, filled)',
    prefix: 'bfz-full',
    setup: (d) => execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=8m,mode=0750', 'bfz-full', d]),
    // Fill what is left; the WAL cannot grow by one more frame.
    break: (d) => { try { execFileSync('dd', ['if=/dev/zero', `of=${join(d, 'filler')}`, 'bs=64k'], { stdio: 'ignore' }); } catch { /* ENOSPC: full */ } },
    heal: (d) => execFileSync('rm', ['-f', join(d, 'filler')]),
  },
  {
    name: 'SQLite busy (another connection holds the write lock past busy_timeout)',
    prefix: 'bfz-busy',
    break: (d) => { locker = new Database(join(d, 'builderd.db')); locker.exec('BEGIN IMMEDIATE'); },
    heal: () => { if (locker) { locker.exec('ROLLBACK'); locker.close(); locker = undefined; } },
  },
];

for (const f of faults) {
  describe(`store fault during DHCP: ${f.name}`, { skip, timeout: 90_000 }, () => {
    let site: FaultSite;
    let state = '';
    let mounted = false;
    before(async () => {
      site = await faultSite(f.prefix, undefined, { start: false });
      state = join(site.dir, 'var');
      if (f.setup) { f.setup(state); mounted = true; }
      await site.start();
    });
    after(async () => {
      try { f.heal(state); } catch { /* already */ }
      await site?.cleanup().catch(() => undefined);
      if (mounted) { try { execFileSync('umount', ['-l', state]); } catch { /* gone with the dir */ } }
    });

    const ack = (mac: string, xid: number): { ip: string; types: (number | undefined)[] } => {
      const offer = relayDiscover(site.ns.a, CLIENT, SERVER, PORT, mac, xid);
      assert.ok(offer, `OFFER for ${mac}`);
      const r = relayRequest(site.ns.a, CLIENT, SERVER, PORT, mac, xid + 1, offer.yiaddr, serverIdOf(offer), 1500);
      return { ip: offer.yiaddr, types: r.map((x) => x.type) };
    };
    // +time=4: a busy store blocks the event loop for up to busy_timeout (2 s; better-sqlite3 is synchronous).
    const dig = (): string => site.ns.exec(site.ns.a, ['dig', `@${SERVER}`, '-p', '10053', '+time=4', '+tries=1', 'hv01.lab.example.net', 'A']);

    let okIp = '', failedIp = '';
    it('healthy: a REQUEST is ACKed', () => {
      const r = ack('52:54:00:bf:00:01', 0x1000);
      assert.deepEqual(r.types, [MessageType.ACK]);
      okIp = r.ip;
      assert.ok(existsSync(join(state, 'builderd.db-wal')));
    });

    it('store unwritable: no ACK for the lease that was not written; dhcp.store.failed logged; DNS answers', async () => {
      f.break(state);
      const r = ack('52:54:00:bf:00:02', 0x2000);
      failedIp = r.ip;
      assert.ok(!r.types.includes(MessageType.ACK), `no ACK (got ${JSON.stringify(r.types)})`);
      const line = await site.d.waitFor((l) => l['event'] === 'dhcp.store.failed', 5000);
      assert.equal(line['level'], 50, 'logged as an error');
      assert.match(String(line['msg']), /no ACK/);
      assert.ok(site.metric('builderd_errors_total', 'code="STORE_ERR_WRITE"') >= 1, 'counted in builderd_errors_total{code="STORE_ERR_WRITE"}');
      assert.match(dig(), /status: NOERROR/);
      // The daemon's view: the failed lease was rolled back, not left bound in memory.
      const leases = await controlCall(join(site.dir, 'var/builderd.sock'), 'leases') as { ip: string; mac: string; state: string }[];
      assert.ok(!leases.some((l) => l.mac === '52:54:00:bf:00:02' && l.state === 'bound'), 'not bound in memory');
      assert.equal(site.d.child.exitCode, null, 'still running');
    });

    it('writable again: the client is ACKed; both ACKed leases are in the store after a restart, the refused one was never written', async () => {
      f.heal(state);
      const r = ack('52:54:00:bf:00:02', 0x3000);
      assert.deepEqual(r.types, [MessageType.ACK]);
      const healedIp = r.ip;
      await site.d.stop('SIGKILL');
      const store = openSqliteStore({ dir: state });
      try {
        const rows = await store.leases.all();
        const bound = (mac: string) => rows.find((l) => l.mac === mac && l.state === 'bound');
        assert.equal(bound('52:54:00:bf:00:01')?.ip, okIp);
        assert.equal(bound('52:54:00:bf:00:02')?.ip, healedIp);
        if (healedIp !== failedIp) assert.ok(!rows.some((l) => l.ip === failedIp && l.state === 'bound'), 'the refused lease was never written');
      } finally {
        await store.close();
      }
      await site.start();
      assert.match(dig(), /status: NOERROR/);
    });
  });
}

describe('a busy store does not stall DNS', { skip, timeout: 60_000 }, () => {
  let site: FaultSite;
  before(async () => { site = await faultSite('bfz-bsy'); });
  after(async () => { await site?.cleanup(); });

  it('while another connection holds the write lock and REQUESTs keep arriving, DNS answers within 500 ms', async () => {
    const db = new Database(join(site.dir, 'var/builderd.db'));
    db.exec('BEGIN IMMEDIATE');
    try {
      const pk = Array.from({ length: 10 }, (_, i) => encodeDhcp(clientPacket({ type: MessageType.REQUEST, mac: `52:54:00:bf:0d:${i.toString(16).padStart(2, '0')}`, giaddr: CLIENT, hops: 1, xid: 0xd00 + i, options: [[Opt.REQUESTED_IP, Buffer.from([10, 99, 0, 150 + i])]] })).toString('hex'));
      const js = `const s=require('dgram').createSocket({type:'udp4',reuseAddr:true});s.bind(10067,'${CLIENT}',async()=>{for(const h of ${JSON.stringify(pk)}){s.send(Buffer.from(h,'hex'),10067,'${SERVER}');await new Promise(r=>setTimeout(r,300));}setTimeout(()=>process.exit(0),200);});`;
      const sender = site.ns.spawn(site.ns.a, [process.execPath, '-e', js]);
      const slowest: number[] = [];
      for (let i = 0; i < 6; i++) {
        const t0 = Date.now();
        const out = site.ns.exec(site.ns.a, ['dig', `@${SERVER}`, '-p', '10053', '+time=10', '+tries=1', 'hv01.lab.example.net', 'A']);
        assert.match(out, /status: NOERROR/);
        slowest.push(Date.now() - t0);
      }
      await new Promise((r) => (sender.exitCode !== null ? r(null) : sender.once('exit', r)));
      assert.ok(Math.max(...slowest) < 500, `DNS answer times while the store is busy: ${slowest.join(', ')} ms`);
    } finally {
      db.exec('ROLLBACK');
      db.close();
    }
  });
});
