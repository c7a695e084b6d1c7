package clusterc

// Tests against a real cluster: TestMain starts 3 primaries + 3 replicas on
// 127.0.0.1:20850-20855 with tests/cluster/harness.py (ports 20850-20899
// belong to this package's tests) and stops it at the end. The harness's
// watchdog follows this process, so the servers go away even if the test
// binary is killed.
//
// Environment: CLUSTERC_HARNESS (path of harness.py; default
// ../../tests/cluster/harness.py), CLUSTERC_PYTHON (default python3),
// CLUSTERC_GO_TEST_PORT (the first of 50 ports the tests may use; default
// 20850, see setPorts).
// Without redis-server / redis-cli the cluster tests print
// "clusterc-go: SKIP" and pass (ctest marks the run skipped).

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The ports of the tests (setPorts). By default the cluster is on
// 20850-20855, the admin tests' extra nodes on 20856-20859, 20899 is never
// listened on, and the TLS cluster is on 23150-23155 with 23199 closed.
var (
	basePort      = 20850 // TestMain's cluster: basePort .. basePort+5
	closedPort    = 20899 // in the range, never listened on
	tlsBasePort   = 23150 // TestTLSCluster's cluster: tlsBasePort .. +5
	tlsClosedPort = 23199
)

// extraPort is the i-th port (0..3) for a node of the tests' own (admin).
func extraPort(i int) int { return basePort + 6 + i }

// setPorts reads CLUSTERC_GO_TEST_PORT: with it set to P, every port of the
// tests is in P..P+49 (the cluster P..P+5, extra nodes P+6..P+9, the TLS
// cluster P+20..P+25, closed ports P+48 (TLS) and P+49), so runs with
// different values can share a machine.
func setPorts() error {
	v := os.Getenv("CLUSTERC_GO_TEST_PORT")
	if v == "" {
		return nil
	}
	p, err := strconv.Atoi(v)
	if err != nil || p < 1024 || p+49 > 55535 { // bus ports are +10000
		return fmt.Errorf("CLUSTERC_GO_TEST_PORT=%q: want a port in 1024..55486", v)
	}
	basePort, closedPort = p, p+49
	tlsBasePort, tlsClosedPort = p+20, p+48
	return nil
}

type harnessNode struct {
	Port       int    `json:"port"`
	Role       string `json:"role"`
	ID         string `json:"id"`
	MasterPort int    `json:"master_port"`
}

var cluster struct {
	dir   string
	nodes []harnessNode
}

func harnessPath() string {
	if p := os.Getenv("CLUSTERC_HARNESS"); p != "" {
		return p
	}
	return filepath.Join("..", "..", "tests", "cluster", "harness.py")
}

func python() string {
	if p := os.Getenv("CLUSTERC_PYTHON"); p != "" {
		return p
	}
	return "python3"
}

func harness(args ...string) ([]byte, error) {
	cmd := exec.Command(python(), append([]string{harnessPath()}, args...)...)
	cmd.Stderr = os.Stderr
	return cmd.Output()
}

