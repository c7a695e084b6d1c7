#!/usr/bin/env python3
"""Scripted fake RESP server: makes a "node" misbehave on demand.

Usage:
  fake_server.py --port P --script FILE [--port2 P2 --script2 FILE2]
                 [--listen PORT:FILE]... [--timeout S] [--quiet] [--log FILE]
  fake_server.py --selftest

Each port runs its own script. Port 0 picks a free port. Once every port
listens it prints "READY <port> [<port2> ...]" on stdout. Exits 0 when every
script has completed, 2 on --timeout (default 20 s) with a script unfinished,
3 if any unexpected command arrived (even if the scripts completed).

--log FILE appends one line per event, flushed at once, so a test can count
what a node received (map loads, reconnects) while the server still runs:
  <ms> <port> <conn> ACCEPT          a connection was accepted
  <ms> <port> <conn> CMD <argv...>   a command arrived (ALWAYS ones too)
  <ms> <port> <conn> CLOSED          the connection ended (either side)
<ms> is CLOCK_MONOTONIC in milliseconds (Python's time.monotonic(), the clock
of clock_gettime(CLOCK_MONOTONIC) in C), so it compares with the test's own
clock; <conn> numbers connections from 1 across all ports, in accept order.

Script lines (one step each; blank lines and "# comments" ignored):
  EXPECT <words...>   wait for the next command (the oldest pending one from any
                      connection) and check its argv, case-insensitively: "*"
                      matches one argument, a trailing "..." any rest, and
                      "EXPECT ANY" any command. The connection it came on becomes
                      the current one. A command that does not match gets
                      "-ERR fake: unexpected <cmd>" and is logged to stderr.
  SEND <resp>         write to the current connection; escapes \\r \\n \\t \\\\ \\xHH
                      (e.g. SEND -MOVED 12182 127.0.0.1:30101\\r\\n)
  SENDRAW <hex>       write raw bytes given in hex (garbage)
  CLOSE               close the current connection (e.g. after a partial SEND)
  ACCEPT              wait for a connection the script has not used yet and make
                      it current (a client reconnecting)
  SLEEP <ms>          pause
  LOOP                start the script over (never completes; ends at --timeout)
  ALWAYS <words> => <resp>   standing rule, not a step: whenever a matching
                      command arrives it is answered at once (e.g. READONLY,
                      CLUSTER SLOTS for a MOVED loop). Checked before EXPECT.
SEND/SENDRAW/CLOSE with no current connection first wait for one (like ACCEPT).
Commands may arrive pipelined; they queue and are matched one EXPECT at a time.
"""
import argparse
import itertools
import os
import selectors
import socket
import sys
import tempfile
import time


# ---------------------------------------------------------------- script parsing

def unescape(text):
    out, i = bytearray(), 0
    simple = {"r": b"\r", "n": b"\n", "t": b"\t", "\\": b"\\", "0": b"\0"}
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            e = text[i + 1]
            if e == "x":
                out += bytes([int(text[i + 2:i + 4], 16)])
                i += 4
                continue
            if e in simple:
                out += simple[e]
                i += 2
                continue
        out += c.encode()
        i += 1
    return bytes(out)


def parse_script(text):
    """Returns (steps, always): steps are (op, arg) tuples; always is a list of
    (pattern words, reply bytes)."""
    steps, always = [], []
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        op, _, rest = line.partition(" ")
        op, rest = op.upper(), rest.strip()
        if op == "ALWAYS":
            pat, sep, reply = rest.partition("=>")
            if not sep:
                raise ValueError("line %d: ALWAYS needs '<words> => <resp>'" % n)
            always.append((pat.split(), unescape(reply.strip())))
        elif op == "EXPECT":
            steps.append((op, rest.split() or ["ANY"]))
        elif op == "SEND":
            steps.append((op, unescape(raw.lstrip()[4:].lstrip(" "))))
        elif op == "SENDRAW":
            steps.append((op, bytes.fromhex(rest)))
        elif op == "SLEEP":
            steps.append((op, int(rest)))
        elif op in ("CLOSE", "ACCEPT", "LOOP"):
            steps.append((op, None))
        else:
            raise ValueError("line %d: unknown step %r" % (n, op))
    return steps, always


