#!/usr/bin/env python3
"""A tiny DNS server on loopback, for tests that must see a lookup fail (or
hang) without sending a packet off this machine.

Usage:
  dns_responder.py --port P --mode nxdomain|silent [--log FILE] [--timeout S]
  dns_responder.py --selftest

Listens on UDP 127.0.0.1:P (0 picks a free port) and prints "READY <port>"
on stdout. Every query is answered NXDOMAIN (mode nxdomain: the name does
not exist) or never answered (mode silent: a lookup stays in flight until
the resolver gives up). --log FILE appends "<ms> QUERY <name> <type>" per
query, flushed at once (<ms> on CLOCK_MONOTONIC, as fake_server.py's log).
Exits after --timeout seconds (default 60) so it never outlives a test.

Tests point a resolver at it by bind-mounting, in a private mount namespace,
a resolv.conf with "nameserver 127.0.0.1:P" (libevent's evdns takes a port
there; glibc does not, and falls back to 127.0.0.1:53, still loopback).
"""
import argparse
import socket
import struct
import sys
import time

NXDOMAIN = 3


def parse_query(pkt):
    """(id, flags, qname, qtype, end of the question) of a query, or None."""
    if len(pkt) < 12:
        return None
    qid, flags, qdcount = struct.unpack("!HHH", pkt[:6])
    if qdcount < 1:
        return None
    labels, pos = [], 12
    while pos < len(pkt) and pkt[pos] != 0:
        n = pkt[pos]
        labels.append(pkt[pos + 1:pos + 1 + n].decode(errors="replace"))
        pos += 1 + n
    if pos + 5 > len(pkt):
        return None
    qtype = struct.unpack("!H", pkt[pos + 1:pos + 3])[0]
    return qid, flags, ".".join(labels), qtype, pos + 5


def nxdomain(pkt, q):
    """The NXDOMAIN answer to query pkt: its id and question, no records."""
    qid, flags, _, _, end = q
    rd = flags & 0x0100
    out_flags = 0x8000 | (flags & 0x7800) | rd | 0x0080 | NXDOMAIN   # QR, opcode, RD, RA
    return struct.pack("!HHHHHH", qid, out_flags, 1, 0, 0, 0) + pkt[12:end]


def serve(sock, mode, journal, timeout):
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return 0
        sock.settimeout(left)
        try:
            pkt, peer = sock.recvfrom(4096)
        except socket.timeout:
            return 0
        q = parse_query(pkt)
        if q is None:
            continue
        journal("QUERY %s %d" % (q[2], q[3]))
        if mode == "nxdomain":
            sock.sendto(nxdomain(pkt, q), peer)


def file_journal(path):
    if not path:
        return lambda what: None
    f = open(path, "a", buffering=1)

    def journal(what):
        f.write("%.3f %s\n" % (time.monotonic() * 1000.0, what))
        f.flush()
    return journal


def query(name, qid=0x1234, qtype=1):
    q = b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0"
    return struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + q + struct.pack("!HH", qtype, 1)


def selftest():
    import threading
    pkt = query("nosuch.invalid", 0xbeef, 28)
    q = parse_query(pkt)
    assert q[0] == 0xbeef and q[2] == "nosuch.invalid" and q[3] == 28, q
    ans = nxdomain(pkt, q)
    assert ans[:2] == b"\xbe\xef" and ans[3] & 0x0f == NXDOMAIN and ans[2] & 0x80, ans
    assert ans[12:] == pkt[12:], ans
    seen = []
    for mode, want_answer in (("nxdomain", True), ("silent", False)):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        t = threading.Thread(target=serve, args=(s, mode, seen.append, 1.0))
        t.start()
        c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        c.settimeout(0.5)
        c.sendto(pkt, s.getsockname())
        try:
            got = c.recv(4096)
        except socket.timeout:
            got = None
        t.join()
        s.close()
        c.close()
        assert (got == ans) if want_answer else got is None, (mode, got)
    assert seen == ["QUERY nosuch.invalid 28"] * 2, seen
    print("dns_responder selftest: ok")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description="loopback DNS: NXDOMAIN or silence")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--mode", choices=["nxdomain", "silent"], default="nxdomain")
    ap.add_argument("--log", metavar="FILE")
    ap.add_argument("--timeout", type=float, default=60)
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args(argv)
    if a.selftest:
        return selftest()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", a.port))
    print("READY %d" % s.getsockname()[1], flush=True)
    return serve(s, a.mode, file_journal(a.log), a.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
