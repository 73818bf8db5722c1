/*
 * A network-boot lab: a network namespace with a bridge and a tap, a PXE server inside it, and a QEMU
 * (TCG) machine whose NIC is the tap. Used by test/e2e/pxe-boot.test.ts and by the benchmarks
 * (bootToMarker).
 *
 * Topology (names are this area's bqe- prefix, so other suites can run at the same time):
 *   netns bqe-pxe: bridge bqebr0 10.99.0.2/24 + fd99::2/64, tap bqetap0 enslaved to it
 *   qemu-system-x86_64 runs inside the netns: -netdev tap,ifname=bqetap0 -device virtio-net-pci
 * The VM is inventory host hv01 (MAC 52:54:00:aa:00:10, reservation 10.99.0.10); the server is
 * provisioner-ph01 (10.99.0.2), as in config/example.yaml.
 *
 * Every process is started in its own process group and stopped by that id; destroy() also kills what
 * is left in the namespace (ip netns pids) and deletes it. A namespace left by a killed run is removed
 * the same way before a new one is made.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ensurePxeAssets, MARKER_PREFIX, type PxeAssets } from './pxe-assets.js';

/** Names and addresses of the lab; override for a second lab next to this one. */
export const LAB = {
  ns: 'bqe-pxe',
  bridge: 'bqebr0',
  tap: 'bqetap0',
  serverIp: '10.99.0.2',
  prefix: 24,
  serverIp6: 'fd99::2',
  gateway: '10.99.0.1',
  poolStart: '10.99.0.100',
  poolEnd: '10.99.0.199',
  /** hv01 in config/example.yaml */
  vmName: 'hv01',
  vmMac: '52:54:00:aa:00:10',
  vmIp: '10.99.0.10',
  /** the name boot files use for the server (services.pxe → provisioner-ph01) */
  pxeName: 'pxe.mgmt.example.net',
} as const;

/** Firmware path of a boot. */
export type BootMode = 'bios' | 'uefi';

/** Repository root (this file is test/helpers/pxe-lab.ts). */
export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

function sh(cmd: string, args: string[], allowFail = false): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8' });
  if (r.status !== 0 && !allowFail) throw new Error(`${cmd} ${args.join(' ')} failed (${r.status}): ${r.stderr.trim()}`);
  return r.stdout ?? '';
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Poll pred every intervalMs until it is true or timeoutMs passes; returns the last value. */
export async function waitFor(pred: () => boolean, timeoutMs: number, intervalMs = 100): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    if (pred()) return true;
    if (Date.now() >= end) return false;
    await sleep(intervalMs);
  }
}

/** A process the lab started, in its own process group. */
export interface LabProcess {
  name: string;
  pid: number;
  log: string;
  /** exit code, or null while running / when killed by a signal */
  exitCode(): number | null;
  running(): boolean;
  output(): string;
  /** SIGTERM to the group, then SIGKILL after graceMs. */
  stop(graceMs?: number): Promise<void>;
}

