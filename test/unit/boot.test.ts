// Per-host boot files from config/example.yaml, its inventory and config/templates.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildInventory } from '../../src/inventory/index.js';
import { createBootResolver, matchBootPath, httpDynamic, tftpDynamic } from '../../src/boot/index.js';
import { silentLogger } from '../../src/lib/logger.js';
import { exampleConfig } from '../helpers/artifacts.js';

const IPV4 = /\b\d{1,3}(\.\d{1,3}){3}\b/;

function resolver() {
  const config = exampleConfig();
  const inv = buildInventory(config);
  return createBootResolver({ config, reservations: inv.reservations, boot: inv.boot, logger: silentLogger() });
}

test('the iPXE script rendered for hv01 names hv01 and pxe.mgmt.example.net, never an IP address', async () => {
  const r = await resolver().render('ipxe', '52:54:00:aa:00:10', '10.99.0.10');
  assert.ok('body' in r, JSON.stringify(r));
  assert.match(r.body, /^#!ipxe/);
  assert.match(r.body, /\bhv01\b/);
  assert.match(r.body, /pxe\.mgmt\.example\.net/);
  assert.doesNotMatch(r.body, IPV4);
  assert.equal(r.host, 'hv01');
  // hv01's profile (fedora) boots GRUB: iPXE chains its UEFI loader by name.
  assert.match(r.body, /chain \$\{base_url\}\/grubx64\.efi/);
});

test('default.ipxe: kernel/initrd from ${base_url}, console=ttyS0, hostname by name', async () => {
  const r = await resolver().render('ipxe', '52-54-00-AA-00-02');
  assert.ok('body' in r);
  assert.match(r.body, /^set base_url http:\/\/pxe\.mgmt\.example\.net:10080$/m);
  assert.match(r.body, /^kernel \$\{base_url\}\/vmlinuz initrd=initrd\.img console=ttyS0 hostname=provisioner-ph01\.mgmt\.example\.net$/m);
  assert.match(r.body, /^initrd \$\{base_url\}\/initrd\.img$/m);
  assert.doesNotMatch(r.body, IPV4);
});

test('grub.cfg and kickstart for hv01; MAC in any case/notation', async () => {
  const b = resolver();
  for (const key of ['52:54:00:aa:00:10', '52:54:00:AA:00:10', '52-54-00-aa-00-10', '525400aa0010']) {
    const g = await b.render('grub', key);
    assert.ok('body' in g && g.body.includes('hv01.lab.example.net') && g.body.includes('/ks/hv01.ks'), key);
    assert.doesNotMatch((g as { body: string }).body, IPV4);
  }
  const ks = await b.render('kickstart', 'hv01');
  assert.ok('body' in ks);
  assert.match(ks.body, /--hostname=hv01\.lab\.example\.net/);
  assert.doesNotMatch(ks.body, IPV4);
  assert.deepEqual(await b.render('kickstart', 'nohost'), { notFound: 'no host "nohost" with a boot profile' });
});

test("unknown MAC: the client subnet's default profile, or a clear not-found", async () => {
  const b = resolver();
  const r = await b.render('ipxe', '52:54:00:ff:ff:ff', '10.99.0.150');
  assert.ok('body' in r && r.body.includes('unknown') && r.host === undefined);
  const n = await b.render('ipxe', '52:54:00:ff:ff:ff', '10.99.1.150');
  assert.deepEqual(n, { notFound: 'unknown MAC 52:54:00:ff:ff:ff and no default boot profile for 10.99.1.150' });
  assert.ok('notFound' in (await b.render('grub', '52:54:00:ff:ff:ff', '10.99.0.150')), 'default profile has no grub template');
  assert.ok('notFound' in (await b.render('ipxe', 'not-a-mac')));
});

test('matchBootPath: TFTP and HTTP path forms', () => {
  assert.deepEqual(matchBootPath('tftp', 'grub.cfg-52:54:00:aa:00:10'), { kind: 'grub', key: '52:54:00:aa:00:10' });
  assert.deepEqual(matchBootPath('tftp', 'grub/grub.cfg-52:54:00:AA:00:10'), { kind: 'grub', key: '52:54:00:AA:00:10' });
  assert.deepEqual(matchBootPath('tftp', 'grub.cfg-01-52-54-00-aa-00-10'), { kind: 'grub', key: '52-54-00-aa-00-10' });
  assert.deepEqual(matchBootPath('tftp', 'pxelinux.cfg/01-52-54-00-aa-00-10'), { kind: 'pxelinux', key: '52-54-00-aa-00-10' });
  assert.deepEqual(matchBootPath('http', 'boot/52:54:00:aa:00:10.ipxe'), { kind: 'ipxe', key: '52:54:00:aa:00:10' });
  assert.deepEqual(matchBootPath('http', 'ks/hv01.ks'), { kind: 'kickstart', key: 'hv01' });
  assert.equal(matchBootPath('http', 'ks/../x.ks'), undefined);
  assert.equal(matchBootPath('tftp', 'undionly.kpxe'), undefined);
  assert.equal(matchBootPath('http', 'vmlinuz'), undefined);
});

test('dynamic hooks: TFTP falls through for unknown MACs, HTTP answers a clear 404', async () => {
  const b = resolver();
  const t = tftpDynamic(b);
  assert.match((await t('grub.cfg-52:54:00:aa:00:10', { address: '10.99.0.10' }))!.toString(), /hv01/);
  assert.equal(await t('grub.cfg-52:54:00:aa:99:99', { address: '10.99.1.9' }), undefined);
  assert.equal(await t('undionly.kpxe', { address: '10.99.0.10' }), undefined);
  const h = httpDynamic(b);
  const ok = await h('boot/52:54:00:aa:00:10.ipxe', { address: '127.0.0.1' });
  assert.ok(ok && 'body' in ok && ok.type.startsWith('text/plain'));
  assert.ok((await h('ks/ghost.ks', { address: '127.0.0.1' }))! && 'notFound' in (await h('ks/ghost.ks', { address: '127.0.0.1' }))!);
});