func TestMain(m *testing.M) {
	if err := setPorts(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	for _, prog := range []string{"redis-server", "redis-cli", python()} {
		if _, err := exec.LookPath(prog); err != nil {
			fmt.Printf("clusterc-go: SKIP: %s not found; the cluster tests need it\n", prog)
			os.Exit(0)
		}
	}
	tmp, err := os.MkdirTemp("", "clusterc-go-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cluster.dir = filepath.Join(tmp, "cluster")
	out, err := harness("start", "--dir", cluster.dir, "--base", strconv.Itoa(basePort),
		"--primaries", "3", "--replicas", "1", "--owner-pid", strconv.Itoa(os.Getpid()))
	if err != nil {
		fmt.Fprintf(os.Stderr, "harness start: %v\n", err)
		os.RemoveAll(tmp)
		os.Exit(1)
	}
	var st struct {
		Nodes []harnessNode `json:"nodes"`
	}
	if err := json.Unmarshal(out, &st); err != nil {
		fmt.Fprintf(os.Stderr, "harness start output %q: %v\n", out, err)
		harness("stop", "--dir", cluster.dir)
		os.Exit(1)
	}
	cluster.nodes = st.Nodes
	code := 1
	if err := waitSettled(30 * time.Second); err != nil {
		fmt.Fprintf(os.Stderr, "cluster did not settle: %v\n", err)
	} else {
		code = m.Run()
	}
	if _, err := harness("stop", "--dir", cluster.dir); err != nil {
		fmt.Fprintf(os.Stderr, "harness stop: %v\n", err)
	}
	os.RemoveAll(tmp)
	os.Exit(code)
}

// waitSettled waits until a client's map shows 3 primaries and 3 replicas,
// every replica eligible for reads. Right after `harness.py start` returns,
// CLUSTER SHARDS may still show a replica as a slotless primary of its own
// shard, or as "loading"; the routing tests need the final shape.
func waitSettled(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		// A fresh client, so a fresh map each round: a client keeps its
		// first map until a redirect or its periodic refresh, and that map
		// may come from a node whose view has not caught up yet (after
		// RemoveNode, a replica that followed the removed node until just
		// now is left out of CLUSTER SHARDS until gossip tells otherwise).
		cl := NewClusterClient(&ClusterOptions{Addrs: seeds(), ReadOnly: true})
		cl.Do("GET", "settle") // waits for the map
		nodes, err := cl.NodeStats()
		cl.Close()
		p, r := 0, 0
		for _, n := range nodes {
			if n.IsPrimary() {
				p++
			} else if n.Eligible {
				r++
			}
		}
		if os.Getenv("CLUSTERC_GO_DEBUG") != "" {
			fmt.Fprintf(os.Stderr, "%s settle: %d primaries, %d eligible replicas, %d nodes %v\n", time.Now().Format("15:04:05.000"), p, r, len(nodes), err)
		}
		if err == nil && p == 3 && r == 3 && len(nodes) == 6 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("node stats %+v, %v", nodes, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// ------------------------------------------------------------------ helpers

func seeds() []string { return []string{fmt.Sprintf("127.0.0.1:%d", basePort)} }

func newClient(t *testing.T, opt ClusterOptions) *ClusterClient {
	t.Helper()
	if opt.Addrs == nil {
		opt.Addrs = seeds()
	}
	cl := NewClusterClient(&opt)
	if err := cl.Err(); err != nil {
		t.Fatalf("NewClusterClient: %v", err)
	}
	t.Cleanup(func() { cl.Close() })
	return cl
}

func redisCLI(t *testing.T, port int, args ...string) string {
	t.Helper()
	out, err := exec.Command("redis-cli", append([]string{"-h", "127.0.0.1", "-p",
		strconv.Itoa(port)}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli -p %d %v: %v: %s", port, args, err, out)
	}
	return string(out)
}

// role asks the server itself ("master" or "slave").
func role(t *testing.T, port int) string {
	for _, line := range strings.Split(redisCLI(t, port, "INFO", "replication"), "\n") {
		if strings.HasPrefix(line, "role:") {
			return strings.TrimSpace(strings.TrimPrefix(line, "role:"))
		}
	}
	t.Fatalf("port %d: no role in INFO replication", port)
	return ""
}

// cmdCalls is cmdstat_<name>'s calls in INFO commandstats.
func cmdCalls(t *testing.T, port int, name string) int {
	for _, line := range strings.Split(redisCLI(t, port, "INFO", "commandstats"), "\n") {
		if rest := strings.TrimPrefix(line, "cmdstat_"+name+":calls="); rest != line {
			n, err := strconv.Atoi(rest[:strings.IndexByte(rest, ',')])
			if err != nil {
				t.Fatalf("port %d: %q: %v", port, line, err)
			}
			return n
		}
	}
	return 0
}

func resetStats(t *testing.T) {
	for _, n := range cluster.nodes {
		redisCLI(t, n.Port, "CONFIG", "RESETSTAT")
	}
}

// waitReplicasEligible runs reads until the client sees every replica as
// eligible (right after the cluster forms, CLUSTER SHARDS reports replicas
// "loading" for a moment, and reads then go to the primaries).
func waitReplicasEligible(t *testing.T, cl *ClusterClient) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		nodes, err := cl.NodeStats()
		ok := 0
		if err == nil {
			for _, n := range nodes {
				if !n.IsPrimary() && n.Eligible {
					ok++
				}
			}
			if ok == 3 {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("replicas not eligible after 20s: %+v (err %v)", nodes, err)
		}
		cl.Get(fmt.Sprintf("warm:%d", i))
		time.Sleep(100 * time.Millisecond)
	}
}

// readSpread resets the servers' stats, runs n GETs and returns the GET
// calls counted by primaries and by replicas, per port.
func readSpread(t *testing.T, cl *ClusterClient, n int) (primaries, replicas map[int]int) {
	t.Helper()
	resetStats(t)
	for i := 0; i < n; i++ {
		if _, err := cl.Get(fmt.Sprintf("route:%d", i)); err != nil && err != Nil {
			t.Fatalf("GET: %v", err)
		}
	}
	primaries, replicas = map[int]int{}, map[int]int{}
	for _, node := range cluster.nodes {
		if role(t, node.Port) == "master" {
			primaries[node.Port] = cmdCalls(t, node.Port, "get")
		} else {
			replicas[node.Port] = cmdCalls(t, node.Port, "get")
		}
	}
	return primaries, replicas
}

func sum(m map[int]int) int {
	s := 0
	for _, v := range m {
		s += v
	}
	return s
}

// ------------------------------------------------------------------- tests

func TestOptionsURL(t *testing.T) {
	opt := ClusterOptions{
		Addrs:            []string{"127.0.0.1:7001", "127.0.0.1:7002", "[::1]:7003"},
		ReadOnly:         true,
		RouteByLatency:   true,
		Username:         "app",
		Password:         "p@ss word&=",
		MaxRedirects:     -1,
		MaxRetries:       -1,
		DialTimeout:      1500 * time.Millisecond,
		ReadTimeout:      2 * time.Second,
		LatencyTolerance: -1,
		MaxLag:           5 * time.Second,
		ClientAZ:         "us-east-1a",
		AZAffinity:       2,
		Params:           map[string]string{"refresh_interval": "10s"},
	}
	s, err := opt.URL()
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(s)
	if err != nil {
		t.Fatalf("%s: %v", s, err)
	}
	q := u.Query()
	want := map[string]string{"read_only": "true", "route_by_latency": "true",
		"username": "app", "password": "p@ss word&=", "max_redirects": "-1",
		"max_retries": "0", "dial_timeout": "1.5s", "read_timeout": "2s",
		"latency_tolerance": "0", "max_lag": "5s", "refresh_interval": "10s",
		"client_az": "us-east-1a", "az_affinity": "2"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s: %s = %q, want %q", s, k, q.Get(k), v)
		}
	}
	if u.Host != "127.0.0.1:7001" || strings.Join(q["addr"], ",") != "127.0.0.1:7002,[::1]:7003" {
		t.Errorf("%s: seeds wrong", s)
	}
	if q.Get("route_randomly") != "" {
		t.Errorf("%s: false booleans should be left out", s)
	}
	if _, err := (&ClusterOptions{}).URL(); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty Addrs: %v, want ErrInvalid", err)
	}
}

func TestBadOptions(t *testing.T) {
	cl := NewClusterClient(&ClusterOptions{Addrs: seeds(), Params: map[string]string{"bogus_key": "1"}})
	defer cl.Close()
	err := cl.Err()
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "bogus_key") {
		t.Fatalf("Err() = %v, want ErrInvalid naming bogus_key", err)
	}
	if _, err := cl.Get("k"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("Get on a badly configured client: %v", err)
	}
	cl2 := NewClusterClient(&ClusterOptions{})
	if err := cl2.Ping(); !errors.Is(err, ErrInvalid) {
		t.Fatalf("no Addrs: Ping() = %v", err)
	}
	if err := cl2.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func TestConnectFailure(t *testing.T) {
	// closedPort is in this package's range and never listened on.
	closed := fmt.Sprintf("127.0.0.1:%d", closedPort)
	cl := NewClusterClient(&ClusterOptions{Addrs: []string{closed},
		DialTimeout: 200 * time.Millisecond, ReadTimeout: 500 * time.Millisecond})
	defer cl.Close()
	var ce *ClientError
	if !errors.As(cl.Err(), &ce) {
		t.Fatalf("Err() = %v, want a *ClientError", cl.Err())
	}
	if !strings.Contains(ce.Msg, closed) {
		t.Errorf("message does not name the seed: %v", ce)
	}
	err := cl.Ping()
	if !errors.As(err, &ce) {
		t.Fatalf("Ping() = %v, want a *ClientError", err)
	}
	t.Logf("connect failure: %v", err)
}

func TestPing(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Ping(); err != nil {
		t.Fatal(err)
	}
}

func TestSetGetAcrossSlots(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	const n = 2000
	slots := map[int]bool{}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key:%d", i)
		slots[Keyslot(k)] = true
		if err := cl.Set(k, fmt.Sprintf("value-%d", i), 0); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
	}
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("key:%d", i)
		v, err := cl.Get(k)
		if err != nil || v != fmt.Sprintf("value-%d", i) {
			t.Fatalf("GET %s = %q, %v", k, v, err)
		}
	}
	if len(slots) < 1500 {
		t.Errorf("only %d slots touched", len(slots))
	}
	nodes, err := cl.NodeStats()
	if err != nil {
		t.Fatal(err)
	}
	primaries := 0
	for _, node := range nodes {
		if node.IsPrimary() {
			primaries++
			if node.Writes < n/5 {
				t.Errorf("primary %s got %d writes of %d", node.Addr, node.Writes, n)
			}
		}
	}
	if primaries != 3 || len(nodes) != 6 {
		t.Errorf("node stats: %d nodes, %d primaries: %+v", len(nodes), primaries, nodes)
	}
	if del, err := cl.Del("key:0", "key:1", "no-such-key"); err != nil || del != 2 {
		t.Errorf("Del = %d, %v", del, err)
	}
}

