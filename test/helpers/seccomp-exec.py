#!/usr/bin/python3
"""Exec a command under the seccomp filter a systemd unit's SystemCallFilter= and
RestrictAddressFamilies= lines describe, the way systemd applies them (tests only; PID 1 here is not
systemd). Needs libseccomp's Python binding (Debian: python3-seccomp) and no_new_privs or root.

usage: seccomp-exec.py UNIT_FILE -- COMMAND [ARGS...]

Allow-list entries (SystemCallFilter=@set ...) are unioned, deny entries (SystemCallFilter=~...)
removed; anything else fails with SystemCallErrorNumber= (EPERM by default). socket() is allowed only
for the listed address families; other families fail with EAFNOSUPPORT, as in systemd.
"""
import errno
import os
import socket
import subprocess
import sys

import seccomp


def expand(name, seen=None):
    """Syscall names of a systemd set (@name), recursively, as systemd-analyze lists them."""
    seen = set() if seen is None else seen
    if not name.startswith('@'):
        return {name}
    if name in seen:
        return set()
    seen.add(name)
    out = subprocess.run(['systemd-analyze', 'syscall-filter', name], capture_output=True, text=True, check=True).stdout
    calls = set()
    for line in out.splitlines()[1:]:
        line = line.strip()
        if not line or line.startswith('#'):
            continue
        calls |= expand(line, seen)
    return calls


def main():
    sep = sys.argv.index('--')
    unit, cmd = sys.argv[1], sys.argv[sep + 1:]
    allow, deny, families, err = set(), set(), None, errno.EPERM
    for raw in open(unit, encoding='utf-8'):
        line = raw.strip()
        if line.startswith('SystemCallFilter='):
            value = line.split('=', 1)[1]
            target = deny if value.startswith('~') else allow
            for item in value.lstrip('~').split():
                target |= expand(item)
        elif line.startswith('RestrictAddressFamilies='):
            families = [getattr(socket, f) for f in line.split('=', 1)[1].split()]
        elif line.startswith('SystemCallErrorNumber='):
            err = getattr(errno, line.split('=', 1)[1])
    f = seccomp.SyscallFilter(defaction=seccomp.ERRNO(err))
    allowed = sorted(allow - deny)
    for name in allowed:
        if name == 'socket' and families is not None:
            continue
        try:
            f.add_rule(seccomp.ALLOW, name)
        except (RuntimeError, ValueError, OSError):
            pass  # not a syscall on this architecture
    if families is not None:
        for fam in families:
            f.add_rule(seccomp.ALLOW, 'socket', seccomp.Arg(0, seccomp.EQ, int(fam)))
        for fam in range(0, 46):
            if fam not in [int(x) for x in families]:
                f.add_rule(seccomp.ERRNO(errno.EAFNOSUPPORT), 'socket', seccomp.Arg(0, seccomp.EQ, fam))
    print(f'seccomp-exec: {len(allowed)} syscalls allowed, {len(deny)} denied, families {families}', file=sys.stderr, flush=True)
    f.load()
    os.execvp(cmd[0], cmd)


if __name__ == '__main__':
    main()