def matches(pattern, argv):
    if [w.upper() for w in pattern] == ["ANY"]:
        return True
    if pattern and pattern[-1] == "...":
        pattern, argv = pattern[:-1], argv[:len(pattern) - 1]
    if len(pattern) != len(argv):
        return False
    return all(p == "*" or p.upper() == a.upper() for p, a in zip(pattern, argv))


# ---------------------------------------------------------------- RESP requests

def parse_request(buf):
    """One command from buf: (argv as str list, bytes consumed) or (None, 0)
    if incomplete. Accepts RESP arrays and inline commands (for nc/telnet)."""
    if not buf:
        return None, 0
    if buf[:1] != b"*":
        end = buf.find(b"\n")
        if end < 0:
            return None, 0
        return buf[:end].decode(errors="replace").split(), end + 1
    end = buf.find(b"\r\n")
    if end < 0:
        return None, 0
    count, pos, argv = int(buf[1:end]), end + 2, []
    for _ in range(count):
        end = buf.find(b"\r\n", pos)
        if end < 0 or buf[pos:pos + 1] != b"$":
            return None, 0
        n = int(buf[pos + 1:end])
        if len(buf) < end + 2 + n + 2:
            return None, 0
        argv.append(buf[end + 2:end + 2 + n].decode(errors="replace"))
        pos = end + 2 + n + 2
    return argv, pos


# ---------------------------------------------------------------- one fake node

CONN_IDS = itertools.count(1)


def no_journal(port, conn, what):
    pass


def file_journal(path):
    """A journal (see --log) appending to path, one flushed line per event."""
    f = open(path, "a", buffering=1)

    def journal(port, conn, what):
        f.write("%.3f %d %d %s\n" % (time.monotonic() * 1000.0, port, conn, what))
        f.flush()
    return journal


class Conn:
    def __init__(self, sock):
        self.sock, self.buf, self.open = sock, b"", True
        self.id = next(CONN_IDS)


