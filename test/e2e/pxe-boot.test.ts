/*
 * The whole PXE journey, booted for real (issue 7): QEMU (TCG) on a tap in a network namespace, the
 * server inside the namespace on :53, :67, :69 and :80.
 *
 * BIOS: SeaBIOS runs the NIC's iPXE ROM (ipxe-qemu) → DHCP with user class iPXE → the server sends
 *   http://pxe.mgmt.example.net/boot/<mac>.ipxe → iPXE resolves the name through the server's DNS,
 *   fetches the script, the kernel and the initrd over HTTP → the initramfs prints the marker.
 * UEFI: OVMF with the NIC's option ROM disabled, so the firmware's own PXE asks as arch 7 →
 *   the server sends ipxe.efi (package ipxe) over TFTP → that iPXE asks again with user class iPXE
 *   → the script as above (the chainload-loop test).
 *
 * Server: BUILDERD_E2E_SERVER=builderd (default: `builderd serve` from this checkout), builderd+dnsmasq-dhcp
 * (builderd for DNS, TFTP and HTTP, dnsmasq for DHCP only) or standin (dnsmasq + python3 http.server).
 * A router advertisement on the segment (radvd) ends iPXE's IPv6 autoconfiguration wait (~13 s).
 * A run that misses its marker prints the serial console and the server's DHCP/TFTP/HTTP/DNS events.
 */
import { after, before, describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePxeAssets, fileSize, missingTools } from '../helpers/pxe-assets.js';
import {
  LAB, bootVm, builderdCli, createLab, newToken, prepareSite, startBuilderd, startCapture, startRouterAdvertisements, startStandIn,
  type BootMode, type BootResult, type Lab, type PxeServer, type Site,
} from '../helpers/pxe-lab.js';

const SERVER = (process.env.BUILDERD_E2E_SERVER ?? 'builderd') as 'builderd' | 'builderd+dnsmasq-dhcp' | 'builderd+launcher-dhcp' | 'standin';
const MARKER_BUDGET_MS = Number(process.env.BUILDERD_E2E_BUDGET_MS ?? 120_000);
/** BUILDERD_E2E_MODES="bios uefi" (default both) picks the firmware paths to boot. */
const MODES = (process.env.BUILDERD_E2E_MODES ?? 'bios uefi').split(/[\s,]+/);
const modeSkip = (m: BootMode): string | false => (MODES.includes(m) ? false : `BUILDERD_E2E_MODES=${MODES.join(' ')}`);
const notRoot = process.getuid?.() !== 0 ? 'needs root: network namespaces, tap devices and ports 53/67/69/80' : false;

function explain(r: BootResult, server: PxeServer | undefined): string {
  return [
    `boot failed: ${r.reason ?? 'marker missing'} after ${r.ms} ms`,
    '=== serial console (seconds after QEMU start) ===', r.serial || '(empty)',
    `=== server events: ${server?.name ?? 'none'} ===`, server?.events() ?? '(no server)',
    '=== qemu ===', r.qemuLog || '(no output)',
  ].join('\n');
}

function report(t: TestContext, label: string, r: BootResult): void {
  const ms = Object.entries(r.milestones).map(([k, v]) => `${k}=${(v / 1000).toFixed(2)}s`).join(' ');
  const line = `${label}: marker after ${(r.ms / 1000).toFixed(2)} s (server ${SERVER}; ${ms}; powered off: ${r.poweredOff})`;
  t.diagnostic(line);
}

