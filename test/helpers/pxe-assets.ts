/*
 * Boot assets for the end-to-end PXE journey, made from Debian packages only and cached between runs.
 *
 * - kernel: /boot/vmlinuz-* out of the distribution kernel package (linux-image-amd64's dependency),
 *   fetched with `apt-get download` and unpacked with `dpkg-deb` into the cache, so the host's own /boot
 *   and initramfs hooks are never touched.
 * - initramfs: a gzip'd cpio (newc) written here, holding busybox (package busybox-static) and an /init
 *   that prints `BUILDERD-E2E-MARKER token=<builderd.marker= from the kernel command line>` on the
 *   console and powers the machine off.
 * - iPXE binaries (packages ipxe and ipxe-qemu) and OVMF firmware (package ovmf) are located, not copied.
 *
 * Cache directory: $BUILDERD_TEST_CACHE, else $XDG_CACHE_HOME/builderd-test, else /var/cache/builderd-test.
 * Entries are keyed by package name and version, so a new kernel or busybox makes a new entry.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';

/** The line the initramfs prints on the serial console; a test waits for it. */
export const MARKER_PREFIX = 'BUILDERD-E2E-MARKER';

/** Root of the asset cache (created on demand). */
export function cacheDir(): string {
  const dir = process.env.BUILDERD_TEST_CACHE
    ?? (process.env.XDG_CACHE_HOME ? join(process.env.XDG_CACHE_HOME, 'builderd-test') : '/var/cache/builderd-test');
  mkdirSync(dir, { recursive: true });
  return dir;
}

/** Installed version of a Debian package, or undefined. */
export function debVersion(pkg: string): string | undefined {
  const r = spawnSync('dpkg-query', ['-W', '-f=${Status}\t${Version}', pkg], { encoding: 'utf8' });
  if (r.status !== 0) return undefined;
  const [status, version] = r.stdout.split('\t');
  return status?.endsWith('installed') && status.includes('ok installed') ? version : undefined;
}

function safeKey(s: string): string {
  return s.replace(/[^A-Za-z0-9.+-]/g, '_');
}

let aptUpdated = false;
function aptCandidate(pkg: string): { depends: string; version: string } {
  const show = (): string => {
    const r = spawnSync('apt-cache', ['show', '--no-all-versions', pkg], { encoding: 'utf8' });
    return r.status === 0 ? r.stdout : '';
  };
  let text = show();
  if (!text && !aptUpdated) {
    aptUpdated = true;
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' });
    text = show();
  }
  const version = /^Version: (.+)$/m.exec(text)?.[1];
  const depends = /^Depends: (.+)$/m.exec(text)?.[1] ?? '';
  if (!version) throw new Error(`apt-cache knows no package ${pkg} (is apt configured for Debian?)`);
  return { depends, version };
}

function aptDownload(pkg: string, dir: string): string {
  const attempt = (): boolean => spawnSync('apt-get', ['download', '-qq', '-o', 'APT::Sandbox::User=root', pkg],
    { cwd: dir, stdio: 'ignore' }).status === 0;
  if (!attempt()) {
    if (!aptUpdated) { aptUpdated = true; spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore' }); }
    if (!attempt()) throw new Error(`apt-get download ${pkg} failed`);
  }
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) throw new Error(`apt-get download ${pkg} left no .deb in ${dir}`);
  return join(dir, deb);
}

/** A kernel from the Debian kernel package. */
export interface KernelAsset {
  path: string;
  /** Binary package it came from, e.g. linux-image-6.1.0-56-amd64. */
  pkg: string;
  version: string;
}

/**
 * The distribution kernel (the package linux-image-amd64 depends on), unpacked into the cache.
 * The ~70 MB .deb is deleted after extracting vmlinuz (about 8 MB).
 */
