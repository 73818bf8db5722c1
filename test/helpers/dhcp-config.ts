/** A site config for the DHCP tests (10.99.0.0/24 direct, 10.99.1.0/24 through a relay). */
export function dhcpSiteYaml(o: { dir: string; interfaces: string[]; port?: number; leaseTime?: string; proxy?: boolean; extra?: string; subnets?: string; maxPerMac?: number }): string {
  return `
site: { name: lab, domain: lab.example.net, mgmt_domain: mgmt.example.net }
paths: { state: ${o.dir}/state, artifacts: ${o.dir}/artifacts, templates: ${o.dir}/templates }
authority:
  router: { dns: 10.99.0.254:53 }
dns: { listen: [] }
dhcp:
  interfaces: ${JSON.stringify(o.interfaces)}
  port: ${o.port ?? 67}
  lease_time: ${o.leaseTime ?? '1h'}
  proxy: ${o.proxy ?? false}
  max_packets_per_mac: ${o.maxPerMac ?? 20}
  subnets:
${o.subnets ?? `    - cidr: 10.99.0.0/24
      pool: 10.99.0.100-10.99.0.199
      gateway: 10.99.0.1
      dns: [10.99.0.1]
      boot: default
    - cidr: 10.99.1.0/24
      pool: 10.99.1.100-10.99.1.150
      gateway: 10.99.1.1
      dns: [10.99.0.1]`}
${o.extra ?? ''}
http: { listen: [], base_url: "http://pxe.mgmt.example.net:10080" }
control: { socket: ${o.dir}/builderd.sock }
boot_profiles:
  default: { bios: undionly.kpxe, uefi: ipxe.efi, arm64: snp-arm64.efi, ipxe: default.ipxe }
  fedora: { uefi: grubx64.efi, grub: fedora.grub.cfg }
hosts:
  - name: hv01
    boot: fedora
    interfaces:
      - { mac: "52:54:00:aa:00:10", ip: 10.99.0.10 }
      - { name: mgmt, mac: "52:54:00:aa:01:10", ip: 10.99.1.10 }
  - name: pxe01
    interfaces:
      - { mac: "52:54:00:aa:00:20", ip: 10.99.0.20 }
`;
}
