#!/usr/bin/env python3
"""Redis Cluster test harness: start, poke and tear down local redis-server clusters.

Commands (all take --dir DIR, the harness's private directory):
  start   --dir D --base PORT --primaries N --replicas R [--password P]
          [--owner-pid PID] [--max-life S] [--node-timeout MS] [--extra "conf line"]...
          [--tls [--tls-auth-clients] [--tls-cert server|wrongname|expired]]
  stop    --dir D [--keep]
  kill    --dir D --port P [--signal KILL|TERM|STOP|CONT]
  restart --dir D --port P
  wait-ok --dir D [--timeout S]
  info    --dir D
  cmd     --dir D --port P [--resp-in F] [--out F] [-- ARG...]   one command; the
          reply's raw RESP bytes go to stdout (or F). Works over TLS too.

`start` prints one JSON line {"dir","password","nodes":[{"port","pid","role","id",
"master_port"}]} and leaves the servers running. A detached watchdog kills them
(and removes D) when --owner-pid exits or --max-life elapses, so servers never
outlive the test that started them even if it crashes. python3 stdlib only.

Ports: nodes listen on base..base+k-1. Cluster bus ports are port+10000, except
that with Redis 7 a bus port inside the kernel's ephemeral range (30000+10000
is) moves to port-10000, so stray outgoing connections cannot squat on it.
`start` refuses if any of these ports is already listening.

TLS (--tls): examples/lab/tls-certs.sh makes certificates in D/tls ("tls_dir" in
the JSON); nodes get `port 0`, `tls-port P` (same P), tls-cluster, tls-replication,
D/tls/NAME.crt (--tls-cert) and tls-auth-clients no (yes: --tls-auth-clients). The
harness's own traffic verifies nothing and presents client.crt. An expired
certificate suits one node alone (nodes check each other's chains, not names).
"""
import argparse
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time

HOST = "127.0.0.1"
SLOTS = 16384


# ---------------------------------------------------------------- tiny RESP client

class RespError(Exception):
    pass


def _read_reply(f):
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, body = line[:1], line[1:-2]
    if kind == b"+":
        return body.decode()
    if kind == b"-":
        return RespError(body.decode())
    if kind == b":":
        return int(body)
    if kind == b"$":
        n = int(body)
        return None if n < 0 else f.read(n + 2)[:-2].decode(errors="replace")
    if kind == b"*":
        n = int(body)
        return None if n < 0 else [_read_reply(f) for _ in range(n)]
    raise ConnectionError("bad reply %r" % line)


def _encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


def _read_raw(f):
    """One reply's RESP bytes, as they came."""
    line = f.readline()
    if not line.endswith(b"\r\n"):
        raise ConnectionError("connection closed")
    kind, n = line[:1], int(line[1:-2]) if line[:1] in (b"$", b"*") else -1
    if n >= 0:
        return line + (f.read(n + 2) if kind == b"$" else b"".join(_read_raw(f) for _ in range(n)))
    return line


# TLS for the harness's own connections: st["tls"] (or None) and its context.
TLS = {"conf": None, "ctx": None}


def set_tls(conf):
    TLS.update(conf=conf, ctx=None)


def connect(port, timeout):
    """A socket to port; over TLS trusting anything (the harness is not what
    is tested) and presenting client.crt (for mutual TLS)."""
    s = socket.create_connection((HOST, port), timeout=timeout)
    if not TLS["conf"]:
        return s
    try:
        if TLS["ctx"] is None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
            t = lambda name: os.path.join(TLS["conf"]["dir"], name)
            ctx.load_cert_chain(t("client.crt"), t("client.key"))
            TLS["ctx"] = ctx
        return TLS["ctx"].wrap_socket(s, server_hostname="localhost")
    except BaseException:
        s.close()
        raise


def cmd(port, *args, password=None, timeout=2.0, raw=None):
    """One command on a fresh connection; raises OSError/RespError on failure.
    raw: send these RESP bytes instead of args, return the reply's bytes."""
    with connect(port, timeout) as s:
        f = s.makefile("rb")
        if password:
            s.sendall(_encode(["AUTH", password]))
            r = _read_reply(f)
            if isinstance(r, RespError):
                raise r
        if raw is not None:
            s.sendall(raw)
            return _read_raw(f)
        s.sendall(_encode(args))
        r = _read_reply(f)
        if isinstance(r, RespError):
            raise r
        return r


