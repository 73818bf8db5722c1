#!/usr/bin/env python3
"""delay-link.py - a point-to-point link with a fixed added delay, for kernels without netem.

Opens two layer-3 TUN devices in the current network namespace and copies every packet that
the kernel routes into one of them out of the other, after a fixed delay per direction. The
caller then moves the second device into the peer namespace (`ip link set DEV netns NS`; the
open file descriptor keeps working) and assigns addresses to both ends.

usage: delay-link.py DEV_A DEV_B DELAY_A_TO_B_MS DELAY_B_TO_A_MS MAX_SECONDS

Prints "READY" once both devices exist. Exits after MAX_SECONDS, or as soon as its stdin
reaches EOF (the parent died), whichever comes first. Packets keep their order; nothing is
dropped except when a device's transmit queue is full.
"""
import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000


def tun(name):
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_NONBLOCK)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TUN | IFF_NO_PI))
    return fd


def main():
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    dev_a, dev_b = sys.argv[1], sys.argv[2]
    delay = {}
    fa, fb = tun(dev_a), tun(dev_b)
    delay[fa] = float(sys.argv[3]) / 1000.0
    delay[fb] = float(sys.argv[4]) / 1000.0
    deadline = time.monotonic() + min(float(sys.argv[5]), 3600.0)
    peer = {fa: fb, fb: fa}
    pending = {fa: collections.deque(), fb: collections.deque()}  # packets read from fd, due to its peer
    stdin = sys.stdin.fileno()
    print("READY", flush=True)
    moved = 0
    while True:
        now = time.monotonic()
        if now >= deadline:
            break
        wake = deadline
        for src, q in pending.items():
            while q and q[0][0] <= now:
                try:
                    os.write(peer[src], q.popleft()[1])
                    moved += 1
                except OSError:
                    pass  # queue full or device gone: the packet is lost, as on a real link
            if q:
                wake = min(wake, q[0][0])
        ready, _, _ = select.select([fa, fb, stdin], [], [], max(0.0, wake - time.monotonic()))
        if stdin in ready and not os.read(stdin, 4096):
            break
        for src in ready:
            if src == stdin:
                continue
            due = time.monotonic() + delay[src]
            for _ in range(512):
                try:
                    pending[src].append((due, os.read(src, 65535)))
                except BlockingIOError:
                    break
    print("moved %d packets" % moved, file=sys.stderr)


if __name__ == "__main__":
    main()
