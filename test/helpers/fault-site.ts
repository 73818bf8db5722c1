/*
 * `builderd serve` in a namespace pair for the fault tests and live fuzzing (prefix bfz-): the daemon
 * in <prefix>-b (10.99.0.2, DNS :10053, TFTP :10069, DHCP :10067 on a wildcard socket), clients in
 * <prefix>-a (10.99.0.50 and .51). The config is config/example.yaml (exampleYaml) with those listeners.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createNetnsPair, type NetnsPair } from './netns.js';
import { exampleYaml, scratch, spawnServe, type DaemonProcess } from './daemon.js';

export const SERVER = '10.99.0.2';
export const CLIENT = '10.99.0.50';
export const PROBE = '10.99.0.51';

/** config/example.yaml served on SERVER; `patch` edits the YAML text afterwards. */
export function siteYaml(dir: string, patch: (y: string) => string = (y) => y): string {
  return patch(exampleYaml(dir, (y) => y
    .replace('listen: ["127.0.0.1:0"]', `listen: ["${SERVER}:10053"]`)
    .replace('listen: ["127.0.0.1:0"]', `listen: ["${SERVER}:10069"]`)));
}

export interface FaultSite {
  ns: NetnsPair;
  dir: string;
  file: string;
  d: DaemonProcess;
  /** GET /metrics of the running daemon (its metrics listener, inside the namespace). */
  metrics(): string;
  /** The value of one sample of /metrics (0 when absent), e.g. metric('builderd_errors_total', 'code="STORE_ERR_WRITE"'). */
  metric(name: string, labels: string): number;
  /** Start (or restart) the daemon; resolves once daemon.ready is logged. */
  start(): Promise<DaemonProcess>;
  cleanup(): Promise<void>;
}

/** Namespaces, scratch directory and config; the daemon started unless `start: false`. */
export async function faultSite(prefix: string, patch?: (y: string) => string, opts: { start?: boolean; args?: string[] } = {}): Promise<FaultSite> {
  const ns = createNetnsPair(prefix, `${CLIENT}/24`, `${SERVER}/24`);
  const s = scratch(prefix);
  ns.exec(ns.a, ['ip', 'addr', 'add', `${PROBE}/24`, 'dev', ns.ifA]);
  // A default route through the veth, so limited broadcasts have a way out.
  ns.exec(ns.b, ['ip', 'route', 'add', 'default', 'dev', ns.ifB]);
  ns.exec(ns.a, ['ip', 'route', 'add', 'default', 'dev', ns.ifA]);
  const file = join(s.dir, 'builderd.yaml');
  writeFileSync(file, siteYaml(s.dir, patch));
  const site: FaultSite = {
    ns, dir: s.dir, file, d: undefined as unknown as DaemonProcess,
    metrics() {
      const l = [...site.d.lines].reverse().find((x) => x['event'] === 'http.ops.listen');
      if (!l) throw new Error('the metrics listener is not running');
      return ns.exec(ns.b, ['curl', '-sS', '--max-time', '5', `http://127.0.0.1:${String(l['port'])}/metrics`]);
    },
    metric(name, labels) {
      const line = site.metrics().split('\n').find((x) => x.startsWith(`${name}{`) && labels.split(',').every((p) => x.includes(p)));
      return line ? Number(line.split(' ').pop()) : 0;
    },
    async start() {
      site.d = spawnServe(file, opts.args ?? [], {}, ns.b);
      await site.d.waitFor((l) => l['event'] === 'daemon.ready', 20_000);
      return site.d;
    },
    async cleanup() {
      // (DaemonProcess.stop() waits for an 'exit' that already happened when the child was SIGKILLed.)
      if (site.d && site.d.child.exitCode === null && site.d.child.signalCode === null) await site.d.stop('SIGKILL').catch(() => undefined);
      ns.cleanup();
      s.cleanup();
    },
  };
  if (opts.start !== false) await site.start();
  return site;
}