def info_fields(port, section, password):
    text = cmd(port, "INFO", section, password=password)
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


def cluster_info(port, password):
    text = cmd(port, "CLUSTER", "INFO", password=password)
    return dict(l.split(":", 1) for l in text.splitlines() if ":" in l)


# ---------------------------------------------------------------- state and processes

def state_path(d):
    return os.path.join(d, "state.json")


def load_state(d):
    with open(state_path(d)) as f:
        st = json.load(f)
    set_tls(st.get("tls"))
    return st


def save_state(d, st):
    # Atomic replace: the watchdog reads this file concurrently.
    tmp = state_path(d) + ".tmp"
    with open(tmp, "w") as f:
        json.dump(st, f, indent=1)
    os.replace(tmp, state_path(d))


def proc_alive(pid):
    """True unless the pid is gone or a zombie (PID 1 here may not reap orphans)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def proc_start_time(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


# The server and cli binaries: Redis by default; CLUSTERC_TEST_SERVER=valkey-server
# (and CLUSTERC_TEST_CLI=valkey-cli) runs the same tests against Valkey.
SERVER = os.environ.get("CLUSTERC_TEST_SERVER", "redis-server")
CLI = os.environ.get("CLUSTERC_TEST_CLI", "valkey-cli" if "valkey" in SERVER else "redis-cli")


def is_our_server(pid, node_dir):
    """Only signal pids that are redis-server processes running in our node dir:
    a recorded pid may have been reused by anything since."""
    if not pid or not proc_alive(pid):
        return False
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmdline = f.read().decode(errors="replace")
        cwd = os.readlink("/proc/%d/cwd" % pid)
    except OSError:
        return False
    return ("redis-server" in cmdline or "valkey-server" in cmdline) and \
        os.path.realpath(cwd) == os.path.realpath(node_dir)


def is_our_watchdog(pid, d):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            argv = f.read().split(b"\0")
    except OSError:
        return False
    return b"_watchdog" in argv and os.path.abspath(d).encode() in argv


def wait_dead(pids, timeout):
    end = time.time() + timeout
    while time.time() < end and any(proc_alive(p) for p in pids):
        time.sleep(0.05)
    return not any(proc_alive(p) for p in pids)


def terminate(pids):
    """SIGTERM (plus SIGCONT so stopped servers can act on it), SIGKILL after 3 s."""
    for sig in (signal.SIGTERM, signal.SIGCONT):
        for p in pids:
            try:
                os.kill(p, sig)
            except OSError:
                pass
    if wait_dead(pids, 3.0):
        return
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    wait_dead(pids, 3.0)


def our_pids(d, st):
    return [n["pid"] for n in st["nodes"] if is_our_server(n["pid"], node_dir(d, n["port"]))]


def node_dir(d, port):
    return os.path.join(d, str(port))


def log_tail(d, port, lines=12):
    out = []
    for name in ("redis.log", "stdout.log"):
        try:
            with open(os.path.join(node_dir(d, port), name), errors="replace") as f:
                out += ["  [%d %s] %s" % (port, name, l.rstrip()) for l in f.readlines()[-lines:]]
        except OSError:
            pass
    return "\n".join(out)


# ---------------------------------------------------------------- start

def redis_major():
    out = subprocess.run([SERVER, "--version"], capture_output=True, text=True).stdout
    try:
        return int(out.split("v=", 1)[1].split(".", 1)[0])
    except (IndexError, ValueError):
        return 0


def listening_ports():
    """Ports with a socket in LISTEN state on any address (/proc/net/tcp*)."""
    ports = set()
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(path) as f:
                rows = [l.split() for l in f.readlines()[1:]]
        except OSError:
            continue
        ports.update(int(r[1].rsplit(":", 1)[1], 16) for r in rows if r[3] == "0A")
    return ports


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = f.read().split()
            return int(lo), int(hi)
    except (OSError, ValueError):
        return 32768, 60999


def bus_port(port, major):
    """port+10000 as Redis does by default, unless that lands among the
    ephemeral ports (30000+10000 does on Linux): then any outgoing connection,
    including the cluster bus's own, may hold it and a later cluster fails to
    bind. Redis 7 can put the bus elsewhere (cluster-port): use port-10000."""
    lo, hi = ephemeral_range()
    if lo <= port + 10000 <= hi and major >= 7 and 1024 <= port - 10000 < lo:
        return port - 10000
    return port + 10000


def check_ports(base, count, major):
    ports = list(range(base, base + count))
    if base < 1024 or base + count - 1 > 65535:
        raise SystemExit("harness: port range %d..%d is invalid" % (base, base + count - 1))
    wanted = ports + [bus_port(p, major) for p in ports]
    busy = sorted(set(wanted) & listening_ports())
    if busy:
        raise SystemExit("harness: ports already listening: %s" % busy)


def write_conf(d, port, a, major):
    nd = node_dir(d, port)
    os.makedirs(nd, exist_ok=True)
    lines = [
        "port %d" % port, "bind 127.0.0.1", "protected-mode no", "daemonize no",
        "dir %s" % nd, "logfile %s" % os.path.join(nd, "redis.log"),
        "cluster-enabled yes", "cluster-config-file nodes.conf",
        "cluster-port %d" % bus_port(port, major) if major >= 7 else "",
        "cluster-node-timeout %d" % a.node_timeout, "appendonly no", 'save ""',
        # Empty datasets: no reason to wait 5 s for more replicas to join a sync.
        "repl-diskless-sync-delay 0",
        # Tests kill primaries on purpose; let any replica take over.
        "cluster-replica-validity-factor 0",
        # A replica's offset stays 0 (CLUSTER SHARDS: "loading") until its
        # primary sends something; the periodic PING does, every 10 s by default.
        "repl-ping-replica-period 1",
    ]
    if major >= 7:
        lines.append("enable-debug-command yes")  # Redis 7 refuses DEBUG SLEEP otherwise
    if a.password:
        lines += ["requirepass %s" % a.password, "masterauth %s" % a.password]
    if a.tls:
        lines = tls_conf(lines, port, a)
    lines += a.extra or []
    with open(os.path.join(nd, "redis.conf"), "w") as f:
        f.write("\n".join(lines) + "\n")


CERTS_SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                            "..", "..", "examples", "lab", "tls-certs.sh")


def tls_conf(lines, port, a):
    """The plain config with `port P` turned into `port 0` + `tls-port P`."""
    t = lambda name: os.path.join(a.tls_dir, name)
    return ["port 0" if l == "port %d" % port else l for l in lines] + [
        "tls-port %d" % port, "tls-cluster yes", "tls-replication yes", "tls-ca-cert-file " + t("ca.crt"),
        "tls-cert-file %s" % t(a.tls_cert + ".crt"), "tls-key-file %s" % t(a.tls_cert + ".key"),
        # The bus always asks for a client certificate; wrongname's is for servers.
        "tls-client-cert-file %s" % t("server.crt"), "tls-client-key-file %s" % t("server.key"),
        "tls-auth-clients %s" % ("yes" if a.tls_auth_clients else "no")]


def make_certs(tls_dir):
    r = subprocess.run(["bash", CERTS_SCRIPT, tls_dir], stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, timeout=120)
    if r.returncode != 0:
        raise RuntimeError("tls-certs.sh failed:\n%s%s" % (r.stdout, r.stderr))


def spawn_server(d, port):
    nd = node_dir(d, port)
    with open(os.path.join(nd, "stdout.log"), "ab") as out:
        p = subprocess.Popen([SERVER, os.path.join(nd, "redis.conf")], cwd=nd,
                             stdin=subprocess.DEVNULL, stdout=out, stderr=out,
                             start_new_session=True, close_fds=True)
    return p.pid


def wait_ping(port, pid, password, timeout=10.0):
    end = time.time() + timeout
    while time.time() < end:
        check_owner()
        if not proc_alive(pid):
            raise RuntimeError("redis-server on port %d exited" % port)
        try:
            if cmd(port, "PING", password=password, timeout=0.5) == "PONG":
                return
        except (OSError, RespError, ConnectionError):
            pass
        time.sleep(0.05)
    raise RuntimeError("redis-server on port %d did not answer PING" % port)


def spawn_watchdog(a, d, owner):
    argv = [sys.executable, os.path.abspath(__file__), "_watchdog", "--dir", d,
            "--owner-pid", str(owner), "--owner-start", str(proc_start_time(owner) or 0),
            "--max-life", str(a.max_life)]
    # New session, no inherited stdio: the caller's pipe must see EOF when we exit.
    p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)
    return p.pid


# The process whose exit ends this cluster; `start` gives up as soon as it is
# gone (the watchdog has killed the servers; redis-cli would wait forever).
OWNER = {"pid": 0, "start": None}


def check_owner():
    if owner_gone(OWNER["pid"], OWNER["start"]):
        raise RuntimeError("owner process %d exited" % OWNER["pid"])


def redis_cli(st, *args, timeout=60):
    argv = [CLI]
    if st.get("password"):
        argv += ["-a", st["password"], "--no-auth-warning"]
    if st.get("tls"):
        t = lambda name: os.path.join(st["tls"]["dir"], name)
        argv += ["--tls", "--insecure", "--cacert", t("ca.crt"), "--cert", t("client.crt"),
                 "--key", t("client.key")]
    p = subprocess.Popen(argv + list(args), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, text=True)
    end = time.time() + timeout
    try:
        while True:
            try:
                out = p.communicate(timeout=0.2)[0]
                return subprocess.CompletedProcess(p.args, p.returncode, out, "")
            except subprocess.TimeoutExpired:
                if time.time() > end:
                    raise RuntimeError("%s timed out after %ss" % (" ".join(args[:2]), timeout))
                check_owner()
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def create_with_cli(st, replicas):
    addrs = ["%s:%d" % (HOST, n["port"]) for n in st["nodes"]]
    r = redis_cli(st, "--cluster", "create", *addrs, "--cluster-replicas", str(replicas),
                  "--cluster-yes")
    if r.returncode != 0:
        raise RuntimeError("redis-cli --cluster create failed:\n%s%s" % (r.stdout, r.stderr))


def create_by_hand(st, primaries):
    """For N < 3 primaries (redis-cli refuses): ADDSLOTSRANGE, MEET, REPLICATE."""
    pw, ports = st.get("password"), [n["port"] for n in st["nodes"]]
    for i in range(primaries):
        # Distinct epochs as redis-cli sets them, so later failovers win cleanly.
        cmd(ports[i], "CLUSTER", "SET-CONFIG-EPOCH", i + 1, password=pw)
        lo, hi = i * SLOTS // primaries, (i + 1) * SLOTS // primaries - 1
        try:
            cmd(ports[i], "CLUSTER", "ADDSLOTSRANGE", lo, hi, password=pw)
        except RespError:  # before Redis 7
            cmd(ports[i], "CLUSTER", "ADDSLOTS", *range(lo, hi + 1), password=pw)
    for p in ports[1:]:
        cmd(ports[0], "CLUSTER", "MEET", HOST, p, password=pw)
    poll(lambda: all(int(cluster_info(p, pw)["cluster_known_nodes"]) == len(ports)
                     for p in ports), 30, "nodes to meet")
    ids = [cmd(p, "CLUSTER", "MYID", password=pw) for p in ports[:primaries]]
    for k, p in enumerate(ports[primaries:]):
        # The replica must know its master's id first; it does once MEET spread.
        cmd(p, "CLUSTER", "REPLICATE", ids[k % primaries], password=pw)


def poll(fn, timeout, what):
    end, last = time.time() + timeout, None
    while time.time() < end:
        check_owner()
        try:
            if fn():
                return
        except (OSError, RespError, ConnectionError, KeyError, ValueError) as e:
            last = e
        time.sleep(0.1)
    raise RuntimeError("timed out after %ss waiting for %s%s" %
                       (timeout, what, " (last error: %s)" % last if last else ""))


# ---------------------------------------------------------------- readiness

def live_nodes(d, st):
    return [n for n in st["nodes"] if is_our_server(n["pid"], node_dir(d, n["port"]))]


def node_ok(port, total, pw):
    ci = cluster_info(port, pw)
    if ci.get("cluster_state") != "ok" or int(ci.get("cluster_known_nodes", 0)) != total:
        return False
    rep = info_fields(port, "replication", pw)
    return rep.get("role") == "master" or rep.get("master_link_status") == "up"


def views_agree(live, pw):
    """Every live node sees every other live node in the role that node gives
    itself, with no handshake/fail? flags, and calls every replica "online" in
    CLUSTER SHARDS. Right after `--cluster create` a node may still list
    replicas as slotless primaries, or as "loading" (offset 0 not yet
    gossiped): clients that load their map then would route nothing to them."""
    own = {}
    views = {}
    for n in live:
        lines = [l.split() for l in cmd(n["port"], "CLUSTER", "NODES", password=pw).splitlines()]
        views[n["port"]] = lines
        for f in lines:
            if len(f) >= 3 and "myself" in f[2]:
                own[f[0]] = "slave" if "slave" in f[2] else "master"
    for port, lines in views.items():
        for f in lines:
            if len(f) < 3 or f[0] not in own:
                continue
            role = "slave" if "slave" in f[2] else "master"
            if role != own[f[0]] or "handshake" in f[2] or "fail" in f[2]:
                return False
        shards = cmd(port, "CLUSTER", "SHARDS", password=pw)
        if "loading" in str(shards):
            return False
    return True


def cluster_ok(d, st):
    live, pw = live_nodes(d, st), st.get("password")
    if not live or not all(node_ok(n["port"], len(st["nodes"]), pw) for n in live):
        return False
    if not views_agree(live, pw):
        return False
    if len(live) < len(st["nodes"]):
        return True  # --cluster check complains about failed nodes; the rest is ok
    r = redis_cli(st, "--cluster", "check", "%s:%d" % (HOST, live[0]["port"]), timeout=20)
    return r.returncode == 0 and "[ERR]" not in r.stdout


def refresh_roles(d, st):
    """Fill role/id/master_port from each live node's own CLUSTER NODES line."""
    pw, by_id, masters = st.get("password"), {}, {}
    for n in live_nodes(d, st):
        for line in cmd(n["port"], "CLUSTER", "NODES", password=pw).splitlines():
            f = line.split()
            if len(f) >= 4 and "myself" in f[2]:
                n["id"], n["role"] = f[0], "slave" if "slave" in f[2] else "master"
                masters[n["port"]] = f[3]
                by_id[f[0]] = n["port"]
    for n in st["nodes"]:
        n["master_port"] = by_id.get(masters.get(n["port"]), None)
    return st