func TestSetExpiration(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Set("exp:px", "v", 1500*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Do("PTTL", "exp:px"); err != nil || v.(int64) <= 0 || v.(int64) > 1500 {
		t.Errorf("PTTL = %v, %v", v, err)
	}
	if err := cl.Set("exp:ex", "v", 10*time.Second); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Do("TTL", "exp:ex"); err != nil || v.(int64) < 9 || v.(int64) > 10 {
		t.Errorf("TTL = %v, %v", v, err)
	}
	if err := cl.Set("exp:ex", "w", KeepTTL); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Do("TTL", "exp:ex"); err != nil || v.(int64) < 9 {
		t.Errorf("TTL after KEEPTTL = %v, %v", v, err)
	}
}

type point struct{ x, y int }

func (p point) MarshalBinary() ([]byte, error) { return []byte(fmt.Sprintf("%d,%d", p.x, p.y)), nil }

func TestDoTypes(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	check := func(want interface{}, args ...interface{}) {
		t.Helper()
		got, err := cl.Do(args...)
		if err != nil {
			t.Fatalf("Do%v: %v", args, err)
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", want) {
			t.Fatalf("Do%v = %#v, want %#v", args, got, want)
		}
	}
	bin := []byte{0, 'a', 0xff, '\r', '\n'}
	check("OK", "SET", "t:bin", bin)
	check(string(bin), "GET", "t:bin")
	check(int64(len(bin)), "STRLEN", "t:bin")
	check("OK", "SET", "t:int", 42)
	check(int64(43), "INCR", "t:int")
	check(int64(40), "DECRBY", "t:int", int8(3))
	check(int64(50), "INCRBY", "t:int", uint64(10))
	check("OK", "SET", "t:float", 1.5)
	check("1.75", "INCRBYFLOAT", "t:float", float32(0.25))
	check("OK", "SET", "t:bool", true)
	check("1", "GET", "t:bool")
	check("OK", "SET", "t:dur", 2*time.Second)
	check("2000000000", "GET", "t:dur")
	check("OK", "SET", "t:point", point{3, 4})
	check("3,4", "GET", "t:point")
	check("OK", "SET", "t:empty", "")
	check("", "GET", "t:empty")
	check(int64(0), "DEL", "t:list")
	check(int64(5), "RPUSH", "t:list", "a", 1, 2.5, false, []byte("z"))
	check([]interface{}{"a", "1", "2.5", "0", "z"}, "LRANGE", "t:list", 0, -1)
	check([]interface{}{}, "LRANGE", "t:none", 0, -1)
	check("OK", "MSET", "{t}a", "x", "{t}b", "y")
	check([]interface{}{"x", "y", nil}, "MGET", "{t}a", "{t}b", "{t}missing")
	check("PONG", "PING")
	check([]interface{}{int64(1), []interface{}{"a", int64(2)}, "x"},
		"EVAL", "return {1, {'a', 2}, 'x'}", 1, "t:eval")
	got, err := cl.Do("EVAL", "return {1, redis.error_reply('BOOM inside')}", 1, "t:eval")
	arr, _ := got.([]interface{})
	if err != nil || len(arr) != 2 || arr[1] != Error("BOOM inside") {
		t.Errorf("array with an error element = %#v, %v", got, err)
	}

	if _, err := cl.Do("SET", "t:bad", struct{}{}); err == nil || !strings.Contains(err.Error(), "marshal") {
		t.Errorf("unsupported argument: %v", err)
	}
	if _, err := cl.Do(); !errors.Is(err, ErrInvalid) {
		t.Errorf("Do(): %v", err)
	}
}

func TestErrorReply(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Set("e:str", "abc", 0); err != nil {
		t.Fatal(err)
	}
	_, err := cl.Do("INCR", "e:str")
	var re Error
	if !errors.As(err, &re) || !strings.HasPrefix(string(re), "ERR ") {
		t.Fatalf("INCR of a string: %#v, want an Error starting ERR", err)
	}
	_, err = cl.Do("LPUSH", "e:str", "x")
	if !errors.As(err, &re) || !strings.HasPrefix(re.Error(), "WRONGTYPE") {
		t.Fatalf("LPUSH on a string: %#v, want WRONGTYPE", err)
	}
	var ce *ClientError
	if errors.As(err, &ce) || err == Nil {
		t.Fatalf("an error reply is neither a ClientError nor Nil: %#v", err)
	}
	if _, err := cl.Get("e:str"); err != nil {
		t.Fatalf("client unusable after error replies: %v", err)
	}
}

func TestNil(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if v, err := cl.Get("nil:missing"); err != Nil || v != "" {
		t.Fatalf("Get(missing) = %q, %v; want \"\", Nil", v, err)
	}
	if v, err := cl.Do("GET", "nil:missing"); err != Nil || v != nil {
		t.Fatalf("Do(GET missing) = %#v, %v", v, err)
	}
	if !errors.Is(fmt.Errorf("wrapped: %w", Nil), Nil) {
		t.Fatal("errors.Is(wrapped Nil, Nil) is false")
	}
}

func TestReadOnlyRouting(t *testing.T) {
	cl := newClient(t, ClusterOptions{ReadOnly: true})
	for i := 0; i < 300; i++ {
		if err := cl.Set(fmt.Sprintf("route:%d", i), "v", 0); err != nil {
			t.Fatal(err)
		}
	}
	waitReplicasEligible(t, cl)
	primaries, replicas := readSpread(t, cl, 300)
	t.Logf("GET calls: primaries %v, replicas %v", primaries, replicas)
	if sum(primaries) != 0 {
		t.Errorf("ReadOnly: primaries served %d GETs, want 0", sum(primaries))
	}
	if sum(replicas) != 300 {
		t.Errorf("ReadOnly: replicas served %d GETs, want 300", sum(replicas))
	}
	for port, calls := range replicas {
		if calls == 0 {
			t.Errorf("replica %d served no GET", port)
		}
	}
	// Writes still go to the primaries.
	resetStats(t)
	for i := 0; i < 30; i++ {
		if err := cl.Set(fmt.Sprintf("route:%d", i), "w", 0); err != nil {
			t.Fatal(err)
		}
	}
	// (replicas count the SETs their primary streams to them too)
	sets := 0
	for _, node := range cluster.nodes {
		if role(t, node.Port) == "master" {
			sets += cmdCalls(t, node.Port, "set")
		}
	}
	if sets != 30 {
		t.Errorf("primaries ran %d SETs, want 30", sets)
	}
}

func TestRouteRandomly(t *testing.T) {
	cl := newClient(t, ClusterOptions{RouteRandomly: true})
	waitReplicasEligible(t, cl)
	primaries, replicas := readSpread(t, cl, 600)
	t.Logf("GET calls: primaries %v, replicas %v", primaries, replicas)
	if sum(primaries)+sum(replicas) != 600 {
		t.Errorf("%d GETs counted, want 600", sum(primaries)+sum(replicas))
	}
	if sum(primaries) == 0 || sum(replicas) == 0 {
		t.Errorf("RouteRandomly: primaries %d, replicas %d: both should serve",
			sum(primaries), sum(replicas))
	}
}

func TestDefaultRoutingUsesPrimaries(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	primaries, replicas := readSpread(t, cl, 100)
	if sum(replicas) != 0 || sum(primaries) != 100 {
		t.Errorf("no read policy: primaries %v, replicas %v", primaries, replicas)
	}
}

func TestPoll(t *testing.T) {
	cl := newClient(t, ClusterOptions{RouteByLatency: true})
	if err := cl.Poll(300 * time.Millisecond); err != nil {
		t.Fatalf("Poll: %v", err)
	}
	nodes, err := cl.NodeStats()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		if n.LatencyUs < 0 {
			t.Errorf("%s: no latency sample after Poll", n.Addr)
		}
	}
	if err := cl.Poll(-time.Second); err == nil {
		t.Error("Poll(-1s): no error")
	}
}

