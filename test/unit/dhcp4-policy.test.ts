/* DHCPv4 pure policy: subnet selection (RFC 2131 §4.3.1), reply destination (§4.1), PXE (RFC 4578), REQUEST states (§4.3.2). */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { IpxeOpt, MessageType, Opt, readSubOptions } from '../../src/dhcp4/codec/index.js';
import { bootAnswer, classifyClient, leaseTimers, replyDestination, requestState, sanitiseHostname, selectSubnet } from '../../src/dhcp4/policy/index.js';
import { dhcpSiteYaml } from '../helpers/dhcp-config.js';

const { config } = parseConfig(dhcpSiteYaml({ dir: '/tmp/bdh-unit', interfaces: [] }), '/tmp/bdh-unit/site.yaml');
const subnets = config.dhcp.subnets;

describe('subnet selection (RFC 2131 §4.3.1)', () => {
  it('giaddr wins over the receiving interface', () => {
    assert.equal(selectSubnet(subnets, { giaddr: '10.99.1.1', ciaddr: '0.0.0.0', ifaceAddresses: ['10.99.0.1'] })?.cidr, '10.99.1.0/24');
  });
  it('direct: the receiving interface subnet', () => {
    assert.equal(selectSubnet(subnets, { giaddr: '0.0.0.0', ciaddr: '0.0.0.0', ifaceAddresses: ['192.0.2.1', '10.99.0.1'] })?.cidr, '10.99.0.0/24');
  });
  it('unknown relay or interface: none', () => {
    assert.equal(selectSubnet(subnets, { giaddr: '192.0.2.1', ciaddr: '0.0.0.0', ifaceAddresses: ['10.99.0.1'] }), undefined);
    assert.equal(selectSubnet(subnets, { giaddr: '0.0.0.0', ciaddr: '0.0.0.0', ifaceAddresses: ['192.0.2.1'] }), undefined);
  });
  it('wildcard socket: ciaddr decides', () => {
    assert.equal(selectSubnet(subnets, { giaddr: '0.0.0.0', ciaddr: '10.99.1.120', ifaceAddresses: [] })?.cidr, '10.99.1.0/24');
  });
});

describe('reply destination (RFC 2131 §4.1)', () => {
  const d = (giaddr: string, ciaddr: string, flags: number, type: number = MessageType.ACK) => replyDestination({ giaddr, ciaddr, flags }, type, 67);
  it('relay → giaddr at the server port; NAK through a relay sets the broadcast bit', () => {
    assert.deepEqual(d('10.99.1.1', '0.0.0.0', 0), { address: '10.99.1.1', port: 67, setBroadcastFlag: false, rule: 'relay' });
    assert.equal(d('10.99.1.1', '0.0.0.0', 0, MessageType.NAK).setBroadcastFlag, true);
  });
  it('NAK without relay → broadcast to the client port', () => {
    assert.deepEqual(d('0.0.0.0', '10.99.0.5', 0, MessageType.NAK), { address: '255.255.255.255', port: 68, setBroadcastFlag: false, rule: 'nak-broadcast' });
  });
  it('ciaddr → unicast; broadcast bit → broadcast; else broadcast (no ARP injection without raw sockets)', () => {
    assert.deepEqual(d('0.0.0.0', '10.99.0.5', 0x8000), { address: '10.99.0.5', port: 68, setBroadcastFlag: false, rule: 'ciaddr' });
    assert.equal(d('0.0.0.0', '0.0.0.0', 0x8000).rule, 'broadcast-flag');
    assert.equal(d('0.0.0.0', '0.0.0.0', 0).rule, 'broadcast-no-address');
    assert.equal(replyDestination({ giaddr: '0.0.0.0', ciaddr: '0.0.0.0', flags: 0 }, MessageType.OFFER, 10067).port, 10068);
  });
});