def wait_ok(d, st, timeout):
    poll(lambda: cluster_ok(d, st), timeout, "cluster_state:ok on every live node")
    return refresh_roles(d, st)


def public_state(st):
    tls = {"tls_dir": st["tls"]["dir"]} if st.get("tls") else {}
    return {"dir": st["dir"], "password": st.get("password"), **tls,
            "nodes": [{k: n.get(k) for k in ("port", "pid", "role", "id", "master_port")}
                      for n in st["nodes"]]}


# ---------------------------------------------------------------- commands

def prepare_dir(d):
    if os.path.exists(state_path(d)):
        st = load_state(d)
        if our_pids(d, st):
            raise SystemExit("harness: %s already has running servers; stop it first" % d)
    if os.path.isdir(d):
        shutil.rmtree(d)
    os.makedirs(d)


def start_failed(d, st, err):
    sys.stderr.write("harness start failed: %s\n" % err)
    quiet = owner_gone(OWNER["pid"], OWNER["start"])  # nobody is left to read logs
    for n in ([] if quiet else st["nodes"]):
        sys.stderr.write(log_tail(d, n["port"]) + "\n")
    stop_everything(d, st)
    shutil.rmtree(d, ignore_errors=True)
    return 1


def cmd_start(a):
    d = os.path.abspath(a.dir)
    total = a.primaries * (1 + a.replicas)
    if a.primaries < 1 or a.replicas < 0:
        raise SystemExit("harness: need --primaries >= 1 and --replicas >= 0")
    if not a.tls and (a.tls_auth_clients or a.tls_cert != "server"):
        raise SystemExit("harness: --tls-auth-clients and --tls-cert need --tls")
    major = redis_major()
    check_ports(a.base, total, major)
    prepare_dir(d)
    st = {"dir": d, "base": a.base, "password": a.password, "nodes": [], "watchdog": None}
    if a.tls:
        a.tls_dir = os.path.join(d, "tls")
        st["tls"] = {"dir": a.tls_dir, "auth_clients": a.tls_auth_clients, "cert": a.tls_cert}
        set_tls(st["tls"])
    owner = a.owner_pid if a.owner_pid is not None else os.getppid()
    OWNER.update(pid=owner, start=proc_start_time(owner) if owner > 0 else None)
    try:
        if a.tls:
            make_certs(a.tls_dir)
        for port in range(a.base, a.base + total):
            write_conf(d, port, a, major)
            st["nodes"].append({"port": port, "pid": spawn_server(d, port), "role": None, "id": None})
            save_state(d, st)
        # Watchdog first, so even a crash of this script cannot leak servers.
        if owner > 0 or a.max_life > 0:
            st["watchdog"] = spawn_watchdog(a, d, owner)
            save_state(d, st)
        for n in st["nodes"]:
            wait_ping(n["port"], n["pid"], a.password)
        if a.primaries >= 3:
            create_with_cli(st, a.replicas)
        else:
            create_by_hand(st, a.primaries)
        wait_ok(d, st, a.timeout)
        save_state(d, st)
    except (RuntimeError, OSError, RespError, ConnectionError, subprocess.TimeoutExpired) as e:
        return start_failed(d, st, e)
    print(json.dumps(public_state(st)), flush=True)
    return 0