describe('e2e: PXE journey in QEMU (TCG), BIOS and UEFI', { skip: notRoot, timeout: 900_000 }, () => {
  let lab: Lab | undefined;
  let site: Site;
  let server: PxeServer | undefined;
  let configPath: string | undefined;
  let token = '';
  let failed = process.env.KEEP === '1';
  /** Runs a test body; any failure keeps the work dir (serial logs, server logs, config) for a look. */
  const keepOnFailure = <T>(fn: () => Promise<T> | T) => async (): Promise<T> => {
    try { return await fn(); } catch (e) { failed = true; throw e; }
  };

  before(async () => {
    const missing = missingTools();
    assert.deepEqual(missing, [], `missing tools ${missing.join(', ')}: install the packages in .ci/apt.d/e2e.txt`);
    const assets = ensurePxeAssets();
    lab = createLab();
    site = prepareSite(join(lab.workDir, 'site'), assets);
    await startRouterAdvertisements(lab);
    if (process.env.BUILDERD_E2E_CAPTURE === '1') await startCapture(lab);
    token = newToken();
    if (SERVER === 'standin') {
      server = await startStandIn(lab, site);
    } else {
      const b = await startBuilderd(lab, site, token, {
        dnsmasqDhcp: SERVER === 'builderd+dnsmasq-dhcp', launcherDhcp: SERVER === 'builderd+launcher-dhcp',
      });
      server = b;
      configPath = b.configPath;
    }
    server.setToken(token);
  });

  after(async () => {
    await server?.stop();
    await lab?.destroy();
    if (lab && !failed) rmSync(lab.workDir, { recursive: true, force: true });
    else if (lab) console.log(`# work dir kept: ${lab.workDir}`);
  });

  async function journey(t: TestContext, mode: BootMode): Promise<BootResult> {
    assert.ok(lab && server, 'lab and server are up');
    const r = await bootVm(lab, site, { mode, token, timeoutMs: MARKER_BUDGET_MS });
    assert.ok(r.ok, explain(r, server));
    report(t, mode, r);
    assert.ok(r.ms < MARKER_BUDGET_MS, `marker after ${r.ms} ms, budget ${MARKER_BUDGET_MS} ms`);
    assert.match(r.markerLine ?? '', new RegExp(`token=${token} `), 'the initramfs echoes the token from the rendered script');
    // What iPXE printed: it got hv01's reservation and fetched its script by name, not by address.
    assert.match(r.text, new RegExp(`net0: ${LAB.vmIp.replace(/\./g, '\\.')}/`), 'iPXE bound the reservation of hv01');
    assert.match(r.text, /http:\/\/pxe\.mgmt\.example\.net\/boot\/[^\s]+\.ipxe\.\.\. ok/, 'script fetched from <base_url>/boot/<mac>.ipxe');
    // iPXE's "ok" after the initrd is sometimes cut off by the kernel taking over the UART; the marker proves both loaded
    assert.match(r.text, /http:\/\/pxe\.mgmt\.example\.net\/vmlinuz\.\.\./);
    assert.match(r.text, /http:\/\/pxe\.mgmt\.example\.net\/initrd\.img\.\.\./);
    assert.ok(r.poweredOff, 'the VM powered itself off after the marker');
    return r;
  }

  test('BIOS: SeaBIOS + iPXE ROM → DHCP (iPXE) → DNS → script, kernel, initrd over HTTP → marker', { timeout: 200_000, skip: modeSkip('bios') }, (t) => keepOnFailure(async () => {
    const r = await journey(t, 'bios');
    assert.ok(r.milestones['seabios'] !== undefined, 'SeaBIOS ran');
    assert.equal(r.milestones['ovmf-pxe'], undefined);
    checkServerEvents(server!, 'bios');
  })());

  test('UEFI: OVMF firmware PXE (arch 7, no option ROM) → ipxe.efi over TFTP → iPXE → script → marker', { timeout: 200_000, skip: modeSkip('uefi') }, (t) => keepOnFailure(async () => {
    const r = await journey(t, 'uefi');
    assert.match(r.text, /Start PXE over IPv4/, "the firmware's own PXE ran (no iPXE ROM)");
    assert.match(r.text, /NBP filename is ipxe\.efi/, 'the firmware was given ipxe.efi');
    assert.match(r.text, /Features:.*\bEFI\b/, 'the chainloaded iPXE is the EFI build');
    checkServerEvents(server!, 'uefi');
  })());

  test('the boot events of hv01 are in the store and shown by `builderd hosts hv01`', { skip: SERVER === 'standin' ? 'needs builderd as the server' : false }, (t) => keepOnFailure(() => {
    assert.ok(configPath);
    const r = builderdCli(configPath, 'hosts', LAB.vmName, '--json');
    if (r.status !== 0 && /unknown command/.test(r.stderr)) {
      t.skip('`builderd hosts` does not exist in this build');
      return;
    }
    assert.equal(r.status, 0, `builderd hosts failed: ${r.stderr}`);
    const hosts = JSON.parse(r.stdout) as HostView[];
    const iface = hosts.find((h) => h.name === LAB.vmName)?.interfaces.find((f) => f.mac.toLowerCase() === LAB.vmMac);
    assert.ok(iface, `hosts lists ${LAB.vmName} ${LAB.vmMac}:\n${r.stdout}`);
    const journey = iface.journey;
    t.diagnostic(`journey of ${LAB.vmName}: ${journey.map((e) => `${e.kind} ${e.file ?? ''} ${e.bytes ?? ''}B ${e.durationMs ?? ''}ms`).join('; ')}`);
    const file = (kind: string, name: string): JourneyEvent | undefined =>
      journey.find((e) => e.kind === kind && (e.file ?? '').replace(/^\//, '') === name);
    const sizes = { 'ipxe.efi': fileSize(join(site.artifacts, 'ipxe.efi')), vmlinuz: fileSize(join(site.artifacts, 'vmlinuz')), 'initrd.img': fileSize(join(site.artifacts, 'initrd.img')) };
    const want: Array<[string, keyof typeof sizes]> = [['http.file', 'vmlinuz'], ['http.file', 'initrd.img']];
    if (MODES.includes('uefi')) want.push(['tftp.file', 'ipxe.efi']);
    for (const [kind, name] of want) {
      const e = file(kind, name);
      assert.ok(e, `journey has ${kind} ${name}:\n${r.stdout}`);
      assert.equal(e.bytes, sizes[name], `${name}: bytes recorded = file size`);
      assert.equal(typeof e.durationMs, 'number', `${name}: transfer time recorded`);
      assert.equal(e.ip, LAB.vmIp);
    }
    assert.ok(journey.some((e) => e.kind === 'http.file' && /boot\/.*\.ipxe$/.test(e.file ?? '')), 'journey has the boot script');
    if (SERVER === 'builderd') {
      for (const kind of ['dhcp.offer', 'dhcp.ack']) assert.ok(journey.some((e) => e.kind === kind), `journey has ${kind}:\n${r.stdout}`);
      assert.ok(iface.lease, 'hosts shows the lease of hv01');
    }
  })());
});

/** One boot event as `builderd hosts --json` shows it. */
interface JourneyEvent { at: number; kind: string; ip?: string; file?: string; bytes?: number; durationMs?: number }
/** One host as `builderd hosts --json` shows it. */
interface HostView { name?: string; boot?: string; interfaces: Array<{ mac: string; ip?: string; fqdn?: string; lease?: unknown; journey: JourneyEvent[] }> }

/** The server saw the journey: DHCP ack of hv01's reservation, TFTP of ipxe.efi (UEFI), DNS, HTTP fetches. */
function checkServerEvents(server: PxeServer, mode: BootMode): void {
  const ev = server.events();
  if (SERVER === 'standin') {
    assert.match(ev, new RegExp(`DHCPACK\\(${LAB.bridge}\\) ${LAB.vmIp} ${LAB.vmMac}`), 'dnsmasq acked the reservation');
    if (mode === 'uefi') assert.match(ev, /sent \S+\/ipxe\.efi to 10\.99\.0\.10/, 'dnsmasq sent ipxe.efi over TFTP');
    assert.match(ev, /query\[A\] pxe\.mgmt\.example\.net from 10\.99\.0\.10/, 'iPXE resolved the name through our DNS');
    assert.match(ev, /"GET \/vmlinuz HTTP\/1\.1" 200/);
    assert.match(ev, /"GET \/initrd\.img HTTP\/1\.1" 200/);
    return;
  }
  // builderd logs one JSON line per event (pino); the names are the stable event names.
  const lines = ev.split('\n').filter((l) => l.startsWith('{')).map((l) => { try { return JSON.parse(l) as Record<string, unknown>; } catch { return {}; } });
  const has = (pred: (e: Record<string, unknown>) => boolean, what: string): void => {
    assert.ok(lines.some(pred), `builderd logged ${what}`);
  };
  const text = (e: Record<string, unknown>): string => JSON.stringify(e);
  if (SERVER === 'builderd+dnsmasq-dhcp') assert.match(ev, new RegExp(`DHCPACK\\(${LAB.bridge}\\) ${LAB.vmIp} ${LAB.vmMac}`), 'dnsmasq acked the reservation');
  else has((e) => /^dhcp\.ack/.test(String(e['event'])) && text(e).includes(LAB.vmIp), `a DHCP ack of ${LAB.vmIp}`);
  if (mode === 'uefi') has((e) => /^tftp\./.test(String(e['event'])) && text(e).includes('ipxe.efi'), 'a TFTP transfer of ipxe.efi');
  has((e) => /^http\./.test(String(e['event'])) && text(e).includes('vmlinuz'), 'an HTTP fetch of vmlinuz');
}
