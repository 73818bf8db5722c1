import { Eta } from 'eta';
import type { Config } from '../config/types.js';
import type { Reservation, BootAssignment } from '../inventory/types.js';
import type { Logger } from '../lib/logger.js';
import { cidrContains, ipv4ToInt, normaliseMac } from '../lib/net.js';
import { isIPv4 } from 'node:net';

/*
 * Per-host boot files rendered from the host's boot profile and the templates folder (eta engine).
 * Variables are names, never addresses: firmware reaches services through DNS names and base_url.
 */

/** Boot file kinds, one per template slot of a boot profile. */
export type BootKind = 'ipxe' | 'grub' | 'pxelinux' | 'kickstart';

/** A rendered boot file, or why there is none (answered as TFTP error 1 / HTTP 404). */
export type BootRender = { body: string; host?: string; mac?: string } | { notFound: string };

/** Resolves a boot file request to rendered content. */
export interface BootResolver {
  /** Render `kind` for `key` (a MAC in any common notation, or a host name for kickstart). clientIp picks the subnet default for unknown MACs. */
  render(kind: BootKind, key: string, clientIp?: string): Promise<BootRender>;
}

/** Options of createBootResolver. */
export interface BootResolverOptions {
  config: Config;
  reservations: Reservation[];
  boot: BootAssignment[];
  logger: Logger;
  /** Maps a client IP to its subnet's boot profile; default: config.dhcp.subnets[].boot. */
  subnetProfile?: (ip: string) => string | undefined;
}

/** Variables every template receives as `it`. */
export interface BootVars {
  host?: string;
  interface?: string;
  fqdn?: string;
  mac?: string;
  profile: string;
  site: { name: string; domain: string; mgmt_domain: string };
  /** Service name → `<svc>.<mgmt_domain>`. */
  services: Record<string, string>;
  base_url: string;
  /** The profile's `vars`. */
  vars: Record<string, string>;
}

/** Build the resolver from the config and the inventory's reservations and boot assignments. */
export function createBootResolver(opts: BootResolverOptions): BootResolver {
  const { config, logger } = opts;
  const eta = new Eta({ views: config.paths.templates, cache: false, autoEscape: false, autoTrim: false, defaultExtension: '' });
  const byMac = new Map<string, BootAssignment>();
  for (const b of opts.boot) if (!byMac.has(b.mac)) byMac.set(b.mac, b);
  const resByMac = new Map<string, Reservation>();
  for (const r of opts.reservations) if (!resByMac.has(r.mac)) resByMac.set(r.mac, r);
  const services: Record<string, string> = {};
  for (const svc of Object.keys(config.services)) services[svc] = `${svc}.${config.site.mgmt_domain}`;
  const site = { name: config.site.name, domain: config.site.domain, mgmt_domain: config.site.mgmt_domain };
  const subnetProfile = opts.subnetProfile ?? ((ip: string) => {
    if (!isIPv4(ip)) return undefined;
    const n = ipv4ToInt(ip);
    return config.dhcp.subnets.find((s) => cidrContains({ network: s.network, prefix: s.prefix, mask: s.mask, last: s.broadcast, text: s.cidr }, n))?.boot;
  });

  async function renderWith(kind: BootKind, profileName: string, vars: Omit<BootVars, 'profile' | 'site' | 'services' | 'base_url' | 'vars'>): Promise<BootRender> {
    const profile = config.bootProfiles[profileName];
    if (!profile) return { notFound: `boot profile "${profileName}" is not defined` };
    const template = profile[kind];
    const it: BootVars = { ...vars, profile: profileName, site, services, base_url: config.http.base_url, vars: { ...(profile.vars ?? {}) } };
    if (!template) {
      // An iPXE client whose profile boots another loader (GRUB, shim): chain that loader over HTTP.
      if (kind === 'ipxe' && (profile.uefi || profile.bios)) {
        const out: BootRender = { body: chainScript(it, profile.uefi, profile.bios) };
        if (vars.host !== undefined) out.host = vars.host;
        if (vars.mac !== undefined) out.mac = vars.mac;
        return out;
      }
      return { notFound: `boot profile "${profileName}" has no ${kind} template` };
    }
    try {
      const body = await eta.renderAsync(template, it);
      logger.debug({ event: 'boot.render', kind, profile: profileName, template, host: vars.host, mac: vars.mac });
      const out: BootRender = { body };
      if (vars.host !== undefined) out.host = vars.host;
      if (vars.mac !== undefined) out.mac = vars.mac;
      return out;
    } catch (e) {
      logger.error({ event: 'boot.render.error', kind, profile: profileName, template, err: (e as Error).message });
      return { notFound: `template ${template} failed to render` };
    }
  }

  return {
    async render(kind, key, clientIp) {
      if (kind === 'kickstart') {
        const b = opts.boot.find((x) => x.host === key && x.interface === undefined) ?? opts.boot.find((x) => x.host === key);
        if (!b) return { notFound: `no host "${key}" with a boot profile` };
        return renderWith(kind, b.profile, { host: b.host, fqdn: b.fqdn, mac: b.mac, ...(b.interface ? { interface: b.interface } : {}) });
      }
      const mac = normaliseMac(key);
      if (!mac) return { notFound: `"${key}" is not a MAC address` };
      const b = byMac.get(mac);
      if (b) return renderWith(kind, b.profile, { host: b.host, fqdn: b.fqdn, mac, ...(b.interface ? { interface: b.interface } : {}) });
      const r = resByMac.get(mac);
      if (r) {
        // Known host without a profile of its own: its subnet's default, still under its own name.
        const subnet = config.dhcp.subnets.find((s) => s.cidr === r.subnet);
        const p = r.boot ?? subnet?.boot;
        if (!p) return { notFound: `host ${r.host} has no boot profile and its subnet none either` };
        return renderWith(kind, p, { host: r.host, fqdn: r.fqdn, mac, ...(r.interface ? { interface: r.interface } : {}) });
      }
      const p = clientIp ? subnetProfile(clientIp.startsWith('::ffff:') ? clientIp.slice(7) : clientIp) : undefined;
      if (!p) return { notFound: `unknown MAC ${mac} and no default boot profile for ${clientIp ?? 'its subnet'}` };
      return renderWith(kind, p, { mac });
    },
  };
}