func TestCloseThenUse(t *testing.T) {
	cl := NewClusterClient(&ClusterOptions{Addrs: seeds()})
	if err := cl.Set("close:k", "v", 0); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if _, err := cl.Get("close:k"); !errors.Is(err, ErrClosed) {
		t.Errorf("Get after Close: %v, want ErrClosed", err)
	}
	if _, err := cl.Do("PING"); !errors.Is(err, ErrClosed) {
		t.Errorf("Do after Close: %v", err)
	}
	if _, err := cl.NodeStats(); !errors.Is(err, ErrClosed) {
		t.Errorf("NodeStats after Close: %v", err)
	}
	if err := cl.Close(); !errors.Is(err, ErrClosed) {
		t.Errorf("second Close: %v, want ErrClosed", err)
	}
}

func TestConcurrentGoroutines(t *testing.T) {
	cl := newClient(t, ClusterOptions{ReadOnly: true})
	if _, err := cl.Do("DEL", "conc:n"); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				if _, err := cl.Do("INCR", "conc:n"); err != nil {
					errs <- err
					return
				}
				if _, err := cl.Get(fmt.Sprintf("key:%d", g*100+i)); err != nil && err != Nil {
					errs <- err
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	// INCRBY 0, a write, reads the primary (a GET could read a lagging replica).
	if v, err := cl.Do("INCRBY", "conc:n", 0); err != nil || v != int64(800) {
		t.Fatalf("counter = %#v, %v; want 800", v, err)
	}
}

func rssKB(t *testing.T) int {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skip("no /proc/self/statm")
	}
	f := strings.Fields(string(b))
	pages, _ := strconv.Atoi(f[1])
	return pages * os.Getpagesize() / 1024
}