function track(name: string, child: ChildProcess, log: string): LabProcess {
  let done = false;
  let code: number | null = null;
  child.on('exit', (c) => { done = true; code = c; });
  child.on('error', () => { done = true; });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start ${name}`);
  const kill = (sig: NodeJS.Signals): void => {
    try { process.kill(-pid, sig); } catch { /* group gone */ }
  };
  return {
    name, pid, log,
    exitCode: () => code,
    running: () => !done,
    output: () => (existsSync(log) ? readFileSync(log, 'utf8') : ''),
    async stop(graceMs = 3000) {
      if (done) { kill('SIGKILL'); return; }
      kill('SIGTERM');
      if (!(await waitFor(() => done, graceMs, 50))) {
        kill('SIGKILL');
        await waitFor(() => done, 2000, 50);
      }
    },
  };
}

/** The namespace with its bridge and tap. */
export interface Lab {
  ns: string;
  bridge: string;
  tap: string;
  serverIp: string;
  workDir: string;
  /** Start argv inside the namespace (own process group, output to workDir/<name>.log). */
  spawn(name: string, argv: string[], env?: Record<string, string>, opts?: { stdinPipe?: boolean }): LabProcess;
  /** True when something listens on the port inside the namespace. */
  listening(proto: 'udp' | 'tcp', port: number): boolean;
  /** Stop every process the lab started, kill what remains in the namespace, delete it. */
  destroy(): Promise<void>;
}

function deleteNetns(ns: string): void {
  if (!sh('ip', ['netns', 'list'], true).split('\n').some((l) => l.split(' ')[0] === ns)) return;
  // Only processes inside our own namespace (left by an earlier, killed run of this suite).
  for (const p of sh('ip', ['netns', 'pids', ns], true).split('\n').map((s) => Number(s.trim())).filter((n) => n > 0)) {
    try { process.kill(p, 'SIGKILL'); } catch { /* gone */ }
  }
  sh('ip', ['netns', 'del', ns], true);
}

function pidAlive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
}

/** Options of createLab. */
export interface LabOptions {
  ns?: string;
  bridge?: string;
  tap?: string;
  serverIp?: string;
  prefix?: number;
  serverIp6?: string;
  workDir?: string;
}

/** Create the namespace, bridge (STP off, no forward delay) and tap. Needs root. */
export function createLab(opts: LabOptions = {}): Lab {
  const ns = opts.ns ?? LAB.ns;
  const bridge = opts.bridge ?? LAB.bridge;
  const tap = opts.tap ?? LAB.tap;
  const serverIp = opts.serverIp ?? LAB.serverIp;
  const prefix = opts.prefix ?? LAB.prefix;
  const serverIp6 = opts.serverIp6 ?? LAB.serverIp6;
  // One lab per namespace name on the machine: a second run (another suite, a bench, a developer)
  // must not tear down a lab that is booting. The lock holds the owner's PID; a dead owner's lab is
  // reaped (its namespace and what runs in it).
  const lock = join(tmpdir(), `builderd-lab-${ns}.pid`);
  const owner = existsSync(lock) ? Number(readFileSync(lock, 'utf8').trim()) : 0;
  if (owner > 0 && owner !== process.pid && pidAlive(owner)) {
    throw new Error(`namespace ${ns} is in use by PID ${owner} (lock ${lock}); pass createLab({ ns, bridge, tap }) with other names`);
  }
  writeFileSync(lock, String(process.pid));
  const workDir = opts.workDir ?? mkdtempSync(join(tmpdir(), `${ns}-`));
  mkdirSync(workDir, { recursive: true });
  deleteNetns(ns);
  sh('ip', ['netns', 'add', ns]);
  const ipn = (...a: string[]): string => sh('ip', ['-n', ns, ...a]);
  try {
    ipn('link', 'set', 'lo', 'up');
    ipn('link', 'add', bridge, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0');
    ipn('addr', 'add', `${serverIp}/${prefix}`, 'dev', bridge);
    ipn('addr', 'add', `${serverIp6}/64`, 'dev', bridge, 'nodad');
    ipn('link', 'set', bridge, 'up');
    ipn('tuntap', 'add', 'dev', tap, 'mode', 'tap');
    ipn('link', 'set', tap, 'master', bridge);
    ipn('link', 'set', tap, 'up');
  } catch (e) {
    deleteNetns(ns);
    rmSync(lock, { force: true });
    throw e;
  }
  const procs: LabProcess[] = [];
  return {
    ns, bridge, tap, serverIp, workDir,
    spawn(name, argv, env, opts) {
      const log = join(workDir, `${name}.log`);
      const fd = openSync(log, 'a');
      try {
        const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
          // stdinPipe: a server that stops when its stdin closes keeps running until stop()
          detached: true, stdio: [opts?.stdinPipe ? 'pipe' : 'ignore', fd, fd], env: { ...process.env, ...env },
        });
        const p = track(name, child, log);
        procs.push(p);
        return p;
      } finally {
        closeSync(fd);
      }
    },
    listening(proto, port) {
      const out = sh('ip', ['netns', 'exec', ns, 'ss', '-Hln', proto === 'udp' ? '-u' : '-t', `sport = :${port}`], true);
      return out.trim().length > 0;
    },
    async destroy() {
      for (const p of procs.reverse()) await p.stop(1500);
      deleteNetns(ns);
      if (existsSync(lock) && Number(readFileSync(lock, 'utf8').trim()) === process.pid) rmSync(lock, { force: true });
    },
  };
}

/** Router advertisements on the bridge (radvd), so iPXE ends its IPv6 autoconfiguration wait (~13 s) at once. */
export async function startRouterAdvertisements(lab: Lab): Promise<LabProcess> {
  const conf = join(lab.workDir, 'radvd.conf');
  // No autonomous prefix and router lifetime 0: clients learn only that a router exists on the
  // segment (ending iPXE's wait) and keep using IPv4 for everything.
  writeFileSync(conf, `interface ${lab.bridge} {
  AdvSendAdvert on;
  IgnoreIfMissing on;
  MinRtrAdvInterval 3;
  MaxRtrAdvInterval 10;
  AdvDefaultLifetime 0;
  AdvManagedFlag off;
  AdvOtherConfigFlag off;
  prefix fd99::/64 { AdvOnLink on; AdvAutonomous off; };
};
`);
  sh('ip', ['netns', 'exec', lab.ns, 'sysctl', '-qw', 'net.ipv6.conf.all.forwarding=1']);
  const p = lab.spawn('radvd', ['radvd', '-n', '-C', conf, '-p', join(lab.workDir, 'radvd.pid'), '-m', 'stderr']);
  await sleep(300);
  if (!p.running()) throw new Error(`radvd did not start: ${p.output()}`);
  return p;
}

/** Capture DHCP (and TFTP requests) on the bridge with tcpdump into workDir/dhcp.pcap, for a look after a failure. */
export async function startCapture(lab: Lab): Promise<LabProcess & { pcap: string }> {
  const pcap = join(lab.workDir, 'dhcp.pcap');
  const p = lab.spawn('tcpdump', ['tcpdump', '-i', lab.bridge, '--immediate-mode', '-U', '-n', '-s', '0', '-w', pcap,
    'udp port 67 or udp port 68 or udp port 69 or udp port 4011']);
  await waitFor(() => existsSync(pcap) || !p.running(), 5000, 50);
  return Object.assign(p, { pcap });
}

/** The site a server is given: artifacts, templates, a per-boot marker token. */
export interface Site {
  dir: string;
  artifacts: string;
  templates: string;
  /** state directory (builderd's store) */
  state: string;
  assets: PxeAssets;
}

/** Lay out artifacts (vmlinuz, initrd.img, ipxe.efi, snponly.efi, undionly.kpxe) under dir. */
export function prepareSite(dir: string, assets: PxeAssets = ensurePxeAssets()): Site {
  const artifacts = join(dir, 'artifacts');
  const templates = join(dir, 'templates');
  const state = join(dir, 'var');
  for (const d of [artifacts, templates, state]) mkdirSync(d, { recursive: true });
  copyFileSync(assets.kernel.path, join(artifacts, 'vmlinuz'));
  copyFileSync(assets.initramfs.path, join(artifacts, 'initrd.img'));
  copyFileSync(assets.ipxe.ipxeEfi, join(artifacts, 'ipxe.efi'));
  copyFileSync(assets.ipxe.snponlyEfi, join(artifacts, 'snponly.efi'));
  copyFileSync(assets.ipxe.undionlyKpxe, join(artifacts, 'undionly.kpxe'));
  return { dir, artifacts, templates, state, assets };
}

/**
 * Kernel command line of the journey; builderd.marker is echoed back by the initramfs.
 * initrd=initrd.img is required on UEFI: the kernel's EFI stub loads the initrd by that name from
 * iPXE's image store (Debian's iPXE, 2019, has no LoadFile2 initrd protocol); without it the kernel
 * panics with "VFS: Unable to mount root fs" (seen here). BIOS iPXE passes the initrd itself.
 */
export function kernelArgs(token: string): string {
  return `initrd=initrd.img console=ttyS0 quiet panic=-1 builderd.marker=${token}`;
}

/** The iPXE script of the journey, with absolute URLs under baseUrl. */
export function ipxeScript(baseUrl: string, token: string): string {
  return `#!ipxe
echo builderd-e2e script: mac \${net0/mac} ip \${net0/ip} platform \${platform}
kernel ${baseUrl}/vmlinuz ${kernelArgs(token)}
initrd ${baseUrl}/initrd.img
boot
`;
}

/** A PXE server running in the lab. */
export interface PxeServer {
  name: string;
  /** Log text of every process of the server (DHCP/TFTP/HTTP/DNS events). */
  events(): string;
  /** Set the marker token the next boot must echo (rewrites the boot script when the server allows). */
  setToken(token: string): void;
  stop(): Promise<void>;
}

/**
 * Stand-in server: dnsmasq (DHCP, TFTP, DNS for pxe.mgmt.example.net) and python3 http.server on :80.
 * Firmware PXE clients (no user class iPXE) get ipxe.efi (arch 7/9) or undionly.kpxe over TFTP;
 * iPXE gets http://pxe.mgmt.example.net/boot/<mac>.ipxe with 175.176 (no-pxedhcp) = 1.
 */
export async function startStandIn(lab: Lab, site: Site, opts: { dhcpOnly?: boolean } = {}): Promise<PxeServer> {
  const dhcpOnly = opts.dhcpOnly ?? false;
  const baseUrl = `http://${LAB.pxeName}`;
  const bootDir = join(site.artifacts, 'boot');
  mkdirSync(bootDir, { recursive: true });
  const script = join(bootDir, `${LAB.vmMac}.ipxe`);
  const setToken = (token: string): void => writeFileSync(script, ipxeScript(baseUrl, token));
  if (!dhcpOnly) setToken('none');
  const conf = join(site.dir, 'dnsmasq.conf');
  writeFileSync(conf, `# stand-in PXE server for the e2e journey (replaced by builderd serve)
interface=${lab.bridge}
bind-interfaces
${dhcpOnly ? 'port=0' : `listen-address=${lab.serverIp}
port=53
no-resolv
no-hosts
address=/${LAB.pxeName}/${lab.serverIp}
log-queries`}
dhcp-range=${LAB.poolStart},${LAB.poolEnd},255.255.255.0,1h
dhcp-host=${LAB.vmMac},${LAB.vmIp},${LAB.vmName},set:hv01
dhcp-option=option:router,${LAB.gateway}
dhcp-option=option:dns-server,${lab.serverIp}
dhcp-leasefile=${join(site.dir, 'dnsmasq.leases')}
dhcp-authoritative
no-ping
log-dhcp
user=root
group=root
pid-file=${join(site.dir, 'dnsmasq.pid')}
${dhcpOnly ? '' : `enable-tftp
tftp-root=${site.artifacts}`}
dhcp-userclass=set:ipxe,iPXE
dhcp-match=set:efi64,option:client-arch,7
dhcp-match=set:efi64,option:client-arch,9
dhcp-boot=tag:ipxe,${baseUrl}/boot/${LAB.vmMac}.ipxe
dhcp-boot=tag:!ipxe,tag:efi64,ipxe.efi,,${lab.serverIp}
dhcp-boot=tag:!ipxe,tag:!efi64,undionly.kpxe,,${lab.serverIp}
dhcp-option=tag:ipxe,encap:175,176,1b
`);
  const dnsmasq = lab.spawn(dhcpOnly ? 'dnsmasq-dhcp' : 'dnsmasq', ['dnsmasq', '--keep-in-foreground', '--log-facility=-', `--conf-file=${conf}`]);
  const http = dhcpOnly ? undefined
    : lab.spawn('http', ['python3', '-u', '-m', 'http.server', '80', '--bind', lab.serverIp, '--directory', site.artifacts]);
  const ok = await waitFor(() => lab.listening('udp', 67) && (dhcpOnly || (lab.listening('udp', 69) && lab.listening('udp', 53)
    && lab.listening('tcp', 80))), 10_000);
  const events = (): string => dhcpOnly ? `--- dnsmasq (DHCP only)\n${dnsmasq.output()}`
    : `--- dnsmasq (DHCP/TFTP/DNS)\n${dnsmasq.output()}\n--- http\n${http?.output() ?? ''}`;
  const stop = async (): Promise<void> => { await http?.stop(); await dnsmasq.stop(); };
  if (!ok) {
    await stop();
    throw new Error(`stand-in server did not start:\n${events()}`);
  }
  return {
    name: dhcpOnly ? 'dnsmasq-dhcp' : 'standin(dnsmasq+python-http)',
    events,
    setToken: dhcpOnly ? () => undefined : setToken,
    stop,
  };
}