/** Built-in iPXE script for a profile without an ipxe template: chain its UEFI or BIOS loader from base_url. */
function chainScript(it: BootVars, uefi: string | undefined, bios: string | undefined): string {
  const who = it.host ? `${it.host} (${it.fqdn ?? it.mac})` : `unknown machine ${it.mac}`;
  const lines = [
    '#!ipxe',
    `# builderd: ${who}, profile ${it.profile} (no iPXE template): chain the profile's boot loader.`,
    `echo builderd: ${who} chains its ${it.profile} boot loader`,
    `set base_url ${it.base_url}`,
  ];
  if (uefi && bios) lines.push(`iseq \${platform} efi && chain \${base_url}/${uefi} || chain \${base_url}/${bios}`);
  else lines.push(`chain \${base_url}/${(uefi ?? bios)!}`);
  return lines.join('\n') + '\n';
}

/** A boot file request recognised in a path: which kind, for which MAC or host. */
export interface BootPath { kind: BootKind; key: string }

const MAC = '([0-9A-Fa-f]{2}(?:[:-][0-9A-Fa-f]{2}){5}|[0-9A-Fa-f]{12})';

/**
 * Recognise a per-host boot file path (no leading "/", already percent-decoded for HTTP):
 * TFTP: grub.cfg-<mac> (any case; also grub.cfg-01-<mac>), pxelinux.cfg/01-<mac>;
 * HTTP: boot/<mac>.ipxe, ks/<host>.ks.
 */
export function matchBootPath(proto: 'tftp' | 'http', path: string): BootPath | undefined {
  let m: RegExpExecArray | null;
  if (proto === 'tftp') {
    if ((m = new RegExp(`^(?:[^/]*/)*grub\\.cfg-(?:01-)?${MAC}$`).exec(path))) return { kind: 'grub', key: m[1]! };
    if ((m = new RegExp(`^(?:[^/]*/)*pxelinux\\.cfg/01-${MAC}$`).exec(path))) return { kind: 'pxelinux', key: m[1]! };
    if ((m = new RegExp(`^boot/${MAC}\\.ipxe$`).exec(path))) return { kind: 'ipxe', key: m[1]! };
    return undefined;
  }
  if ((m = new RegExp(`^boot/${MAC}\\.ipxe$`).exec(path))) return { kind: 'ipxe', key: m[1]! };
  if ((m = /^ks\/([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)\.ks$/.exec(path))) return { kind: 'kickstart', key: m[1]! };
  return undefined;
}

/** The TFTP server's `dynamic` hook: per-host boot files, or undefined to fall through to the artifacts. */
export function tftpDynamic(resolver: BootResolver): (path: string, peer: { address: string }) => Promise<Buffer | undefined> {
  return async (path, peer) => {
    const bp = matchBootPath('tftp', path);
    if (!bp) return undefined;
    const r = await resolver.render(bp.kind, bp.key, peer.address);
    // An unknown MAC falls through to the root, so a static grub.cfg-<mac> file still works; then error 1.
    return 'body' in r ? Buffer.from(r.body, 'utf8') : undefined;
  };
}

/** The HTTP server's `dynamic` hook: per-host boot files or a clear 404; undefined for anything else. */
export function httpDynamic(resolver: BootResolver): (path: string, peer: { address: string }) => Promise<{ body: string; type: string } | { notFound: string } | undefined> {
  return async (path, peer) => {
    const bp = matchBootPath('http', path);
    if (!bp) return undefined;
    const r = await resolver.render(bp.kind, bp.key, peer.address);
    if ('notFound' in r) return r;
    return { body: r.body, type: 'text/plain; charset=utf-8' };
  };
}
