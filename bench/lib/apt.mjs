// Install the reference servers and load generators from Debian packages.
// Packages that ship a daemon must not start a system service: when the machine has no
// /usr/sbin/policy-rc.d, one that exits 101 is put in place for the install and removed after.
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { log, sh } from './proc.mjs';

/** Debian packages the bench uses (also listed in .ci/apt.d/bench.txt). */
export const PACKAGES = [
  'nsd', 'knot', 'dnsmasq-base', 'dnsperf', 'bind9-dnsutils',
  'kea-dhcp4-server', 'kea-admin',
  'tftpd-hpa', 'atftp', 'curl', 'nginx-light',
  'iproute2', 'util-linux', 'python3',
  // atftpd conflicts with tftpd-hpa: it is unpacked with dpkg -x (see atftpdBinary); its libraries:
  'libwrap0', 'libpcre2-8-0',
];

function installed(pkg) {
  const r = sh(['dpkg-query', '-W', '-f=${Status}', pkg], { allowFail: true });
  return r.status === 0 && r.stdout.includes('install ok installed');
}

let updated = false;
function aptGet(args) {
  return sh(['env', 'DEBIAN_FRONTEND=noninteractive', 'apt-get', ...args], { allowFail: true, timeoutMs: 600_000 });
}

/** Install whatever of PACKAGES is missing. Returns the list of packages that could not be installed. */
export function ensurePackages(pkgs = PACKAGES) {
  // nginx: any flavour that provides the binary will do.
  const missing = pkgs.filter((p) => !(p === 'nginx-light' ? existsSync('/usr/sbin/nginx') : installed(p)));
  if (!missing.length) return [];
  if (process.getuid?.() !== 0) {
    log(`not root: cannot install ${missing.join(' ')}`);
    return missing;
  }
  log(`installing: ${missing.join(' ')}`);
  let tmpPolicy = false;
  if (!existsSync('/usr/sbin/policy-rc.d')) {
    writeFileSync('/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n');
    chmodSync('/usr/sbin/policy-rc.d', 0o755);
    tmpPolicy = true;
  }
  try {
    let r = aptGet(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
    if (r.status !== 0 && !updated) {
      aptGet(['update', '-qq']);
      updated = true;
      r = aptGet(['install', '-y', '-qq', '--no-install-recommends', ...missing]);
    }
    if (r.status !== 0) log(`apt-get install failed: ${(r.stderr || '').trim().split('\n').slice(-3).join(' | ')}`);
  } finally {
    if (tmpPolicy) rmSync('/usr/sbin/policy-rc.d', { force: true });
  }
  return missing.filter((p) => !(p === 'nginx-light' ? existsSync('/usr/sbin/nginx') : installed(p)));
}

const CACHE = '/var/cache/builderd-bench';

/**
 * atftpd conflicts with tftpd-hpa as a Debian package: download the .deb and unpack it with
 * dpkg -x into a private cache; run the binary from there. Returns the binary path or null.
 */
export function atftpdBinary() {
  if (existsSync('/usr/sbin/atftpd')) return '/usr/sbin/atftpd';
  const dir = join(CACHE, 'atftpd');
  const bin = join(dir, 'root/usr/sbin/atftpd');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  for (const f of readdirSync(dir)) if (f.endsWith('.deb')) rmSync(join(dir, f));
  const dl = () => sh(['bash', '-c', `cd '${dir}' && apt-get download -qq -o APT::Sandbox::User=root atftpd`], { allowFail: true, timeoutMs: 300_000 });
  let r = dl();
  if (r.status !== 0) { aptGet(['update', '-qq']); r = dl(); }
  const deb = readdirSync(dir).find((f) => f.endsWith('.deb'));
  if (!deb) { log(`apt-get download atftpd failed: ${(r.stderr || '').trim()}`); return null; }
  rmSync(join(dir, 'root.tmp'), { recursive: true, force: true });
  sh(['dpkg-deb', '-x', join(dir, deb), join(dir, 'root.tmp')]);
  renameSync(join(dir, 'root.tmp'), join(dir, 'root'));
  return existsSync(bin) ? bin : null;
}

/** Version string of an installed package (for the results file). */
export function pkgVersion(pkg) {
  const r = sh(['dpkg-query', '-W', '-f=${Version}', pkg], { allowFail: true });
  return r.status === 0 ? r.stdout.trim() : undefined;
}
