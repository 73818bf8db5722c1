import { createSocket } from 'node:dgram';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';
import type { Zone, ResourceRecord } from '../inventory/types.js';
import type { CheckResult } from './machine.js';
import { parseHostPort } from '../lib/net.js';

/** RFC 1035 §4.1.1 header flag AA. */
const AA = 1 << 10;

interface Question { name: string; type: ResourceRecord['type'] }

/** Normalise answer data for comparison (names lowercase without the trailing dot). */
function norm(type: string, data: unknown): string {
  if (type === 'SOA') return 'SOA';
  return String(data).toLowerCase().replace(/\.$/, '');
}

/**
 * Promote pre-flight: the router's DNS must serve every zone we hand over, authoritatively, with the
 * same data builderd serves for every inventory name (RFC 1034 §4.3.2 answer section, compared as sets).
 */
export async function checkRouterDns(router: string, zones: readonly Zone[], timeoutMs = 1500): Promise<CheckResult> {
  const { host, port } = parseHostPort(router, 53);
  const expected = new Map<string, Set<string>>();
  const questions: Question[] = [];
  for (const z of zones) {
    questions.push({ name: z.origin, type: 'SOA' });
    for (const r of z.records) {
      if (r.type === 'SOA' || r.type === 'NS') continue;
      const key = `${r.name}|${r.type}`;
      if (!expected.has(key)) { expected.set(key, new Set()); questions.push({ name: r.name, type: r.type }); }
      expected.get(key)!.add(norm(r.type, r.data));
    }
  }
  const sock = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  const pending = new Map<number, (p: dnsPacket.Packet | undefined) => void>();
  sock.on('message', (msg) => {
    try {
      const p = dnsPacket.decode(msg);
      const cb = p.id !== undefined ? pending.get(p.id) : undefined;
      if (cb) { pending.delete(p.id!); cb(p); }
    } catch { /* not ours or malformed: ignored */ }
  });
  await new Promise<void>((res) => sock.bind(0, res));
  const ask = (q: Question) => new Promise<dnsPacket.Packet | undefined>((resolve) => {
    let id = randomInt(1, 65535);
    while (pending.has(id)) id = (id % 65534) + 1;
    const timer = setTimeout(() => { pending.delete(id); resolve(undefined); }, timeoutMs);
    pending.set(id, (p) => { clearTimeout(timer); resolve(p); });
    sock.send(dnsPacket.encode({ type: 'query', id, flags: 0, questions: [{ name: q.name, type: q.type as dnsPacket.RecordType }] }), port, host);
  });
  const findings: string[] = [];
  try {
    // Bounded concurrency: 32 questions in flight.
    for (let i = 0; i < questions.length; i += 32) {
      const batch = questions.slice(i, i + 32);
      const answers = await Promise.all(batch.map((q) => ask(q)));
      batch.forEach((q, j) => {
        const p = answers[j];
        if (!p) { findings.push(`${q.name} ${q.type}: no answer within ${timeoutMs} ms`); return; }
        const rcode = (p as { rcode?: string }).rcode;
        if (rcode !== 'NOERROR') { findings.push(`${q.name} ${q.type}: ${rcode ?? 'error'}`); return; }
        if (q.type === 'SOA') {
          if (!p.answers?.some((a) => a.type === 'SOA')) findings.push(`${q.name} SOA: missing`);
          if (!((p.flags ?? 0) & AA)) findings.push(`${q.name} SOA: not authoritative (AA unset)`);
          return;
        }
        const got = new Set((p.answers ?? []).filter((a) => a.type === q.type && a.name.toLowerCase() === q.name).map((a) => norm(a.type, (a as { data: unknown }).data)));
        const want = expected.get(`${q.name}|${q.type}`)!;
        const missing = [...want].filter((w) => !got.has(w));
        const extra = [...got].filter((g) => !want.has(g));
        if (missing.length || extra.length) findings.push(`${q.name} ${q.type}: router has [${[...got].join(', ')}], builderd has [${[...want].join(', ')}]`);
      });
    }
  } finally {
    sock.close();
  }
  return {
    name: 'router-dns',
    ok: findings.length === 0,
    detail: findings.length === 0
      ? `${router} serves ${zones.map((z) => z.origin).join(', ')} with the same data for ${questions.length} questions`
      : `${findings.length} of ${questions.length} questions differ at ${router}`,
    ...(findings.length ? { findings } : {}),
  };
}
