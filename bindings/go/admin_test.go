package clusterc

// The admin API against the TestMain cluster. The views are read-only; the
// operations run on a node of the test's own (extraPort(0)) and leave the
// cluster as they found it: the node joins as a replica, takes over its
// primary and gives it back, two slots move from one primary to another
// and back, and the node is removed and stopped.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

const unknownID = "0123456789abcdef0123456789abcdef01234567"

func addrOf(port int) string { return fmt.Sprintf("127.0.0.1:%d", port) }

// adminNodes is Nodes(""), failing the test on error.
func adminNodes(t *testing.T, a *Admin) []ClusterNode {
	t.Helper()
	nodes, err := a.Nodes("")
	if err != nil {
		t.Fatalf("Nodes: %v", err)
	}
	return nodes
}

func nodeByPort(nodes []ClusterNode, port int) *ClusterNode {
	for i := range nodes {
		if nodes[i].Port == port {
			return &nodes[i]
		}
	}
	return nil
}

// harnessPair is a primary of the harness and its replica, by the
// servers' own view now.
func harnessPair(t *testing.T) (primary, replica harnessNode) {
	t.Helper()
	for _, r := range cluster.nodes {
		if role(t, r.Port) != "slave" {
			continue
		}
		for _, p := range cluster.nodes {
			if p.Port != r.Port && role(t, p.Port) == "master" &&
				strings.Contains(redisCLI(t, r.Port, "INFO", "replication"),
					fmt.Sprintf("master_port:%d", p.Port)) {
				return p, r
			}
		}
	}
	t.Fatalf("no primary/replica pair among %+v", cluster.nodes)
	return
}