def stop_everything(d, st):
    wd = st.get("watchdog")
    if wd and wd != os.getpid() and is_our_watchdog(wd, d):
        try:
            os.kill(wd, signal.SIGKILL)
        except OSError:
            pass
    terminate(our_pids(d, st))


def cmd_stop(a):
    d = os.path.abspath(a.dir)
    if not os.path.exists(state_path(d)):
        print("harness: nothing to stop in %s" % d, file=sys.stderr)
        return 0
    st = load_state(d)
    stop_everything(d, st)
    left = our_pids(d, st)
    if not a.keep:
        shutil.rmtree(d, ignore_errors=True)
    if left:
        print("harness: servers still alive: %s" % left, file=sys.stderr)
        return 1
    return 0


def find_node(st, port):
    for n in st["nodes"]:
        if n["port"] == port:
            return n
    raise SystemExit("harness: no node on port %d" % port)


def cmd_kill(a):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    n = find_node(st, a.port)
    if not is_our_server(n["pid"], node_dir(d, a.port)):
        print("harness: node %d is not running" % a.port, file=sys.stderr)
        return 1
    os.kill(n["pid"], getattr(signal, "SIG" + a.signal))
    if a.signal in ("KILL", "TERM") and not wait_dead([n["pid"]], 5.0):
        print("harness: node %d survived SIG%s" % (a.port, a.signal), file=sys.stderr)
        return 1
    return 0


