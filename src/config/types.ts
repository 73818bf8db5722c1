import type { RawConfig } from './schema.js';

/** A subnet after validation: integers precomputed, durations in seconds. */
export interface SubnetConfig {
  cidr: string;
  network: number;
  prefix: number;
  mask: number;
  broadcast: number;
  pool?: { first: number; last: number; text: string };
  gateway?: string;
  dns: string[];
  boot?: string;
  leaseTime: number;
  domain: string;
}

export interface InterfaceConfig {
  name?: string;
  mac: string;
  ip: string;
  ipv6?: string;
}

export interface HostConfig {
  name: string;
  mgmt: boolean;
  boot?: string;
  interfaces: InterfaceConfig[];
}

/**
 * The configuration builderd runs on: validated, paths absolute, MACs lowercase colon form,
 * durations in seconds. Produced only by loadConfig/parseConfig.
 */
export interface Config {
  /** Absolute path of the file it came from ("<string>" when parsed from text). */
  file: string;
  site: RawConfig['site'];
  paths: { state: string; artifacts: string; templates: string };
  authority: {
    initial: 'bootstrap' | 'production';
    router: { dns: string; dhcpProbe: boolean };
    hooks?: string;
    transitionLeaseTime: number;
  };
  dns: Omit<RawConfig['dns'], 'tcp_idle' | 'zone_files'> & { tcp_idle: number; zone_files: string[] };
  dhcp: {
    interfaces: string[];
    port: number;
    leaseTime: number;
    offerHold: number;
    declineHold: number;
    proxy: boolean;
    maxPacketsPerMac: number;
    subnets: SubnetConfig[];
  };
  tftp: RawConfig['tftp'];
  http: RawConfig['http'];
  control: { socket: string };
  metrics: { listen?: string };
  store: RawConfig['store'];
  bootProfiles: RawConfig['boot_profiles'];
  hosts: HostConfig[];
  services: Record<string, string>;
}