/** Options of a command-line server (builderd serve, or any other) run inside the namespace. */
export interface CommandServerOptions {
  name: string;
  argv: string[];
  env?: Record<string, string>;
  /** UDP/TCP ports that must be bound before the server counts as ready (default udp 67). */
  ready?: Array<['udp' | 'tcp', number]>;
  readyTimeoutMs?: number;
  /** Extra event text (e.g. the server's own event query) appended to its log. */
  extraEvents?: () => string;
}

/** Run a server command inside the namespace and wait until its ports are bound. */
export async function startCommandServer(lab: Lab, o: CommandServerOptions): Promise<PxeServer> {
  const p = lab.spawn(o.name, o.argv, o.env);
  const ready = o.ready ?? [['udp', 67]];
  const ok = await waitFor(() => !p.running() || ready.every(([proto, port]) => lab.listening(proto, port)),
    o.readyTimeoutMs ?? 30_000);
  const events = (): string => `--- ${o.name}\n${p.output()}${o.extraEvents ? `\n${o.extraEvents()}` : ''}`;
  if (!ok || !p.running()) {
    await p.stop();
    throw new Error(`${o.name} did not become ready (${ready.map(([a, b]) => `${a}/${b}`).join(' ')}):\n${events()}`);
  }
  return { name: o.name, events, setToken: () => undefined, stop: () => p.stop() };
}