describe('PXE classification and boot answer (RFC 4578 §2.1, iPXE, UEFI HTTP boot)', () => {
  const profile = config.bootProfiles['default']!;
  const ctx = { baseUrl: 'http://pxe.mgmt.example.net:10080/', mac: '52:54:00:99:00:10', serverIp: '10.99.0.1' };
  const answer = (arch: number[], vendorClass?: string, userClass: string[] = [], enc = false) =>
    bootAnswer(classifyClient({ vendorClass, userClass, arch, hasIpxeEncap: enc }), profile, ctx);
  const table: [string, number[], string | undefined, string[], string | undefined, 'tftp' | 'http' | 'ipxe-script' | undefined][] = [
    ['BIOS', [0], 'PXEClient:Arch:00000:UNDI:002001', [], 'undionly.kpxe', 'tftp'],
    ['PXEClient without 93 is BIOS', [], 'PXEClient', [], 'undionly.kpxe', 'tftp'],
    ['IA32 UEFI (6)', [6], 'PXEClient:Arch:00006', [], 'ipxe.efi', 'tftp'],
    ['x64 UEFI (7)', [7], 'PXEClient:Arch:00007', [], 'ipxe.efi', 'tftp'],
    ['x64 UEFI (9, RFC 4578 errata)', [9], 'PXEClient:Arch:00009', [], 'ipxe.efi', 'tftp'],
    ['ARM32 (10): no profile key', [10], 'PXEClient:Arch:00010', [], undefined, undefined],
    ['ARM64 (11)', [11], 'PXEClient:Arch:00011', [], 'snp-arm64.efi', 'tftp'],
    ['x64 HTTP boot (16)', [16], 'HTTPClient:Arch:00016', [], 'http://pxe.mgmt.example.net:10080/ipxe.efi', 'http'],
    ['ARM64 HTTP boot (19)', [19], 'HTTPClient:Arch:00019', [], 'http://pxe.mgmt.example.net:10080/snp-arm64.efi', 'http'],
    ['iPXE BIOS', [0], 'PXEClient:Arch:00000', ['iPXE'], 'http://pxe.mgmt.example.net:10080/boot/52:54:00:99:00:10.ipxe', 'ipxe-script'],
    ['iPXE UEFI via 175 only', [7], 'PXEClient:Arch:00007', [], 'http://pxe.mgmt.example.net:10080/boot/52:54:00:99:00:10.ipxe', 'ipxe-script'],
    ['not a boot client', [], undefined, [], undefined, undefined],
    ['93 alone (no 60/77) is not a boot client', [0], 'MSFT 5.0', [], undefined, undefined],
  ];
  for (const [name, arch, vc, uc, file, via] of table) {
    it(name, () => {
      const a = answer(arch, vc, uc, name.includes('175'));
      assert.equal(a?.file, file);
      assert.equal(a?.via, via);
    });
  }
  it('TFTP answer to firmware carries siaddr, 66 and 67 and no 60 (EDK2 would make it a BINL offer and ask :4011)', () => {
    const a = answer([0], 'PXEClient')!;
    assert.equal(a.siaddr, '10.99.0.1');
    const o = new Map(a.options);
    assert.equal(o.has(Opt.VENDOR_CLASS), false);
    assert.equal(o.get(Opt.TFTP_SERVER)?.toString(), '10.99.0.1');
    assert.equal(o.get(Opt.BOOTFILE)?.toString(), 'undionly.kpxe');
  });
  it('iPXE answer carries 175.176 = 1 (no ProxyDHCP wait) and 60 PXEClient', () => {
    const o = new Map(answer([0], 'PXEClient', ['iPXE'])!.options);
    assert.equal(readSubOptions(o.get(Opt.IPXE_ENCAP))?.get(IpxeOpt.NO_PXEDHCP)?.[0], 1);
    assert.equal(o.get(Opt.VENDOR_CLASS)?.toString(), 'PXEClient');
  });
  it('HTTP boot echoes 60 HTTPClient and has no 66', () => {
    const o = new Map(answer([16], 'HTTPClient:Arch:00016:UNDI:003001')!.options);
    assert.equal(o.get(Opt.VENDOR_CLASS)?.toString(), 'HTTPClient');
    assert.equal(o.has(Opt.TFTP_SERVER), false);
  });
  it('iPXE with a profile that has no iPXE template falls back to the arch file (no loop: not iPXE itself)', () => {
    const a = bootAnswer(classifyClient({ vendorClass: 'PXEClient', userClass: ['iPXE'], arch: [7], hasIpxeEncap: true }), config.bootProfiles['fedora'], ctx);
    assert.equal(a?.file, 'grubx64.efi');
  });
  it('no profile: no answer', () => {
    assert.equal(bootAnswer(classifyClient({ vendorClass: 'PXEClient', userClass: [], arch: [0], hasIpxeEncap: false }), undefined, ctx), undefined);
  });
});

describe('REQUEST states (RFC 2131 §4.3.2) and timers (§4.4.5)', () => {
  it('every combination', () => {
    assert.equal(requestState({ serverId: '10.99.0.1', requestedIp: '10.99.0.100', ciaddr: '0.0.0.0' }), 'selecting');
    assert.equal(requestState({ serverId: undefined, requestedIp: '10.99.0.100', ciaddr: '0.0.0.0' }), 'init-reboot');
    assert.equal(requestState({ serverId: undefined, requestedIp: undefined, ciaddr: '10.99.0.100' }), 'renewing');
    assert.equal(requestState({ serverId: undefined, requestedIp: undefined, ciaddr: '0.0.0.0' }), 'invalid');
    assert.equal(requestState({ serverId: '10.99.0.1', requestedIp: undefined, ciaddr: '0.0.0.0' }), 'invalid');
  });
  it('T1 = 0.5, T2 = 0.875 of the lease', () => {
    assert.deepEqual(leaseTimers(3600), { t1: 1800, t2: 3150 });
  });
});

describe('hostname sanitising (RFC 1123 §2.1 labels)', () => {
  it('cases', () => {
    assert.equal(sanitiseHostname('Dyn_Host.one'), 'dyn-host');
    assert.equal(sanitiseHostname('--x--'), 'x');
    assert.equal(sanitiseHostname('a'.repeat(80)), 'a'.repeat(63));
    assert.equal(sanitiseHostname('ümlaut'), 'mlaut');
    assert.equal(sanitiseHostname('...'), undefined);
    assert.equal(sanitiseHostname(undefined), undefined);
  });
});