// Every reply and argument buffer is freed: RSS stays flat over many calls.
func TestNoLeak(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cl := newClient(t, ClusterOptions{})
	if err := cl.Set("leak:v", strings.Repeat("x", 1000), 0); err != nil {
		t.Fatal(err)
	}
	round := func(n int) {
		for i := 0; i < n; i++ {
			if _, err := cl.Get("leak:v"); err != nil {
				t.Fatal(err)
			}
			cl.Do("MGET", "{leak}a", "{leak}b", "{leak}c")
			cl.Do("INCR", "leak:v") // an error reply
		}
		runtime.GC()
		debug.FreeOSMemory()
	}
	round(5000)
	before := rssKB(t)
	round(20000)
	after := rssKB(t)
	t.Logf("RSS %d kB -> %d kB over 60,000 calls", before, after)
	if after-before > 3000 {
		t.Errorf("RSS grew by %d kB over 60,000 calls", after-before)
	}
}

func TestDoRoute(t *testing.T) {
	cl := newClient(t, ClusterOptions{ReadOnly: true})
	if err := cl.Set("route:0", "v", 0); err != nil {
		t.Fatal(err)
	}
	waitReplicasEligible(t, cl)
	resetStats(t)
	for i := 0; i < 50; i++ {
		if v, err := cl.DoRoute(RoutePrimary, "GET", "route:0"); err != nil || v != "v" {
			t.Fatalf("DoRoute(RoutePrimary) = %#v, %v", v, err)
		}
	}
	primaries := 0
	for _, node := range cluster.nodes {
		if role(t, node.Port) == "master" {
			primaries += cmdCalls(t, node.Port, "get")
		}
	}
	if primaries != 50 {
		t.Errorf("RoutePrimary: primaries served %d GETs, want 50", primaries)
	}
	if _, err := cl.DoRoute(9, "GET", "route:0"); !errors.Is(err, ErrInvalid) {
		t.Errorf("DoRoute(9): %v, want ErrInvalid", err)
	}
}
