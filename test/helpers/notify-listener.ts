import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';

/*
 * A systemd-style $NOTIFY_SOCKET for tests: python3 binds an AF_UNIX SOCK_DGRAM socket with
 * SO_PASSCRED, so every datagram comes with the sender's PID the way systemd checks NotifyAccess=main.
 * (Node cannot bind Unix datagram sockets.) Use: `const l = await notifyListener(path)`, pass
 * `NOTIFY_SOCKET: l.address` to the process under test, `await l.waitFor((m) => m.data.includes('READY=1'))`.
 */

const LISTENER = `
import os, socket, sys, json, struct
addr = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
s.bind(('\\0' + addr[1:]) if addr.startswith('@') else addr)
if not addr.startswith('@'):
    os.chmod(addr, 0o666)  # an unprivileged service user must be able to send, as with /run/systemd/notify
print('LISTENING', flush=True)
while True:
    data, anc, flags, _ = s.recvmsg(4096, socket.CMSG_SPACE(12))
    pid = None
    for level, typ, cdata in anc:
        if level == socket.SOL_SOCKET and typ == socket.SCM_CREDENTIALS:
            pid, uid, gid = struct.unpack('iii', cdata[:12])
    print(json.dumps({'pid': pid, 'data': data.decode(errors='replace')}), flush=True)
`;

/** One notification: the datagram text and the sender's PID (from SCM_CREDENTIALS). */
export interface NotifyMessage {
  pid: number;
  data: string;
  /** Date.now() when the listener's line was read. */
  at: number;
}

export interface NotifyListener {
  /** What to put in NOTIFY_SOCKET. */
  address: string;
  /** Every message so far, oldest first. */
  messages: NotifyMessage[];
  /** Wait until `count` messages matching `pred` have arrived (bounded by `timeoutMs`); resolves the last one. */
  waitFor(pred: (m: NotifyMessage) => boolean, timeoutMs?: number, count?: number): Promise<NotifyMessage>;
  close(): void;
}

/** Start a listener on a filesystem path or an abstract name ("@name"). */
export async function notifyListener(address: string): Promise<NotifyListener> {
  const proc: ChildProcess = spawn('python3', ['-c', LISTENER, address], { stdio: ['ignore', 'pipe', 'inherit'] });
  const messages: NotifyMessage[] = [];
  const waiters = new Set<() => void>();
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`notify listener exited ${code}`));
    proc.once('exit', onExit);
    createInterface({ input: proc.stdout! }).on('line', (line) => {
      if (line === 'LISTENING') { proc.off('exit', onExit); resolve(); return; }
      const m = JSON.parse(line) as Omit<NotifyMessage, 'at'>;
      messages.push({ ...m, at: Date.now() });
      for (const w of [...waiters]) w();
    });
  });
  return {
    address,
    messages,
    waitFor(pred, timeoutMs = 5000, count = 1) {
      return new Promise((resolve, reject) => {
        const check = (): boolean => {
          const hits = messages.filter(pred);
          if (hits.length >= count) { resolve(hits[count - 1]!); return true; }
          return false;
        };
        if (check()) return;
        const timer = setTimeout(() => { waiters.delete(w); reject(new Error(`no ${count} matching notify message(s) within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)); }, timeoutMs);
        const w = () => { if (check()) { clearTimeout(timer); waiters.delete(w); } };
        waiters.add(w);
      });
    },
    close() { if (proc.exitCode === null && proc.signalCode === null) proc.kill(); },
  };
}
