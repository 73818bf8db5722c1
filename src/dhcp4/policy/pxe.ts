import { IpxeOpt, Opt } from '../codec/constants.js';
import { encodeSubOptions, textValue } from '../codec/options.js';

/** What firmware a boot client is, from options 60, 77, 93 and 175 (RFC 4578 §2.1 and real ROMs). */
export interface ClientClass {
  /** A network-boot client (vendor class PXEClient/HTTPClient, user class iPXE or option 175). */
  boot: boolean;
  /** First option-93 entry; 0 (BIOS) assumed for a PXEClient without option 93. */
  arch: number | undefined;
  /** Which profile file the architecture needs; undefined when the profile schema has none. */
  firmware: 'bios' | 'uefi' | 'arm64' | undefined;
  /** Running iPXE already (user class "iPXE" or option 175): gets the script URL, never iPXE again. */
  ipxe: boolean;
  /** UEFI HTTP boot (arch 15/16/18/19 or vendor class HTTPClient): URL file, option 60 HTTPClient echoed. */
  http: boolean;
}

/** Input of classifyClient: the already-read request options. */
export interface ClassifyInput {
  vendorClass: string | undefined;
  userClass: readonly string[];
  arch: readonly number[];
  hasIpxeEncap: boolean;
}

/**
 * RFC 4578 §2.1 architecture types → profile file. 7 and 9 are both x86-64 UEFI (the RFC's errata;
 * firmware uses either). 6 (IA32 UEFI) and 15 (IA32 HTTP) also get `uefi`: profiles have no 32-bit key.
 * 10 and 18 (ARM32) have no profile key: no boot answer.
 */
const ARCH_FIRMWARE: Record<number, ClientClass['firmware']> = {
  0: 'bios', 6: 'uefi', 7: 'uefi', 9: 'uefi', 11: 'arm64', 15: 'uefi', 16: 'uefi', 19: 'arm64',
};
const HTTP_ARCHES = new Set([15, 16, 18, 19]);

/** Classify a client for the boot answer. */
export function classifyClient(i: ClassifyInput): ClientClass {
  const vc = i.vendorClass ?? '';
  const pxeVc = vc.startsWith('PXEClient');
  const httpVc = vc.startsWith('HTTPClient');
  const ipxe = i.userClass.includes('iPXE') || i.hasIpxeEncap;
  const boot = pxeVc || httpVc || ipxe;
  const arch = i.arch[0] ?? (boot ? 0 : undefined);
  const http = httpVc || (arch !== undefined && HTTP_ARCHES.has(arch));
  const firmware = arch === undefined ? undefined : ARCH_FIRMWARE[arch];
  return { boot, arch, firmware, ipxe, http };
}

/** A boot profile as far as DHCP needs it (config.bootProfiles values). */
export interface BootProfileFiles {
  bios?: string | undefined;
  uefi?: string | undefined;
  arm64?: string | undefined;
  ipxe?: string | undefined;
}

/** The boot part of a reply. */
export interface BootAnswer {
  /** siaddr: next server (TFTP). */
  siaddr: string;
  /** BOOTP file field (also option 67). */
  file: string;
  /** Options to add, in order (60, 66, 67, 175). */
  options: [number, Buffer][];
  /** How it was chosen, for logs and boot events. */
  via: 'ipxe-script' | 'http' | 'tftp';
}

/** Context of a boot answer. */
export interface BootContext {
  /** http.base_url, names not addresses. */
  baseUrl: string;
  /** Client MAC, lowercase colon form. */
  mac: string;
  /** Our address on the client's segment (option 54): TFTP next-server. */
  serverIp: string;
}

function joinUrl(base: string, path: string): string {
  return `${base.replace(/\/+$/, '')}/${path.replace(/^\/+/, '')}`;
}

/**
 * The boot answer for a classified client, or undefined (non-boot client, no profile, or no file
 * for its architecture). iPXE → `<base_url>/boot/<mac>.ipxe` when the profile has an iPXE template;
 * UEFI HTTP boot → the `uefi`/`arm64` file's HTTP URL with 60 "HTTPClient"; otherwise the file over
 * TFTP (siaddr, 66, 67). iPXE also gets 60 "PXEClient" and 175.176 (no-pxedhcp) = 1 so it does not
 * wait for a ProxyDHCP offer.
 */
export function bootAnswer(cls: ClientClass, profile: BootProfileFiles | undefined, ctx: BootContext): BootAnswer | undefined {
  if (!cls.boot || !profile) return undefined;
  if (cls.ipxe && profile.ipxe) {
    const url = joinUrl(ctx.baseUrl, `boot/${ctx.mac}.ipxe`);
    return {
      siaddr: ctx.serverIp,
      file: url,
      options: [
        [Opt.VENDOR_CLASS, textValue('PXEClient')],
        [Opt.BOOTFILE, textValue(url)],
        [Opt.IPXE_ENCAP, encodeSubOptions([[IpxeOpt.NO_PXEDHCP, Buffer.from([1])]])],
      ],
      via: 'ipxe-script',
    };
  }
  const file = cls.firmware ? profile[cls.firmware] : undefined;
  if (!file) return undefined;
  if (cls.http) {
    const url = joinUrl(ctx.baseUrl, file);
    return {
      siaddr: ctx.serverIp,
      file: url,
      options: [[Opt.VENDOR_CLASS, textValue('HTTPClient')], [Opt.BOOTFILE, textValue(url)]],
      via: 'http',
    };
  }
  // No 60 "PXEClient" for firmware PXE: without option 43 it makes the offer a BINL offer, and
  // EDK2/OVMF then sends a DHCPREQUEST to siaddr:4011 and waits for a reply we do not send
  // ("PXE-E16: No valid offer received", seen in test/e2e/pxe-boot.test.ts). A plain offer with
  // siaddr + file is what the PXE spec's "DHCP only" path boots from. iPXE gets 60 and 175.176.
  const opts: [number, Buffer][] = [
    [Opt.TFTP_SERVER, textValue(ctx.serverIp)],
    [Opt.BOOTFILE, textValue(file)],
  ];
  if (cls.ipxe) opts.unshift([Opt.VENDOR_CLASS, textValue('PXEClient')]);
  if (cls.ipxe) opts.push([Opt.IPXE_ENCAP, encodeSubOptions([[IpxeOpt.NO_PXEDHCP, Buffer.from([1])]])]);
  return { siaddr: ctx.serverIp, file, options: opts, via: 'tftp' };
}