/** Options of bootVm. */
export interface BootVmOptions {
  mode: BootMode;
  /**
   * UEFI only. 'firmware' (default): OVMF's own PXE with the NIC option ROM disabled (romfile=),
   * so the firmware asks as arch 7 and chainloads the server's ipxe.efi. 'rom': OVMF runs the iPXE
   * option ROM of ipxe-qemu instead.
   */
  uefiPxe?: 'firmware' | 'rom';
  mac?: string;
  /** token the marker line must carry; undefined accepts any token */
  token?: string;
  timeoutMs?: number;
  memMb?: number;
  /** extra QEMU arguments */
  qemuArgs?: string[];
}

/** Seconds-from-start of notable lines in the serial log. */
export type Milestones = Record<string, number>;

/** Outcome of one boot. */
export interface BootResult {
  ok: boolean;
  /** ms from QEMU exec to the marker line (or to the end of the wait when !ok) */
  ms: number;
  milestones: Milestones;
  /** serial console, one line each, prefixed with the seconds after QEMU start it was first seen */
  serial: string;
  /** serial console as plain text (escapes, CRs and backspaces removed) */
  text: string;
  timeline: SerialLine[];
  markerLine?: string;
  /** the VM powered itself off after the marker (poweroff -f in the initramfs) */
  poweredOff: boolean;
  qemuLog: string;
  /** why the boot ended without the marker */
  reason?: string;
}