def cmd_restart(a):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    n = find_node(st, a.port)
    if is_our_server(n["pid"], node_dir(d, a.port)):
        print("harness: node %d is still running (kill it first)" % a.port, file=sys.stderr)
        return 1
    n["pid"] = spawn_server(d, a.port)
    save_state(d, st)
    try:
        wait_ping(a.port, n["pid"], st.get("password"), timeout=a.timeout)
    except RuntimeError as e:
        print("harness restart failed: %s\n%s" % (e, log_tail(d, a.port)), file=sys.stderr)
        return 1
    print(json.dumps(public_state(st)), flush=True)
    return 0


def cmd_wait_ok(a):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    try:
        wait_ok(d, st, a.timeout)
    except (RuntimeError, OSError, RespError, ConnectionError) as e:
        print("harness wait-ok failed: %s" % e, file=sys.stderr)
        return 1
    save_state(d, st)
    print(json.dumps(public_state(st)), flush=True)
    return 0


def cmd_info(a):
    d = os.path.abspath(a.dir)
    st = load_state(d)
    for n in st["nodes"]:
        if not is_our_server(n["pid"], node_dir(d, n["port"])):
            n["role"] = "down"
    print(json.dumps(public_state(st)), flush=True)
    return 0


def cmd_cmd(a):
    """ARGS (or --resp-in's RESP) after AUTH; the reply's bytes to --out or stdout."""
    st = load_state(os.path.abspath(a.dir))
    try:
        req = _encode(a.args) if not a.resp_in else open(a.resp_in, "rb").read()
        out = cmd(a.port, password=st.get("password"), timeout=a.timeout, raw=req)
    except (OSError, RespError, ConnectionError, ValueError) as e:
        print("harness cmd on %d failed: %s" % (a.port, e), file=sys.stderr)
        return 1
    with open(a.out, "wb") if a.out else os.fdopen(os.dup(1), "wb") as f:
        f.write(out)
    return 0