export function ensureKernel(meta = 'linux-image-amd64'): KernelAsset {
  const { depends } = aptCandidate(meta);
  const pkg = /^(linux-image-[^\s(,|]+)/.exec(depends)?.[1];
  if (!pkg) throw new Error(`cannot tell which kernel package ${meta} depends on: "${depends}"`);
  const { version } = aptCandidate(pkg);
  const dir = join(cacheDir(), `kernel-${safeKey(pkg)}-${safeKey(version)}`);
  const out = join(dir, 'vmlinuz');
  if (existsSync(out)) return { path: out, pkg, version };
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  try {
    const deb = aptDownload(pkg, tmp);
    // Extract only ./boot from the data archive: no maintainer scripts, no initramfs hooks.
    execFileSync('sh', ['-c', 'dpkg-deb --fsys-tarfile "$1" | tar -x -C "$2" --wildcards "./boot/vmlinuz-*"', 'sh', deb, tmp]);
    const boot = join(tmp, 'boot');
    const vmlinuz = readdirSync(boot).find((f) => f.startsWith('vmlinuz-'));
    if (!vmlinuz) throw new Error(`${pkg} has no /boot/vmlinuz-*`);
    renameSync(join(boot, vmlinuz), join(tmp, 'vmlinuz'));
    writeFileSync(join(tmp, 'SOURCE'), `${pkg} ${version} /boot/${vmlinuz}\n`);
    rmSync(deb);
    rmSync(boot, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
    renameSync(tmp, dir);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  return { path: out, pkg, version };
}

/** One entry of a newc cpio archive. */
export interface CpioEntry {
  name: string;
  /** Full st_mode, type bits included (0o100755 file, 0o040755 dir, 0o120777 symlink, 0o020600 char dev). */
  mode: number;
  data?: Buffer;
  rdevmajor?: number;
  rdevminor?: number;
}

/** Serialise entries as a "new ASCII" (newc, magic 070701) cpio archive, the format the kernel's initramfs unpacker reads. */
export function cpioNewc(entries: CpioEntry[]): Buffer {
  const parts: Buffer[] = [];
  let ino = 1;
  const pad4 = (n: number): Buffer => Buffer.alloc((4 - (n % 4)) % 4);
  const hex = (n: number): string => (n >>> 0).toString(16).padStart(8, '0');
  const push = (e: CpioEntry): void => {
    const data = e.data ?? Buffer.alloc(0);
    const name = Buffer.from(`${e.name}\0`);
    const isDir = (e.mode & 0o170000) === 0o040000;
    const header = '070701' + [ino++, e.mode, 0, 0, isDir ? 2 : 1, 0, data.length, 0, 0,
      e.rdevmajor ?? 0, e.rdevminor ?? 0, name.length, 0].map(hex).join('');
    parts.push(Buffer.from(header, 'ascii'), name, pad4(110 + name.length), data, pad4(data.length));
  };
  for (const e of entries) push(e);
  push({ name: 'TRAILER!!!', mode: 0 });
  return Buffer.concat(parts);
}

/** The initramfs /init: prints the marker with the token from `builderd.marker=` and powers off. */
export const INIT_SCRIPT = `#!/bin/busybox sh
B=/bin/busybox
$B mount -t proc proc /proc
$B mount -t sysfs sysfs /sys
$B mount -t devtmpfs devtmpfs /dev 2>/dev/null
token=none
for w in $($B cat /proc/cmdline); do
  case "$w" in builderd.marker=*) token="\${w#builderd.marker=}";; esac
done
echo "${MARKER_PREFIX} token=$token kernel=$($B uname -r) uptime=$($B cut -d' ' -f1 /proc/uptime)" > /dev/console
$B sync
$B poweroff -f
# poweroff failed: let init exit; with panic=-1 and QEMU -no-reboot the machine stops either way
exit 1
`;

/** A busybox initramfs in the cache. */
export interface InitramfsAsset {
  path: string;
  busyboxVersion: string;
}

/** Build (once per busybox-static version and /init text) the gzip'd cpio initramfs. */
export function ensureInitramfs(): InitramfsAsset {
  const busyboxVersion = debVersion('busybox-static');
  const busybox = '/bin/busybox';
  if (!busyboxVersion || !existsSync(busybox)) throw new Error('package busybox-static is not installed (see .ci/apt.d/e2e.txt)');
  // busybox-static and busybox (dynamic, useless without libc in the initramfs) conflict, so with
  // busybox-static installed /bin/busybox is the static one.
  const key = createHash('sha256').update(INIT_SCRIPT).digest('hex').slice(0, 12);
  const dir = join(cacheDir(), `initramfs-busybox-${safeKey(busyboxVersion)}-${key}`);
  const out = join(dir, 'initrd.img');
  if (existsSync(out)) return { path: out, busyboxVersion };
  const d = 0o040755;
  const archive = cpioNewc([
    { name: 'bin', mode: d }, { name: 'dev', mode: d }, { name: 'proc', mode: d }, { name: 'sys', mode: d },
    { name: 'tmp', mode: 0o041777 }, { name: 'root', mode: 0o040700 },
    // The kernel opens /dev/console for init's stdio before init runs, so the node must be in the archive.
    { name: 'dev/console', mode: 0o020600, rdevmajor: 5, rdevminor: 1 },
    { name: 'bin/busybox', mode: 0o100755, data: readFileSync(busybox) },
    { name: 'bin/sh', mode: 0o120777, data: Buffer.from('busybox') },
    { name: 'init', mode: 0o100755, data: Buffer.from(INIT_SCRIPT) },
  ]);
  mkdirSync(dir, { recursive: true });
  const tmp = `${out}.tmp-${process.pid}`;
  writeFileSync(tmp, gzipSync(archive, { level: 9 }));
  renameSync(tmp, out);
  return { path: out, busyboxVersion };
}

/** iPXE binaries from Debian's ipxe (chainloaded) and ipxe-qemu (NIC option ROMs) packages. */
export interface IpxeAssets {
  /** UEFI x86-64 iPXE with its own NIC drivers (package ipxe). */
  ipxeEfi: string;
  /** UEFI iPXE that drives the NIC through the firmware's SNP (package ipxe). */
  snponlyEfi: string;
  /** BIOS iPXE that uses the PXE ROM's UNDI (package ipxe). */
  undionlyKpxe: string;
  /** virtio-net option ROM with a BIOS and an EFI image (QEMU's default for virtio-net-pci). */
  virtioRom: string;
  version: string;
}

/** Locate the iPXE binaries; throws naming the missing package. */
export function findIpxe(): IpxeAssets {
  const need = (p: string, pkg: string): string => {
    if (!existsSync(p)) throw new Error(`${p} missing: install package ${pkg} (see .ci/apt.d/e2e.txt)`);
    return p;
  };
  return {
    ipxeEfi: need('/usr/lib/ipxe/ipxe.efi', 'ipxe'),
    snponlyEfi: need('/usr/lib/ipxe/snponly.efi', 'ipxe'),
    undionlyKpxe: need('/usr/lib/ipxe/undionly.kpxe', 'ipxe'),
    virtioRom: need('/usr/lib/ipxe/qemu/efi-virtio.rom', 'ipxe-qemu'),
    version: debVersion('ipxe') ?? 'unknown',
  };
}

/** OVMF firmware (package ovmf): read-only code and the template of the writable variable store. */
export interface OvmfAssets {
  code: string;
  varsTemplate: string;
  version: string;
}

/** Locate OVMF, preferring the 4 MiB build (code and vars must come from the same build). */
export function findOvmf(): OvmfAssets {
  const pairs: Array<[string, string]> = [
    ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'],
    ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'],
  ];
  for (const [code, vars] of pairs) {
    if (existsSync(code) && existsSync(vars)) return { code, varsTemplate: vars, version: debVersion('ovmf') ?? 'unknown' };
  }
  throw new Error('OVMF firmware missing: install package ovmf (see .ci/apt.d/e2e.txt)');
}

/** All assets of one journey. */
export interface PxeAssets {
  kernel: KernelAsset;
  initramfs: InitramfsAsset;
  ipxe: IpxeAssets;
  ovmf: OvmfAssets;
}

/** Make or find every asset; throws with the missing package named. */
export function ensurePxeAssets(): PxeAssets {
  return { kernel: ensureKernel(), initramfs: ensureInitramfs(), ipxe: findIpxe(), ovmf: findOvmf() };
}

/** Which host tools the journey needs that are not on PATH (empty when all are there). */
export function missingTools(): string[] {
  const tools = ['qemu-system-x86_64', 'ip', 'apt-get', 'dpkg-deb', 'tar'];
  const out: string[] = [];
  for (const t of tools) if (spawnSync('sh', ['-c', `command -v ${t}`], { stdio: 'ignore' }).status !== 0) out.push(t);
  return out;
}

/** Size of a file in bytes. */
export function fileSize(p: string): number {
  return statSync(p).size;
}