const MILESTONES: Array<[string, RegExp]> = [
  ['seabios', /SeaBIOS \(version/],
  ['ovmf-pxe', /Start PXE over IPv4/],
  ['ovmf-nbp', /NBP file downloaded/],
  ['ipxe-banner', /iPXE \d\.\d/],
  ['ipxe-dhcp', /Configuring \(net\d/],
  ['script', /builderd-e2e script|\.ipxe\.{3} ok/],
  ['kernel', /vmlinuz\.{3} ok/],
  ['initrd', /initrd\.img\.{3} ok/],
  ['marker', new RegExp(MARKER_PREFIX)],
];

/** One line of the serial console with the ms after QEMU start at which it was first seen. */
export interface SerialLine {
  ms: number;
  text: string;
}

/** Strip ANSI escapes and CRs so the serial log reads as text. */
export function cleanSerial(s: string): string {
  let t = s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\x1b[()][A-Za-z0-9]/g, '').replace(/\x1b[a-zA-Z=>]/g, '')
    .replace(/\r\n/g, '\n').replace(/\r/g, '\n');
  // a backspace erases the character before it (iPXE's countdown prompts)
  for (let prev = ''; prev !== t;) { prev = t; t = t.replace(/[^\n\x08]\x08/g, ''); }
  return t.replace(/\x08/g, '').replace(/\n{3,}/g, '\n\n');
}

/**
 * Boot the VM once in the lab and wait for the marker on its serial console. QEMU is always killed
 * (by PID) before this returns. The VM powers itself off after the marker; -no-reboot makes a panic
 * or a reboot end QEMU too.
 */
export async function bootVm(lab: Lab, site: Site | undefined, o: BootVmOptions): Promise<BootResult> {
  const assets = site?.assets ?? ensurePxeAssets();
  const mac = o.mac ?? LAB.vmMac;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const tag = `${o.mode}${o.mode === 'uefi' ? `-${o.uefiPxe ?? 'firmware'}` : ''}-${Date.now()}`;
  const serialPath = join(lab.workDir, `serial-${tag}.log`);
  writeFileSync(serialPath, '');
  const fw: string[] = [];
  // QEMU's default ROM for virtio-net-pci is efi-virtio.rom, found on its firmware path in
  // /usr/lib/ipxe/qemu (package ipxe-qemu). Naming that file by absolute path in romfile= made
  // SeaBIOS skip the ROM here, so the default is left alone and romfile= is only used to disable it.
  let nicRom = '';
  if (o.mode === 'uefi') {
    const vars = join(lab.workDir, `ovmf-vars-${tag}.fd`);
    copyFileSync(assets.ovmf.varsTemplate, vars);
    fw.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${assets.ovmf.code}`,
      '-drive', `if=pflash,format=raw,unit=1,file=${vars}`);
    if ((o.uefiPxe ?? 'firmware') === 'firmware') nicRom = ',romfile=';
  }
  const argv = ['qemu-system-x86_64', '-machine', 'pc,accel=tcg', '-m', String(o.memMb ?? 512), '-smp', '1',
    '-nographic', '-monitor', 'none', '-serial', `file:${serialPath}`, '-no-reboot', ...fw,
    ...(o.mode === 'bios' ? ['-boot', 'n'] : []),
    '-netdev', `tap,id=n0,ifname=${lab.tap},script=no,downscript=no`,
    '-device', `virtio-net-pci,netdev=n0,mac=${mac}${nicRom},bootindex=1`,
    ...(o.qemuArgs ?? [])];
  const t0 = performance.now();
  const qemu = lab.spawn(`qemu-${tag}`, argv);
  const milestones: Milestones = {};
  const timeline: SerialLine[] = [];
  let text = '';
  let markerLine: string | undefined;
  const markerRe = new RegExp(`${MARKER_PREFIX} token=(\\S+).*`);
  let reason: string | undefined;
  const poll = (): void => {
    const el = Math.round(performance.now() - t0);
    text = cleanSerial(readFileSync(serialPath, 'utf8'));
    for (const [k, re] of MILESTONES) if (milestones[k] === undefined && re.test(text)) milestones[k] = el;
    // complete lines get the time they were first seen; the unterminated last one waits
    const lines = text.split('\n');
    lines.pop();
    const complete = lines.filter((l) => l.trim());
    for (let i = timeline.length; i < complete.length; i++) timeline.push({ ms: el, text: complete[i]! });
    const m = markerRe.exec(text);
    if (m && !markerLine && !reason) {
      if (o.token === undefined || m[1] === o.token) markerLine = m[0];
      else reason = `marker with the wrong token: ${m[0]} (want ${o.token})`;
    }
  };
  for (;;) {
    poll();
    const el = performance.now() - t0;
    if (markerLine || reason) break;
    if (!qemu.running()) { poll(); reason = markerLine ? undefined : `qemu exited (code ${qemu.exitCode()}) before the marker`; break; }
    if (el > timeoutMs) { reason = `no marker within ${timeoutMs} ms`; break; }
    await sleep(50);
  }
  const ms = markerLine ? (milestones.marker ?? Math.round(performance.now() - t0)) : Math.round(performance.now() - t0);
  // Give the VM a moment to power off by itself (proves poweroff works), then kill it regardless.
  const poweredOff = markerLine ? await waitFor(() => !qemu.running(), 5000, 50) : false;
  await qemu.stop(500);
  poll();
  const rest = text.split('\n').filter((l) => l.trim()).slice(timeline.length);
  const serial = [...timeline.map((l) => `${(l.ms / 1000).toFixed(2).padStart(7)}s ${l.text}`), ...rest.map((l) => `        ${l}`)].join('\n');
  return { ok: markerLine !== undefined, ms, milestones, serial, text, timeline, markerLine, poweredOff, qemuLog: qemu.output(), reason };
}

/** A fresh random marker token. */
export function newToken(): string {
  return randomBytes(6).toString('hex');
}

/** Options of bootToMarker. */
export interface BootToMarkerOptions {
  mode: BootMode;
  uefiPxe?: 'firmware' | 'rom';
  /**
   * Server to boot from: 'standin' (default: dnsmasq + python http.server), 'builderd'
   * (`builderd serve --config <site>/builderd.yaml`), 'builderd+dnsmasq-dhcp' (builderd for DNS,
   * TFTP and HTTP; dnsmasq for DHCP only), or a command: argv run in the
   * namespace, where `{config}`, `{site}`, `{artifacts}`, `{templates}` and `{state}` are replaced.
   */
  server?: 'standin' | 'builderd' | 'builderd+dnsmasq-dhcp' | { argv: string[]; env?: Record<string, string>; name?: string };
  /** router advertisements on the segment (default true; false shows iPXE's ~13 s IPv6 wait) */
  ra?: boolean;
  timeoutMs?: number;
  /** keep the work dir (default: removed when the boot succeeded) */
  keep?: boolean;
  /** namespace, bridge and tap names (default LAB: bqe-pxe, bqebr0, bqetap0) */
  lab?: Pick<LabOptions, 'ns' | 'bridge' | 'tap' | 'workDir'>;
}

/** Result of bootToMarker. */
export interface BootToMarkerResult extends BootResult {
  server: string;
  events: string;
  workDir: string;
}

/**
 * One whole journey, for tests and benchmarks: lab up, server up, boot until the marker, everything
 * down again. Resolves with the time from QEMU start to the marker; rejects only on setup errors.
 */
export async function bootToMarker(o: BootToMarkerOptions): Promise<BootToMarkerResult> {
  const lab = createLab(o.lab);
  let server: PxeServer | undefined;
  let ok = false;
  try {
    const site = prepareSite(join(lab.workDir, 'site'));
    if (o.ra ?? true) await startRouterAdvertisements(lab);
    const token = newToken();
    const spec = o.server ?? 'standin';
    if (spec === 'standin') {
      server = await startStandIn(lab, site);
    } else if (spec === 'builderd' || spec === 'builderd+dnsmasq-dhcp') {
      server = await startBuilderd(lab, site, token, { dnsmasqDhcp: spec === 'builderd+dnsmasq-dhcp' });
    } else {
      const configPath = join(site.dir, 'builderd.yaml');
      writeFileSync(configPath, builderdConfig(site, { token, bridge: lab.bridge, serverIp: lab.serverIp }));
      const subst = (s: string): string => s.replace('{config}', configPath).replace('{site}', site.dir)
        .replace('{artifacts}', site.artifacts).replace('{templates}', site.templates).replace('{state}', site.state);
      server = await startCommandServer(lab, {
        name: spec.name ?? 'server', argv: spec.argv.map(subst), env: spec.env,
        ready: [['udp', 67], ['udp', 69], ['tcp', 80], ['udp', 53]],
      });
    }
    server.setToken(token);
    const r = await bootVm(lab, site, { mode: o.mode, uefiPxe: o.uefiPxe, token, timeoutMs: o.timeoutMs });
    ok = r.ok;
    return { ...r, server: server.name, events: server.events(), workDir: lab.workDir };
  } finally {
    if (server) await server.stop();
    await lab.destroy();
    if (ok && !o.keep) rmSync(lab.workDir, { recursive: true, force: true });
  }
}

/**
 * argv that runs the builderd CLI of this checkout: the TypeScript sources through tsx (always the
 * current code), or dist/ when BUILDERD_E2E_ENTRY=dist (what `npm run build` produced).
 */
export function builderdArgv(...args: string[]): string[] {
  if (process.env.BUILDERD_E2E_ENTRY === 'dist') return [process.execPath, join(REPO_ROOT, 'dist', 'cli', 'index.js'), ...args];
  return [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'src', 'cli', 'index.ts'), ...args];
}

/** argv of `builderd serve --config FILE`. */
export function builderdServeArgv(configPath: string): string[] {
  return builderdArgv('serve', '--config', configPath);
}

/** The iPXE template used when the checkout has no config/templates/default.ipxe (eta syntax). */
export const FALLBACK_IPXE_TEMPLATE = `#!ipxe
echo builderd-e2e script: mac \${net0/mac} ip \${net0/ip} platform \${platform}
kernel <%= it.base_url %>/vmlinuz console=ttyS0 <%= it.vars.cmdline %>
initrd <%= it.base_url %>/initrd.img
boot
`;

/**
 * Start `builderd serve` in the lab with builderdConfig(); the checkout's config/templates/default.ipxe
 * is the boot template (FALLBACK_IPXE_TEMPLATE when there is none). Ready when :67, :69, :53 (UDP)
 * and :80 (TCP) are bound.
 */
export async function startBuilderd(lab: Lab, site: Site, token: string,
  opts: { dnsmasqDhcp?: boolean; launcherDhcp?: boolean } = {}): Promise<PxeServer & { configPath: string }> {
  const repoTemplate = join(REPO_ROOT, 'config', 'templates', 'default.ipxe');
  const tpl = join(site.templates, 'default.ipxe');
  if (existsSync(repoTemplate)) copyFileSync(repoTemplate, tpl);
  else writeFileSync(tpl, FALLBACK_IPXE_TEMPLATE);
  const configPath = join(site.dir, 'builderd.yaml');
  // With dnsmasqDhcp, builderd's own DHCP (if any) is moved off port 67 and dnsmasq answers instead.
  const separateDhcp = opts.dnsmasqDhcp === true || opts.launcherDhcp === true;
  writeFileSync(configPath, builderdConfig(site, { token, bridge: lab.bridge, serverIp: lab.serverIp, dhcpPort: separateDhcp ? 10067 : 67 }));
  const server = await startCommandServer(lab, {
    name: 'builderd',
    argv: builderdServeArgv(configPath),
    ready: separateDhcp ? [['udp', 69], ['udp', 53], ['tcp', 80]] : [['udp', 67], ['udp', 69], ['udp', 53], ['tcp', 80]],
    readyTimeoutMs: 60_000,
    // what the store holds for the VM, as the operator would see it
    extraEvents: () => {
      const h = builderdCli(configPath, 'hosts', LAB.vmName);
      return `--- builderd hosts ${LAB.vmName} (exit ${h.status})\n${h.stdout}${h.stderr}`;
    },
  });
  if (!separateDhcp) return { ...server, configPath };
  let dhcp: PxeServer;
  try {
    if (opts.launcherDhcp) {
      // builderd's DHCP service alone (test/helpers/dhcp-launcher.ts, memory store) on :67
      const dhcpConfig = join(site.dir, 'builderd-dhcp.yaml');
      writeFileSync(dhcpConfig, builderdConfig(site, { token, bridge: lab.bridge, serverIp: lab.serverIp, dhcpPort: 67 }));
      const p = lab.spawn('builderd-dhcp', [process.execPath, '--import', 'tsx', join(REPO_ROOT, 'test', 'helpers', 'dhcp-launcher.ts'),
        '--config', dhcpConfig], undefined, { stdinPipe: true });
      if (!(await waitFor(() => !p.running() || lab.listening('udp', 67), 30_000)) || !p.running()) {
        await p.stop();
        throw new Error(`dhcp-launcher did not start:\n${p.output()}`);
      }
      dhcp = { name: 'builderd-dhcp', events: () => `--- builderd dhcp (launcher)\n${p.output()}`, setToken: () => undefined, stop: () => p.stop() };
    } else {
      dhcp = await startStandIn(lab, site, { dhcpOnly: true });
    }
  } catch (e) {
    await server.stop();
    throw e;
  }
  return {
    name: `builderd(dns,tftp,http)+${dhcp.name}`,
    configPath,
    events: () => `${server.events()}\n${dhcp.events()}`,
    setToken: () => undefined,
    async stop() { await dhcp.stop(); await server.stop(); },
  };
}

/** Run a builderd CLI command against a config (outside the namespace: the control socket is a file). */
export function builderdCli(configPath: string, ...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const [cmd, ...rest] = builderdArgv(...args, '--config', configPath);
  const r = spawnSync(cmd!, rest, { encoding: 'utf8', timeout: 30_000, cwd: REPO_ROOT });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** Options of builderdConfig. */
export interface BuilderdConfigOptions {
  token: string;
  /** DHCP server port (default 67) */
  dhcpPort?: number;
  bridge?: string;
  serverIp?: string;
}

/**
 * config/example.yaml-like configuration for builderd inside the lab: every service on the server
 * address at its standard port, DHCP on the bridge, hv01 booting the "e2e" profile.
 */
export function builderdConfig(site: Site, o: BuilderdConfigOptions): string {
  const ip = o.serverIp ?? LAB.serverIp;
  return `# written by test/helpers/pxe-lab.ts for the e2e PXE journey
site:
  name: e2e
  domain: lab.example.net
  mgmt_domain: mgmt.example.net
paths:
  state: ${site.state}
  artifacts: ${site.artifacts}
  templates: ${site.templates}
authority:
  initial: bootstrap
  router:
    dns: ${LAB.gateway}:53
dns:
  listen: ["${ip}:53"]
  ttl: 300
  transfer_allow: ["127.0.0.0/8"]
dhcp:
  interfaces: [${o.bridge ?? LAB.bridge}]
  port: ${o.dhcpPort ?? 67}
  lease_time: 1h
  subnets:
    - cidr: 10.99.0.0/24
      pool: ${LAB.poolStart}-${LAB.poolEnd}
      gateway: ${LAB.gateway}
      dns: [${ip}]
      boot: e2e
tftp:
  listen: ["${ip}:69"]
http:
  listen: ["${ip}:80"]
  base_url: http://${LAB.pxeName}
control:
  socket: ${join(site.state, 'builderd.sock')}
boot_profiles:
  e2e:
    bios: undionly.kpxe
    uefi: ipxe.efi
    ipxe: default.ipxe
    vars:
      # appended to the kernel line by config/templates/default.ipxe (after console=ttyS0)
      cmdline: "${kernelArgs(o.token)}"
      marker: "${o.token}"
hosts:
  - name: provisioner-ph01
    mgmt: true
    interfaces:
      - { mac: "52:54:00:aa:00:02", ip: ${ip} }
  - name: core-rt01
    interfaces:
      - { mac: "52:54:00:aa:00:01", ip: ${LAB.gateway} }
  - name: ${LAB.vmName}
    boot: e2e
    interfaces:
      - { mac: "${LAB.vmMac}", ip: ${LAB.vmIp} }
services:
  artifacts: provisioner-ph01
  pxe: provisioner-ph01
  tftp: provisioner-ph01
`;
}
