import type { StatusSnapshot, HostStatus, PoolStatus } from './types.js';

/*
 * The operator's status page: plain server-rendered HTML, readable without JavaScript and without any
 * external asset (the builder may be the only host up). Every value is escaped through the `html`
 * tag; only fragments built by the tag itself are inserted unescaped.
 */

/** An HTML fragment that is already safe (built by the `html` tag). */
class Safe {
  readonly text: string;
  constructor(text: string) { this.text = text; }
  toString(): string { return this.text; }
}

const ESC: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escape text for HTML element content and double- or single-quoted attribute values. */
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/g, (c) => ESC[c]!);
}

type Part = Safe | string | number | boolean | null | undefined | readonly Part[];

function part(v: Part): string {
  if (v instanceof Safe) return v.text;
  if (Array.isArray(v)) return v.map(part).join('');
  return escapeHtml(v);
}

/** Tagged template: interpolated values are escaped unless they are Safe fragments (or arrays of them). */
function html(strings: TemplateStringsArray, ...values: Part[]): Safe {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += part(values[i]!) + strings[i + 1]!;
  return new Safe(out);
}

/** "2025-06-01 12:00:05 UTC" (stable, timezone-free). */
export function formatTime(ms: number): string {
  if (!Number.isFinite(ms)) return '-';
  return new Date(ms).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC');
}

/** "5 s ago", "3 min ago", "in 2 h"... relative to `now`. */
export function formatAge(ms: number, now: number): string {
  if (!Number.isFinite(ms)) return '';
  const d = Math.round((now - ms) / 1000);
  const a = Math.abs(d);
  const text = a < 90 ? `${a} s` : a < 5400 ? `${Math.round(a / 60)} min` : a < 172_800 ? `${Math.round(a / 3600)} h` : `${Math.round(a / 86_400)} d`;
  return d >= 0 ? `${text} ago` : `in ${text}`;
}

/** 1536 → "1.5 KiB". */
export function formatBytes(n: number): string {
  if (!Number.isFinite(n)) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u += 1; }
  return u === 0 ? `${v} B` : `${v.toFixed(1)} ${units[u]}`;
}

function time(ms: number, now: number): Safe {
  return html`<time datetime="${Number.isFinite(ms) ? new Date(ms).toISOString() : ''}">${formatTime(ms)}</time> <span class="age">(${formatAge(ms, now)})</span>`;
}

function poolRow(p: PoolStatus): Safe {
  const pct = p.size > 0 ? Math.min(100, Math.round((p.used / p.size) * 100)) : 0;
  const cls = pct >= 90 ? 'bad' : pct >= 75 ? 'warn' : 'ok';
  return html`<tr><td>${p.subnet}</td><td>${p.pool}</td><td class="num">${p.size}</td><td class="num">${p.used}</td><td class="num">${p.free}</td>
<td><span class="bar"><span class="fill ${cls}" style="width:${pct}%"></span></span> ${pct}%</td></tr>`;
}

function hostRow(h: HostStatus, now: number): Safe {
  const b = h.lastBoot;
  const boot = b
    ? html`<div>${time(b.at, now)}</div>
${b.lease ? html`<div>lease <b>${b.lease.ip}</b> until ${formatTime(b.lease.expires)}</div>` : html`<div class="muted">no lease</div>`}
${b.files.length
  ? html`<ol class="files">${b.files.map((f) => html`<li><code>${f.proto}</code> ${f.file} ${f.result === 'ok' ? '' : html`<b class="bad">${f.result}</b> `}<span class="muted">${formatBytes(f.bytes)}, ${formatTime(f.at)}</span></li>`)}</ol>`
  : html`<div class="muted">no files fetched</div>`}`
    : html`<span class="muted">not seen booting</span>`;
  return html`<tr id="host-${h.mac.replace(/:/g, '')}"><td><b>${h.name}</b><br><span class="muted">${h.fqdn}</span></td><td><code>${h.mac}</code></td><td>${h.ip}</td><td>${h.profile}</td><td>${boot}</td></tr>`;
}

function detail(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  try { return JSON.stringify(v); } catch { return String(v); }
}