func waitFor(t *testing.T, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func checkUntilOK(t *testing.T, a *Admin, limit time.Duration) *CheckResult {
	t.Helper()
	var last *CheckResult
	var lastErr error
	deadline := time.Now().Add(limit)
	for {
		last, lastErr = a.Check()
		if lastErr == nil && last.OK {
			return last
		}
		if time.Now().After(deadline) {
			if lastErr != nil {
				t.Fatalf("Check: %v", lastErr)
			}
			t.Fatalf("Check not ok after %v:\n%s", limit, last.Report)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

func wantClientError(t *testing.T, what string, err error, code *ClientError, words ...string) {
	t.Helper()
	var ce *ClientError
	if !errors.As(err, &ce) {
		t.Errorf("%s: err = %v (%T), want a *ClientError", what, err, err)
		return
	}
	if code != nil && !errors.Is(err, code) {
		t.Errorf("%s: code %d (%v), want %d", what, ce.Code, err, code.Code)
	}
	for _, w := range words {
		if !strings.Contains(ce.Msg, w) {
			t.Errorf("%s: message %q lacks %q", what, ce.Msg, w)
		}
	}
}

func clusterPorts() []int {
	ports := make([]int, len(cluster.nodes))
	for i, n := range cluster.nodes {
		ports[i] = n.Port
	}
	return ports
}

// seenAsReplica reports whether every node in ports lists the node on port
// as a replica of primaryID.
func seenAsReplica(a *Admin, ports []int, port int, primaryID string) bool {
	for _, q := range ports {
		nodes, err := a.Nodes(addrOf(q))
		if err != nil {
			return false
		}
		if n := nodeByPort(nodes, port); n == nil || n.IsPrimary() || n.PrimaryID != primaryID {
			return false
		}
	}
	return true
}

func TestAdminViews(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	a := cl.Admin()
	nodes := adminNodes(t, a)
	if len(nodes) != 6 {
		t.Fatalf("Nodes: %d nodes, want 6: %+v", len(nodes), nodes)
	}
	slots, primaries := 0, 0
	for _, n := range nodes {
		if len(n.ID) != 40 || n.Host != "127.0.0.1" || n.Port < basePort || n.Port > basePort+5 {
			t.Errorf("node %+v: bad id or address", n)
		}
		if n.BusPort == 0 || !n.LinkConnected && !n.HasFlag("myself") {
			t.Errorf("node %s: bus port %d, link %v", n.Addr(), n.BusPort, n.LinkConnected)
		}
		if n.IsPrimary() {
			primaries++
			if !n.HasFlag("master") || n.PrimaryID != "" || n.SlotCount == 0 {
				t.Errorf("primary %+v", n)
			}
			for _, r := range n.Slots {
				slots += r[1] - r[0] + 1
			}
		} else if !n.HasFlag("slave") || len(n.PrimaryID) != 40 || len(n.Slots) != 0 {
			t.Errorf("replica %+v", n)
		}
	}
	if slots != 16384 || primaries != 3 {
		t.Errorf("%d slots in ranges over %d primaries", slots, primaries)
	}

	p, r := harnessPair(t)
	one, err := a.Nodes(addrOf(r.Port))
	if err != nil {
		t.Fatalf("Nodes(%d): %v", r.Port, err)
	}
	if me := nodeByPort(one, r.Port); len(one) != 6 || me == nil || !me.HasFlag("myself") {
		t.Errorf("Nodes(%d): %d nodes, its own line %+v", r.Port, len(one), me)
	}
	pn := nodeByPort(nodes, p.Port)
	if rn := nodeByPort(nodes, r.Port); pn == nil || rn == nil || rn.PrimaryID != pn.ID {
		t.Errorf("replica %d does not follow %d in Nodes: %+v / %+v", r.Port, p.Port, rn, pn)
	}
	byID, err := a.Nodes(pn.ID) // a node id works as well as an address
	if err != nil || len(byID) != 6 {
		t.Errorf("Nodes(id): %d nodes, %v", len(byID), err)
	}

	rep, err := a.Replication(addrOf(p.Port))
	if err != nil {
		t.Fatalf("Replication(primary): %v", err)
	}
	if !rep.IsPrimary() || rep.ConnectedReplicas != 1 || len(rep.Replicas) != 1 ||
		rep.Replicas[0].Port != r.Port || rep.MasterReplID == "" || rep.MasterReplOffset < 0 {
		t.Errorf("Replication(primary %d) = %+v", p.Port, rep)
	}
	if rep.MasterPort != -1 || rep.MasterHost != "" || rep.MasterLinkUp {
		t.Errorf("primary has a replica side: %+v", rep)
	}
	if l := rep.Replicas[0]; l.State != "online" || l.Lag < 0 || l.LagClass == "" {
		t.Errorf("replica link %+v", l)
	}
	rep, err = a.Replication(addrOf(r.Port))
	if err != nil {
		t.Fatalf("Replication(replica): %v", err)
	}
	if rep.IsPrimary() || !rep.MasterLinkUp || rep.MasterPort != p.Port ||
		rep.MasterHost != "127.0.0.1" || rep.SlaveReplOffset < 0 || len(rep.Replicas) != 0 {
		t.Errorf("Replication(replica %d) = %+v", r.Port, rep)
	}

	chk, err := a.Check()
	if err != nil {
		t.Fatalf("Check: %v", err)
	}
	if !chk.OK || !chk.ClusterStateOK || !chk.ConfigAgrees || chk.SlotsCovered != 16384 ||
		chk.OpenSlots != 0 || chk.Unprotected != 0 || chk.Unreachable != 0 ||
		len(chk.Problems) != 0 || chk.Report == "" {
		t.Errorf("Check on a healthy cluster: %+v", chk)
	}
	if len(chk.Primaries) != 3 || len(chk.Replicas) != 3 {
		t.Errorf("Check: %d primaries, %d replicas", len(chk.Primaries), len(chk.Replicas))
	}
	for _, cr := range chk.Replicas {
		if !cr.LinkUp || cr.LagClass == "" || len(cr.PrimaryID) != 40 {
			t.Errorf("Check replica %+v", cr)
		}
	}
	for _, cp := range chk.Primaries {
		if cp.Replicas != 1 || cp.Slots == 0 {
			t.Errorf("Check primary %+v", cp)
		}
	}

	ci, err := a.ClusterInfo("")
	if err != nil || !ci.StateOK || ci.KnownNodes != 6 || ci.Size != 3 || ci.SlotsAssigned != 16384 {
		t.Errorf("ClusterInfo = %+v, %v", ci, err)
	}
}

// The error paths that cost little and change nothing.
func TestAdminErrors(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	a := cl.Admin()
	p, r := harnessPair(t)
	pid := nodeByPort(adminNodes(t, a), p.Port).ID
	closed := addrOf(closedPort)

	_, err := a.Replication(closed)
	wantClientError(t, "Replication(closed port)", err, nil, strconv.Itoa(closedPort))
	_, err = a.Replication("")
	wantClientError(t, "Replication(\"\")", err, ErrInvalid, "node")
	_, err = a.Nodes("127.0.0.1:1\x00")
	wantClientError(t, "Nodes(NUL)", err, ErrInvalid, "NUL")
	_, err = a.Nodes(unknownID)
	wantClientError(t, "Nodes(unknown id)", err, nil, unknownID)

	_, err = a.AddNode(closed, true, "", &AdminOptions{Timeout: 2 * time.Second})
	wantClientError(t, "AddNode(closed port)", err, nil, closed)
	_, err = a.AddNode("no-port-here", true, "", nil)
	wantClientError(t, "AddNode(bad address)", err, ErrInvalid, "no-port-here")
	_, err = a.AddNode("", false, "", nil)
	wantClientError(t, "AddNode(\"\")", err, ErrInvalid, "newAddr")
	// A cluster member is not a new node.
	_, err = a.AddNode(addrOf(r.Port), true, "", nil)
	wantClientError(t, "AddNode(member)", err, nil, strconv.Itoa(r.Port))

	err = a.Replicate(addrOf(r.Port), unknownID, &AdminOptions{Timeout: 2 * time.Second})
	wantClientError(t, "Replicate(unknown primary)", err, nil, unknownID)
	err = a.Replicate(addrOf(r.Port), "", nil)
	wantClientError(t, "Replicate(no primary)", err, ErrInvalid, "primaryID")

	err = a.Failover(addrOf(p.Port), FailoverDefault, nil)
	wantClientError(t, "Failover(primary)", err, nil, "is a primary")
	err = a.Failover(addrOf(r.Port), FailoverMode(9), nil)
	wantClientError(t, "Failover(mode 9)", err, ErrInvalid, "mode")

	err = a.Reshard(unknownID, pid, 1, nil)
	wantClientError(t, "Reshard(unknown source)", err, ErrInvalid, unknownID)
	err = a.Reshard(pid, pid, 1, nil)
	wantClientError(t, "Reshard(same node)", err, ErrInvalid, "same node")
	err = a.Reshard(pid, unknownID, 0, nil)
	wantClientError(t, "Reshard(0 slots)", err, ErrInvalid, "nslots")
	err = a.Reshard(pid, unknownID, 1, &AdminOptions{Timeout: -time.Second})
	wantClientError(t, "Reshard(negative timeout)", err, ErrInvalid, "negative")

	err = a.RemoveNode(unknownID, nil)
	wantClientError(t, "RemoveNode(unknown id)", err, nil, unknownID)
	err = a.RemoveNode(pid, nil)
	wantClientError(t, "RemoveNode(primary with slots)", err, ErrUsage, "slots")

	// Nothing changed.
	checkUntilOK(t, a, 10*time.Second)
	if n := len(adminNodes(t, a)); n != 6 {
		t.Errorf("%d nodes after the refusals", n)
	}

	// A closed client.
	c2 := NewClusterClient(&ClusterOptions{Addrs: seeds()})
	c2.Close()
	if _, err := c2.Admin().Check(); !errors.Is(err, ErrClosed) {
		t.Errorf("Check on a closed client: %v", err)
	}
}

// spawnNode starts an empty cluster-enabled redis-server on port, under a
// shell that stops it if this process dies. The cleanup kills it by pid.
func spawnNode(t *testing.T, port int) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), strconv.Itoa(port))
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	conf := filepath.Join(dir, "redis.conf")
	text := fmt.Sprintf("port %d\nbind 127.0.0.1\nprotected-mode no\ndaemonize no\ndir %s\n"+
		"logfile %s\ncluster-enabled yes\ncluster-config-file nodes.conf\n"+
		"cluster-node-timeout 2000\nappendonly no\nsave \"\"\nrepl-diskless-sync-delay 0\n"+
		"repl-ping-replica-period 1\n",
		port, dir, filepath.Join(dir, "redis.log"))
	// As harness.py does: port+10000 may be among the ephemeral ports, held
	// by any outgoing connection; Redis 7 can put the bus below instead.
	if out, err := exec.Command("redis-server", "--version").Output(); err == nil &&
		!strings.Contains(string(out), "v=6.") && !strings.Contains(string(out), "v=5.") &&
		port-10000 >= 1024 {
		text += fmt.Sprintf("cluster-port %d\n", port-10000)
	}
	if err := os.WriteFile(conf, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	// The shell watches this process and the server; either gone, it ends.
	sh := exec.Command("sh", "-c", `redis-server "$1" & srv=$!
while kill -0 "$2" 2>/dev/null && kill -0 $srv 2>/dev/null; do sleep 1; done
kill $srv 2>/dev/null; wait $srv`, "sh", conf, strconv.Itoa(os.Getpid()))
	sh.Dir = dir
	if err := sh.Start(); err != nil {
		t.Fatalf("start redis-server on %d: %v", port, err)
	}
	var serverPid int
	t.Cleanup(func() {
		if serverPid > 0 {
			if p, err := os.FindProcess(serverPid); err == nil {
				p.Kill()
			}
		}
		done := make(chan struct{})
		go func() { sh.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			sh.Process.Kill()
			<-done
		}
	})
	waitFor(t, 10*time.Second, fmt.Sprintf("redis-server on %d", port), func() bool {
		out, err := exec.Command("redis-cli", "-p", strconv.Itoa(port), "INFO", "server").Output()
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v := strings.TrimPrefix(line, "process_id:"); v != line {
				serverPid, _ = strconv.Atoi(strings.TrimSpace(v))
			}
		}
		return serverPid > 0
	})
}

func TestAdminOperations(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	a := cl.Admin()
	opts := &AdminOptions{Timeout: 30 * time.Second, PollInterval: 100 * time.Millisecond}
	before := adminNodes(t, a)
	p, r := harnessPair(t)
	pid := nodeByPort(before, p.Port).ID

	port := extraPort(0)
	addr := addrOf(port)
	spawnNode(t, port)
	added := false
	t.Cleanup(func() {
		if added { // a failed test: take the node out before it is stopped
			if role(t, port) == "master" { // give p its slots back first
				deadline := time.Now().Add(30 * time.Second)
				for {
					err := a.Failover(addrOf(p.Port), FailoverDefault, opts)
					if err == nil || time.Now().After(deadline) {
						t.Logf("cleanup Failover back: %v", err)
						break
					}
					time.Sleep(500 * time.Millisecond)
				}
			}
			if n := nodeByPort(adminNodes(t, a), port); n != nil {
				if err := a.RemoveNode(n.ID, opts); err != nil {
					t.Logf("cleanup RemoveNode: %v", err)
				}
			}
		}
	})

	// ---- AddNode as a replica of p, with progress reports.
	var steps []string
	withProgress := *opts
	withProgress.Progress = func(ap AdminProgress) {
		if len(steps) == 0 || steps[len(steps)-1] != ap.Step {
			steps = append(steps, ap.Step)
		}
	}
	chosen, err := a.AddNode(addr, true, pid, &withProgress)
	added = err == nil
	if err != nil {
		t.Fatalf("AddNode(%s): %v", addr, err)
	}
	if chosen != pid {
		t.Errorf("AddNode: follows %s, want %s", chosen, pid)
	}
	if !strings.Contains(strings.Join(steps, ","), "meet") {
		t.Errorf("progress steps %v lack meet", steps)
	}
	t.Logf("AddNode steps: %v", steps)
	var newID string
	waitFor(t, 15*time.Second, "the new node as a replica in Nodes", func() bool {
		nodes := adminNodes(t, a)
		n := nodeByPort(nodes, port)
		if n == nil || n.IsPrimary() || n.PrimaryID != pid || len(nodes) != 7 {
			return false
		}
		newID = n.ID
		return true
	})
	rep, err := a.Replication(addr)
	if err != nil || rep.IsPrimary() || !rep.MasterLinkUp || rep.MasterPort != p.Port {
		t.Fatalf("Replication(new) = %+v, %v", rep, err)
	}
	chk := checkUntilOK(t, a, 15*time.Second)
	if len(chk.Replicas) != 4 {
		t.Errorf("Check after AddNode: %d replicas", len(chk.Replicas))
	}
	_, err = a.AddNode(addr, true, "", &AdminOptions{Timeout: 5 * time.Second})
	wantClientError(t, "AddNode twice", err, nil, strconv.Itoa(port))

	// A key on p's shard survives the failover and the failback.
	key := ""
	for i := 0; key == ""; i++ {
		k := fmt.Sprintf("adm:fo:%d", i)
		if s := Keyslot(k); s >= 0 {
			for _, rg := range nodeByPort(before, p.Port).Slots {
				if s >= rg[0] && s <= rg[1] {
					key = k
				}
			}
		}
	}
	if err := cl.Set(key, "v1", 0); err != nil {
		t.Fatalf("SET %s: %v", key, err)
	}

	// ---- Failover to the new replica, then back to p.
	if err := a.Failover(addr, FailoverDefault, opts); err != nil {
		t.Fatalf("Failover(%s): %v", addr, err)
	}
	if role(t, port) != "master" {
		t.Fatalf("after Failover the new node is %s", role(t, port))
	}
	waitFor(t, 20*time.Second, "p to follow the new node", func() bool {
		rp, err := a.Replication(addrOf(p.Port))
		return err == nil && !rp.IsPrimary() && rp.MasterPort == port && rp.MasterLinkUp
	})
	// Failover resolves p's role from a node's view: wait until every node
	// has the news.
	waitFor(t, 20*time.Second, "every node to see p as the new node's replica", func() bool {
		return seenAsReplica(a, append(clusterPorts(), port), p.Port, newID)
	})
	if err := a.Failover(addrOf(p.Port), FailoverDefault, opts); err != nil {
		t.Fatalf("Failover back to %d: %v", p.Port, err)
	}
	waitFor(t, 20*time.Second, "every node to see the new node as p's replica", func() bool {
		return seenAsReplica(a, append(clusterPorts(), port), port, pid)
	})
	waitFor(t, 20*time.Second, "p's replicas to follow p again", func() bool {
		for _, n := range []int{r.Port, port} {
			rp, err := a.Replication(addrOf(n))
			if err != nil || rp.IsPrimary() || rp.MasterPort != p.Port || !rp.MasterLinkUp {
				return false
			}
		}
		return true
	})
	checkUntilOK(t, a, 20*time.Second)
	if v, err := cl.Get(key); err != nil || v != "v1" {
		t.Errorf("GET %s after failover and back = %q, %v", key, v, err)
	}

	// ---- Reshard two slots from the owner of slot 0 to another primary and back.
	var from, to *ClusterNode
	for i := range before {
		n := &before[i]
		if !n.IsPrimary() {
			continue
		}
		if len(n.Slots) > 0 && n.Slots[0][0] == 0 {
			from = n
		} else if to == nil {
			to = n
		}
	}
	if from == nil || to == nil {
		t.Fatalf("no owner of slot 0 / other primary in %+v", before)
	}
	slotKey := ""
	for i := 0; slotKey == ""; i++ {
		if k := fmt.Sprintf("adm:rs:%d", i); Keyslot(k) <= 1 {
			slotKey = k
		}
	}
	if err := cl.Set(slotKey, "moved", 0); err != nil {
		t.Fatalf("SET %s: %v", slotKey, err)
	}
	var moved int
	reshardOpts := *opts
	reshardOpts.MigrateBatch = 10
	reshardOpts.Progress = func(ap AdminProgress) {
		if ap.Step == "migrate" && ap.SlotsDone > moved {
			moved = ap.SlotsDone
		}
	}
	if err := a.Reshard(from.ID, to.ID, 2, &reshardOpts); err != nil {
		t.Fatalf("Reshard %d -> %d: %v", from.Port, to.Port, err)
	}
	if moved != 2 {
		t.Errorf("progress saw %d slots done, want 2", moved)
	}
	waitFor(t, 10*time.Second, "slots 0-1 on the target", func() bool {
		n := nodeByPort(adminNodes(t, a), to.Port)
		return n != nil && n.SlotCount == to.SlotCount+2
	})
	if v, err := cl.Get(slotKey); err != nil || v != "moved" {
		t.Errorf("GET %s after the reshard = %q, %v", slotKey, v, err)
	}
	if err := a.Reshard(to.ID, from.ID, 2, opts); err != nil {
		t.Fatalf("Reshard back %d -> %d: %v", to.Port, from.Port, err)
	}
	after := adminNodes(t, a)
	for _, b := range before {
		n := nodeByPort(after, b.Port)
		if b.IsPrimary() && (n == nil || fmt.Sprint(n.Slots) != fmt.Sprint(b.Slots)) {
			t.Errorf("node %d: slots %v, before %v", b.Port, n.Slots, b.Slots)
		}
	}
	if v, err := cl.Get(slotKey); err != nil || v != "moved" {
		t.Errorf("GET %s after the reshard back = %q, %v", slotKey, v, err)
	}
	cl.Del(slotKey, key)

	// ---- RemoveNode the new node.
	if err := a.RemoveNode(newID, opts); err != nil {
		t.Fatalf("RemoveNode(%s): %v", newID, err)
	}
	added = false
	if n := len(adminNodes(t, a)); n != 6 {
		t.Errorf("%d nodes after RemoveNode, want 6", n)
	}
	if ci, err := a.ClusterInfo(addr); err != nil || ci.KnownNodes != 1 {
		t.Errorf("the removed node: ClusterInfo = %+v, %v (want it reset)", ci, err)
	}
	checkUntilOK(t, a, 15*time.Second)
	if err := waitSettled(30 * time.Second); err != nil {
		t.Errorf("the cluster did not settle after the admin tests: %v", err)
	}
}

func TestAdminProgressPanic(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	a := cl.Admin()
	p, _ := harnessPair(t)
	// AddNode of a cluster member reports its "check" step, then refuses:
	// the panic comes from the progress func and changes nothing.
	defer func() {
		v := recover()
		hp, ok := v.(*HookPanic)
		if !ok || hp.Hook != "Progress" || hp.Value != "boom" {
			t.Fatalf("recovered %v, want a *HookPanic from Progress", v)
		}
		// The client is still usable: the lock was released.
		if _, err := a.Nodes(""); err != nil {
			t.Errorf("Nodes after the panic: %v", err)
		}
	}()
	_, err := a.AddNode(addrOf(p.Port), true, "", &AdminOptions{Timeout: 2 * time.Second,
		Progress: func(AdminProgress) { panic("boom") }})
	t.Fatalf("AddNode returned (%v) instead of panicking", err)
}