class Node:
    """One listening port running one script as a small state machine."""

    def __init__(self, port, steps, always, log, journal=no_journal):
        self.steps, self.always, self.log, self.journal = steps, always, log, journal
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", port))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.pc, self.cur, self.wake_at = 0, None, 0.0
        self.pending, self.unclaimed, self.unexpected = [], [], 0

    def done(self):
        return self.pc >= len(self.steps)

    def on_accept(self, sel):
        s, _ = self.lsock.accept()
        s.setblocking(True)
        c = Conn(s)
        self.journal(self.port, c.id, "ACCEPT")
        self.unclaimed.append(c)
        sel.register(s, selectors.EVENT_READ, (self, c))

    def on_read(self, sel, c):
        data = b""
        try:
            data = c.sock.recv(65536)
        except OSError:
            pass
        if not data:
            self.drop(sel, c)
            return
        c.buf += data
        while True:
            argv, used = parse_request(c.buf)
            if argv is None:
                break
            c.buf = c.buf[used:]
            if argv:
                self.journal(self.port, c.id, "CMD " + " ".join(argv))
            if argv and not self.answer_always(c, argv):
                self.pending.append((c, argv))

    def always_reply(self, argv):
        for pat, reply in self.always:
            if matches(pat, argv):
                return reply
        return None

    def answer_always(self, c, argv):
        """Answer a standing rule at once, unless an older command of the same
        connection still waits for the script: replies keep arrival order, as
        a real server's do, so then it queues behind it (see flush_always)."""
        reply = self.always_reply(argv)
        if reply is None:
            return False
        if any(pc is c for pc, _ in self.pending):
            self.pending.append((c, argv))
        else:
            self.write(c, reply)
        return True

    def flush_always(self):
        """Answer queued standing-rule commands that no older script command
        of their connection is ahead of any more."""
        blocked, keep = set(), []
        for c, argv in self.pending:
            reply = self.always_reply(argv)
            if reply is not None and id(c) not in blocked:
                if c.open:
                    self.write(c, reply)
                continue
            blocked.add(id(c))
            keep.append((c, argv))
        self.pending = keep

    def drop(self, sel, c):
        if c.open:
            c.open = False
            self.journal(self.port, c.id, "CLOSED")
            sel.unregister(c.sock)
            c.sock.close()

    def write(self, c, data):
        try:
            c.sock.sendall(data)
        except OSError as e:
            self.log("port %d: write failed: %s" % (self.port, e))

    def claim(self, c):
        if c in self.unclaimed:
            self.unclaimed.remove(c)
        self.cur = c

    def step(self, sel):
        """Run steps until one must wait. Returns True if any progress."""
        progressed = False
        while not self.done() and self.run_one(sel):
            progressed = True
            # Not between an EXPECT and the reply the script sends for it.
            if self.done() or self.steps[self.pc][0] not in ("SEND", "SENDRAW", "CLOSE", "SLEEP"):
                self.flush_always()
        if self.done():
            self.flush_always()
        return progressed

    def run_one(self, sel):
        op, arg = self.steps[self.pc]
        if op in ("SEND", "SENDRAW", "CLOSE") and self.cur is None:
            op = "ACCEPT_IMPLICIT"
        handler = getattr(self, "do_" + op.lower())
        return handler(sel, arg)

    def advance(self):
        self.pc += 1
        return True

    def do_accept_implicit(self, sel, arg):
        if not self.unclaimed:
            return False
        self.claim(self.unclaimed.pop(0))
        return True  # pc unchanged: now run the SEND/CLOSE itself

    def do_accept(self, sel, arg):
        if not self.unclaimed:
            return False
        self.claim(self.unclaimed.pop(0))
        return self.advance()

    def do_expect(self, sel, pattern):
        while self.pending:
            c, argv = self.pending.pop(0)
            reply = self.always_reply(argv)
            if reply is not None:   # queued behind an older command: its turn now
                if c.open:
                    self.write(c, reply)
                continue
            if matches(pattern, argv):
                self.claim(c)
                return self.advance()
            self.unexpected += 1
            self.log("port %d: unexpected %s (wanted %s)" % (self.port, argv, " ".join(pattern)))
            if c.open:
                self.write(c, b"-ERR fake: unexpected %s\r\n" % " ".join(argv).encode())
        return False

    def do_send(self, sel, data):
        if self.cur.open:
            self.write(self.cur, data)
        else:
            self.log("port %d: SEND on a closed connection" % self.port)
        return self.advance()

    do_sendraw = do_send

    def do_close(self, sel, arg):
        self.pending = [(c, a) for c, a in self.pending if c is not self.cur]
        self.drop(sel, self.cur)
        self.cur = None
        return self.advance()

    def do_sleep(self, sel, ms):
        now = time.time()
        if not self.wake_at:
            self.wake_at = now + ms / 1000.0
        if now < self.wake_at:
            return False
        self.wake_at = 0.0
        return self.advance()

    def do_loop(self, sel, arg):
        self.pc = 0
        return True

    def next_wake(self):
        return self.wake_at or None


# ---------------------------------------------------------------- main loop

def serve(nodes, timeout, ready_out=sys.stdout):
    sel = selectors.DefaultSelector()
    for n in nodes:
        sel.register(n.lsock, selectors.EVENT_READ, (n, None))
    print("READY " + " ".join(str(n.port) for n in nodes), file=ready_out, flush=True)
    deadline = time.time() + timeout
    while not all(n.done() for n in nodes):
        while any(n.step(sel) for n in nodes):
            pass
        if all(n.done() for n in nodes) or time.time() >= deadline:
            break
        wakes = [w for w in (n.next_wake() for n in nodes) if w] + [deadline]
        for key, _ in sel.select(max(0.0, min(wakes) - time.time())):
            node, conn = key.data
            if conn is None:
                node.on_accept(sel)
            else:
                node.on_read(sel, conn)
    for n in nodes:
        n.lsock.close()
    if not all(n.done() for n in nodes):
        return 2
    return 3 if any(n.unexpected for n in nodes) else 0


def log_stderr(msg):
    print("fake_server: " + msg, file=sys.stderr, flush=True)


def build_nodes(a, log, journal=no_journal):
    pairs = list(a.listen or [])
    if a.port is not None:
        pairs.insert(0, "%d:%s" % (a.port, a.script))
    if a.port2 is not None:
        pairs.insert(1, "%d:%s" % (a.port2, a.script2))
    nodes = []
    for pair in pairs:
        port, _, path = pair.partition(":")
        with open(path) as f:
            steps, always = parse_script(f.read())
        nodes.append(Node(int(port), steps, always, log, journal))
    return nodes