/** Render the whole status page as an HTML document (UTF-8, no scripts, no external assets). */
export function renderStatusPage(s: StatusSnapshot): string {
  const allOk = s.services.every((x) => x.ok);
  const journal = [...s.journal].reverse();
  const page = html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>builderd status: ${s.mode}, epoch ${s.epoch}</title>
<style>
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0;color:#1b1f24;background:#f6f7f9}
header{background:#1f2d3d;color:#fff;padding:12px 20px;display:flex;flex-wrap:wrap;gap:16px;align-items:center}
header h1{font-size:18px;margin:0}
header a{color:#cfe3ff}
main{padding:8px 20px 24px;max-width:1400px}
section{background:#fff;border:1px solid #d9dde3;border-radius:6px;margin:14px 0;padding:10px 14px}
h2{font-size:16px;margin:4px 0 8px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceef1;vertical-align:top}
th{background:#f0f2f5;font-weight:600}
td.num{text-align:right;font-variant-numeric:tabular-nums}
code{font:12px ui-monospace,SFMono-Regular,Menlo,monospace}
.muted,.age{color:#66707a}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;font-weight:600}
.mode-bootstrap{background:#ffe8a3;color:#5a4300}
.mode-production{background:#c9f2d0;color:#0d4a1a}
.svc-ok{background:#c9f2d0;color:#0d4a1a}.svc-bad{background:#ffd7d5;color:#82071e}
.ok{color:#0d7a2a}.bad{color:#b3261e}.warn{color:#9a6700}
.bar{display:inline-block;width:120px;height:10px;background:#e6e8eb;border-radius:5px;vertical-align:middle;overflow:hidden}
.fill{display:block;height:100%}.fill.ok{background:#2da44e}.fill.warn{background:#d4a72c}.fill.bad{background:#cf222e}
ol.files{margin:4px 0 0 18px;padding:0}
</style>
</head>
<body>
<header>
<h1>builderd ${s.version}</h1>
<span>authority <span class="badge mode-${s.mode}" id="mode">${s.mode}</span> epoch <b id="epoch">${s.epoch}</b>
since ${formatTime(s.since)} by ${s.by}</span>
<span class="badge ${allOk ? 'svc-ok' : 'svc-bad'}" id="health">services: ${allOk ? 'all healthy' : 'DEGRADED'}</span>
<span>as of ${formatTime(s.now)}</span>
<a href="/status" id="refresh">Refresh</a>
</header>
<main>
<section id="services"><h2>Services</h2>
<table><thead><tr><th>Service</th><th>Health</th><th>Listening on</th><th>Detail</th></tr></thead><tbody>
${s.services.map((x) => html`<tr><td>${x.name}</td><td class="${x.ok ? 'ok' : 'bad'}">${x.ok ? 'OK' : 'FAILING'}</td><td>${x.addresses.map((a, i) => html`${i ? ', ' : ''}<code>${a}</code>`)}</td><td>${x.detail ?? ''}</td></tr>`)}
${s.services.length === 0 ? html`<tr><td colspan="4" class="muted">no services configured</td></tr>` : ''}
</tbody></table></section>

<section id="pools"><h2>DHCP pools</h2>
<table><thead><tr><th>Subnet</th><th>Pool</th><th class="num">Size</th><th class="num">In use</th><th class="num">Free</th><th>Use</th></tr></thead><tbody>
${s.pools.map(poolRow)}
${s.pools.length === 0 ? html`<tr><td colspan="6" class="muted">no dynamic pools (reservations only)</td></tr>` : ''}
</tbody></table></section>

<section id="hosts"><h2>Hosts (${new Set(s.hosts.map((h) => h.name)).size} hosts, ${s.hosts.length} interfaces)</h2>
<table><thead><tr><th>Host</th><th>MAC</th><th>IP</th><th>Boot profile</th><th>Last boot journey</th></tr></thead><tbody>
${s.hosts.map((h) => hostRow(h, s.now))}
${s.hosts.length === 0 ? html`<tr><td colspan="5" class="muted">no hosts in the inventory</td></tr>` : ''}
</tbody></table></section>

<section id="leases"><h2>Leases (${s.leases.length})</h2>
<table><thead><tr><th>IP</th><th>MAC</th><th>Hostname</th><th>State</th><th>Expires</th></tr></thead><tbody>
${s.leases.map((l) => html`<tr><td>${l.ip}</td><td><code>${l.mac}</code></td><td>${l.hostname ?? ''}</td><td>${l.state}</td><td>${time(l.expires, s.now)}</td></tr>`)}
${s.leases.length === 0 ? html`<tr><td colspan="5" class="muted">no leases</td></tr>` : ''}
</tbody></table></section>

<section id="journal"><h2>Authority journal (newest first)</h2>
<table><thead><tr><th>When</th><th>Event</th><th>Operator</th><th>Host</th><th>Detail</th></tr></thead><tbody>
${journal.map((j) => html`<tr><td>${time(j.at, s.now)}</td><td><code>${j.kind}</code></td><td>${j.operator}</td><td>${j.host}</td><td><code>${detail(j.detail)}</code></td></tr>`)}
${journal.length === 0 ? html`<tr><td colspan="5" class="muted">empty</td></tr>` : ''}
</tbody></table></section>
</main>
</body>
</html>
`;
  return page.text;
}