def owner_gone(pid, start):
    if pid <= 0:
        return False
    return not proc_alive(pid) or (start and proc_start_time(pid) != start)


def cmd_watchdog(a):
    """Runs detached. Ends the cluster when its owner dies or it lives too long;
    exits quietly if `stop` already removed the state file."""
    d = os.path.abspath(a.dir)
    deadline = time.time() + a.max_life if a.max_life > 0 else float("inf")
    while os.path.exists(state_path(d)):
        if owner_gone(a.owner_pid, a.owner_start) or time.time() > deadline:
            try:
                st = load_state(d)
            except (OSError, ValueError):
                return 0
            terminate(our_pids(d, st))
            shutil.rmtree(d, ignore_errors=True)
            return 0
        time.sleep(0.5)
    return 0


def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("start")
    s.add_argument("--base", type=int, required=True)
    s.add_argument("--primaries", type=int, default=3)
    s.add_argument("--replicas", type=int, default=0)
    s.add_argument("--password")
    s.add_argument("--owner-pid", type=int, help="default: the parent process; 0 = none")
    s.add_argument("--max-life", type=float, default=1800)
    s.add_argument("--node-timeout", type=int, default=2000)
    s.add_argument("--timeout", type=float, default=30, help="bound on the readiness wait")
    s.add_argument("--extra", action="append", help="extra redis.conf line (repeatable)")
    s.add_argument("--tls", action="store_true", help="TLS only (port 0, tls-port P)")
    s.add_argument("--tls-auth-clients", action="store_true", help="with --tls: mutual TLS")
    s.add_argument("--tls-cert", default="server", choices=["server", "wrongname", "expired"])
    p = sub.add_parser("stop")
    p.add_argument("--keep", action="store_true", help="keep DIR (logs) after stopping")
    k = sub.add_parser("kill")
    k.add_argument("--port", type=int, required=True)
    k.add_argument("--signal", default="KILL", choices=["KILL", "TERM", "STOP", "CONT"])
    r = sub.add_parser("restart")
    r.add_argument("--port", type=int, required=True)
    r.add_argument("--timeout", type=float, default=10)
    w = sub.add_parser("wait-ok")
    w.add_argument("--timeout", type=float, default=30)
    sub.add_parser("info")
    c = sub.add_parser("cmd")
    c.add_argument("--port", type=int, required=True)
    c.add_argument("--resp-in", help="file holding the command as RESP (instead of ARGS)")
    c.add_argument("--out", help="write the reply here instead of stdout")
    c.add_argument("--timeout", type=float, default=2.0)
    c.add_argument("args", nargs="*")
    wd = sub.add_parser("_watchdog")
    wd.add_argument("--owner-pid", type=int, default=0)
    wd.add_argument("--owner-start", type=int, default=0)
    wd.add_argument("--max-life", type=float, default=1800)
    for p in sub.choices.values():
        p.add_argument("--dir", required=True)
    return ap.parse_args(argv)


COMMANDS = {"start": cmd_start, "stop": cmd_stop, "kill": cmd_kill, "restart": cmd_restart,
            "wait-ok": cmd_wait_ok, "info": cmd_info, "cmd": cmd_cmd, "_watchdog": cmd_watchdog}


def main(argv):
    a = parse_args(argv)
    return COMMANDS[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