# ---------------------------------------------------------------- selftest

def selftest():
    import threading
    steps, always = parse_script("# c\nALWAYS READONLY => +OK\\r\\n\nEXPECT get *\n"
                                 "SEND $3\\r\\nbar\\r\\n\nEXPECT SET k ...\nSEND +OK\\r\\n\n"
                                 "SENDRAW ff00\nCLOSE\n")
    assert [s[0] for s in steps] == ["EXPECT", "SEND", "EXPECT", "SEND", "SENDRAW", "CLOSE"]
    assert steps[1][1] == b"$3\r\nbar\r\n" and steps[4][1] == b"\xff\x00"
    assert always == [(["READONLY"], b"+OK\r\n")]
    assert matches(["get", "*"], ["GET", "x"]) and not matches(["get"], ["GET", "x"])
    assert matches(["SET", "k", "..."], ["set", "K", "v", "EX", "1"]) and matches(["ANY"], ["x"])
    assert parse_request(b"*2\r\n$3\r\nGET\r\n$1\r\nx\r\n*1") == (["GET", "x"], 20)
    assert parse_request(b"*2\r\n$3\r\nGET\r\n$1\r\n") == (None, 0)
    assert parse_request(b"PING\r\n") == (["PING"], 6)
    assert unescape("a\\x41\\\\") == b"aA\\"

    events = []
    node = Node(0, steps, always, lambda m: None,
                lambda port, conn, what: events.append((port, conn, what)))
    result = {}
    t = threading.Thread(target=lambda: result.setdefault("rc", serve([node], 10, sys.stderr)))
    t.start()
    s = socket.create_connection(("127.0.0.1", node.port), timeout=5)
    # Pipelined: READONLY (standing rule), an unexpected PING, then the script.
    s.sendall(b"*1\r\n$8\r\nREADONLY\r\n*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\nx\r\n"
              b"*4\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n$2\r\nPX\r\n")
    got = b""
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        got += chunk
    t.join()
    want = b"+OK\r\n-ERR fake: unexpected PING\r\n$3\r\nbar\r\n+OK\r\n\xff\x00"
    assert got == want, got
    assert result["rc"] == 3, result  # completed, but PING was unexpected
    whats = [w for _, _, w in events]
    assert whats == ["ACCEPT", "CMD READONLY", "CMD PING", "CMD GET x", "CMD SET k v PX",
                     "CLOSED"], whats
    assert len({(p, c) for p, c, _ in events}) == 1 and events[0][0] == node.port, events
    fd, path = tempfile.mkstemp()
    os.close(fd)
    try:
        file_journal(path)(7, 3, "CMD GET x")
        with open(path) as f:
            ms, port, conn, what = f.read().split(" ", 3)
        assert float(ms) > 0 and (port, conn, what) == ("7", "3", "CMD GET x\n"), what
    finally:
        os.unlink(path)
    print("fake_server selftest: ok")
    return 0


def main(argv):
    ap = argparse.ArgumentParser(description="scripted fake RESP server")
    ap.add_argument("--port", type=int)
    ap.add_argument("--script")
    ap.add_argument("--port2", type=int)
    ap.add_argument("--script2")
    ap.add_argument("--listen", action="append", metavar="PORT:FILE")
    ap.add_argument("--timeout", type=float, default=20)
    ap.add_argument("--quiet", action="store_true", help="do not log unexpected commands")
    ap.add_argument("--log", metavar="FILE", help="journal of accepts, commands, closes")
    ap.add_argument("--selftest", action="store_true")
    a = ap.parse_args(argv)
    if a.selftest:
        return selftest()
    if (a.port is None) != (a.script is None) or (a.port2 is None) != (a.script2 is None):
        ap.error("--port/--script and --port2/--script2 go in pairs")
    journal = file_journal(a.log) if a.log else no_journal
    nodes = build_nodes(a, (lambda m: None) if a.quiet else log_stderr, journal)
    if not nodes:
        ap.error("nothing to serve: give --port and --script")
    return serve(nodes, a.timeout)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
