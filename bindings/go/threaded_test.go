package clusterc

// The shared client over the threaded face, against the TestMain cluster:
// many goroutines on one client, cancellation by context, Pipeline, the
// typed helpers, Close with commands in flight, and a failover under load.

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestSharedClientManyGoroutines(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	const goroutines, rounds = 50, 200
	before := cl.CrossingStats()
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			ctr := fmt.Sprintf("tc:ctr:%d", g)
			if _, err := cl.Del(ctr); err != nil {
				errs <- err
				return
			}
			for i := 0; i < rounds; i++ {
				k := fmt.Sprintf("tc:%d:%d", g, i)
				want := fmt.Sprintf("v%d-%d", g, i)
				if err := cl.Set(k, want, time.Minute); err != nil {
					errs <- fmt.Errorf("SET %s: %w", k, err)
					return
				}
				got, err := cl.Get(k)
				if err != nil || got != want {
					errs <- fmt.Errorf("GET %s = %q, %v; want %q", k, got, err, want)
					return
				}
				n, err := cl.Incr(ctr)
				if err != nil || n != int64(i+1) {
					errs <- fmt.Errorf("INCR %s = %d, %v; want %d", ctr, n, err, i+1)
					return
				}
				if _, err := cl.Get(k + ":missing"); err != Nil {
					errs <- fmt.Errorf("GET of a missing key: %v, want Nil", err)
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
	after := cl.CrossingStats()
	cmds := after.Commands - before.Commands
	cross := after.Submits + after.Waits - before.Submits - before.Waits
	if cmds != goroutines*(rounds*4+1) {
		t.Errorf("%d commands counted, want %d", cmds, goroutines*(rounds*4+1))
	}
	t.Logf("%d commands, %d submit + %d wait crossings: %.3f per command", cmds,
		after.Submits-before.Submits, after.Waits-before.Waits, float64(cross)/float64(cmds))
	if float64(cross) >= float64(cmds) {
		t.Errorf("%d crossings for %d commands: want well under one per command", cross, cmds)
	}
}

func TestContextCancelBLPop(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	cl.Del("tc:blpop")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	start := time.Now()
	go func() {
		_, err := cl.BLPopContext(ctx, 2*time.Second, "tc:blpop")
		done <- err
	}()
	time.Sleep(50 * time.Millisecond)
	cancel()
	cancelled := time.Now()
	select {
	case err := <-done:
		if d := time.Since(cancelled); d > 100*time.Millisecond {
			t.Errorf("BLPOP returned %v after its context was cancelled", d)
		}
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled BLPOP: %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatalf("cancelled BLPOP still waiting after 1s (started %v ago)", time.Since(start))
	}
	// A deadline: DeadlineExceeded, promptly.
	dctx, dcancel := context.WithTimeout(context.Background(), 80*time.Millisecond)
	defer dcancel()
	t0 := time.Now()
	_, err := cl.BLPopContext(dctx, 2*time.Second, "tc:blpop")
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(t0) > 200*time.Millisecond {
		t.Errorf("BLPOP with an 80ms deadline: %v after %v", err, time.Since(t0))
	}
	// An expired context never submits.
	if _, err := cl.GetContext(ctx, "tc:x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Get with a cancelled context: %v", err)
	}
	// The client goes on; the abandoned BLPOPs complete later and are
	// dropped. An uncancelled BLPOP gets its element.
	if _, err := cl.RPush("tc:blpop2", "x"); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.BLPop(time.Second, "tc:blpop2"); err != nil || len(v) != 2 || v[1] != "x" {
		t.Fatalf("BLPOP = %v, %v", v, err)
	}
	if v, err := cl.BLPop(100*time.Millisecond, "tc:blpop"); err != Nil {
		t.Fatalf("BLPOP timing out: %v, %v; want Nil", v, err)
	}
}

func TestPipeline(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	p := cl.Pipeline()
	const n = 1000
	for i := 0; i < n; i++ {
		p.Do("SET", fmt.Sprintf("tp:%d", i), i)
	}
	for i := 0; i < n; i++ {
		p.Do("GET", fmt.Sprintf("tp:%d", i))
	}
	p.Do("GET", "tp:missing")
	bad := p.Do("INCR", "tp:list")
	p.Do("SET", "tp:list", "a")
	p.DoRoute(99, "GET", "x")
	if p.Len() != 2*n+4 {
		t.Fatalf("Len = %d", p.Len())
	}
	res, err := p.Exec(context.Background())
	if len(res) != 2*n+4 {
		t.Fatalf("%d results", len(res))
	}
	for i := 0; i < n; i++ {
		if res[i].Val != "OK" || res[i].Err != nil {
			t.Fatalf("SET %d: %v %v", i, res[i].Val, res[i].Err)
		}
		if res[n+i].Val != fmt.Sprint(i) || res[n+i].Err != nil {
			t.Fatalf("GET %d: %v %v", i, res[n+i].Val, res[n+i].Err)
		}
	}
	if res[2*n].Err != Nil {
		t.Errorf("GET missing: %v", res[2*n].Err)
	}
	_ = bad
	if !errors.Is(res[2*n+3].Err, ErrInvalid) {
		t.Errorf("bad route: %v", res[2*n+3].Err)
	}
	if err == nil {
		t.Errorf("Exec: no error reported")
	}
	if p.Len() != 0 {
		t.Errorf("pipeline not emptied")
	}
	if res, err := p.Exec(context.Background()); len(res) != 0 || err != nil {
		t.Errorf("empty Exec: %v %v", res, err)
	}
}

func TestTypedHelpers(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	ctx := context.Background()
	cl.Del("th:h", "th:l", "th:s", "th:n", "{th}a", "{th}b", "th:c")
	if n, err := cl.HSet("th:h", "f1", "v1", "f2", 2); err != nil || n != 2 {
		t.Fatalf("HSet = %d %v", n, err)
	}
	if v, err := cl.HGet("th:h", "f2"); err != nil || v != "2" {
		t.Fatalf("HGet = %q %v", v, err)
	}
	if _, err := cl.HGet("th:h", "nope"); err != Nil {
		t.Fatalf("HGet missing: %v", err)
	}
	if m, err := cl.HGetAll("th:h"); err != nil || len(m) != 2 || m["f1"] != "v1" {
		t.Fatalf("HGetAll = %v %v", m, err)
	}
	if n, err := cl.HDel("th:h", "f1"); err != nil || n != 1 {
		t.Fatalf("HDel = %d %v", n, err)
	}
	if n, err := cl.LPush("th:l", "a", "b"); err != nil || n != 2 {
		t.Fatalf("LPush = %d %v", n, err)
	}
	if n, err := cl.RPushContext(ctx, "th:l", "c"); err != nil || n != 3 {
		t.Fatalf("RPush = %d %v", n, err)
	}
	if l, err := cl.LRange("th:l", 0, -1); err != nil || strings.Join(l, "") != "bac" {
		t.Fatalf("LRange = %v %v", l, err)
	}
	if v, err := cl.RPop("th:l"); err != nil || v != "c" {
		t.Fatalf("RPop = %q %v", v, err)
	}
	if v, err := cl.LPop("th:l"); err != nil || v != "b" {
		t.Fatalf("LPop = %q %v", v, err)
	}
	if n, err := cl.LLen("th:l"); err != nil || n != 1 {
		t.Fatalf("LLen = %d %v", n, err)
	}
	if n, err := cl.SAdd("th:s", "x", "y", "x"); err != nil || n != 2 {
		t.Fatalf("SAdd = %d %v", n, err)
	}
	if m, err := cl.SMembers("th:s"); err != nil || len(m) != 2 {
		t.Fatalf("SMembers = %v %v", m, err)
	}
	if n, err := cl.IncrBy("th:n", 5); err != nil || n != 5 {
		t.Fatalf("IncrBy = %d %v", n, err)
	}
	if n, err := cl.Decr("th:n"); err != nil || n != 4 {
		t.Fatalf("Decr = %d %v", n, err)
	}
	if ok, err := cl.Expire("th:n", 30*time.Second); err != nil || !ok {
		t.Fatalf("Expire = %v %v", ok, err)
	}
	if d, err := cl.TTL("th:n"); err != nil || d < 29*time.Second || d > 30*time.Second {
		t.Fatalf("TTL = %v %v", d, err)
	}
	if d, err := cl.TTL("th:nope"); err != nil || d != -2 {
		t.Fatalf("TTL missing = %v %v", d, err)
	}
	// multi-key commands across slots: the library splits them
	if err := cl.MSet("{th}a", "1", "th:c", "3"); err != nil {
		t.Fatalf("MSet: %v", err)
	}
	if v, err := cl.MGet("{th}a", "{th}b", "th:c"); err != nil || fmt.Sprint(v) != "[1 <nil> 3]" {
		t.Fatalf("MGet = %v %v", v, err)
	}
	if n, err := cl.Exists("{th}a", "{th}b", "th:c"); err != nil || n != 2 {
		t.Fatalf("Exists = %d %v", n, err)
	}
	if n, err := cl.Del("{th}a", "th:c", "th:h", "th:l", "th:s", "th:n"); err != nil || n != 6 {
		t.Fatalf("Del = %d %v", n, err)
	}
	if _, err := cl.Publish("th:chan", "hi"); err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if err := cl.PingContext(ctx); err != nil {
		t.Fatal(err)
	}
}

// Close while goroutines keep sending: every call returns, with a value or
// an error (ErrClosed once closed); none hangs.
func TestCloseWithCommandsInFlight(t *testing.T) {
	cl := NewClusterClient(&ClusterOptions{Addrs: seeds()})
	if err := cl.Err(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var ok, closed, other int64
	stop := time.Now().Add(5 * time.Second)
	for g := 0; g < 20; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; time.Now().Before(stop); i++ {
				_, err := cl.Do("SET", fmt.Sprintf("tcl:%d:%d", g, i%50), i)
				switch {
				case err == nil:
					atomic.AddInt64(&ok, 1)
				case errors.Is(err, ErrClosed):
					atomic.AddInt64(&closed, 1)
					return
				default:
					atomic.AddInt64(&other, 1)
					t.Errorf("SET: %v", err)
					return
				}
			}
		}(g)
	}
	time.Sleep(200 * time.Millisecond)
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	finished := make(chan struct{})
	go func() { wg.Wait(); close(finished) }()
	select {
	case <-finished:
	case <-time.After(5 * time.Second):
		t.Fatal("goroutines still waiting 5s after Close")
	}
	t.Logf("%d SETs done, %d goroutines saw ErrClosed, %d other errors", ok, closed, other)
	if ok == 0 || closed != 20 {
		t.Errorf("ok %d, closed %d (want every goroutine to see ErrClosed)", ok, closed)
	}
}

// A primary fails over (CLUSTER FAILOVER on its replica) while 20
// goroutines write: every call returns, and each counter holds exactly the
// INCRs that succeeded (plus, at most, those whose outcome was uncertain).
func TestFailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	cl := newClient(t, ClusterOptions{ReadTimeout: 5 * time.Second})
	var replica harnessNode
	for _, n := range cluster.nodes {
		if role(t, n.Port) == "slave" {
			replica = n
			break
		}
	}
	if replica.Port == 0 {
		t.Fatal("no replica")
	}
	const goroutines = 20
	var oks, uncertain, failed [goroutines]int64
	for g := 0; g < goroutines; g++ {
		cl.Del(fmt.Sprintf("tf:{%d}", g))
	}
	var wg sync.WaitGroup
	stopAt := time.Now().Add(20 * time.Second)
	var stop int32
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			key := fmt.Sprintf("tf:{%d}", g)
			for i := 0; i < 100000 && atomic.LoadInt32(&stop) == 0 && time.Now().Before(stopAt); i++ {
				_, err := cl.Incr(key)
				switch {
				case err == nil:
					oks[g]++
				case errors.Is(err, ErrUncertain), errors.Is(err, ErrTimeout):
					uncertain[g]++
				default:
					failed[g]++
				}
			}
		}(g)
	}
	time.Sleep(300 * time.Millisecond)
	redisCLI(t, replica.Port, "CLUSTER", "FAILOVER")
	deadline := time.Now().Add(15 * time.Second)
	for role(t, replica.Port) != "master" {
		if time.Now().After(deadline) {
			t.Fatal("failover did not happen within 15s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // load after the switch
	atomic.StoreInt32(&stop, 1)
	wg.Wait()
	// fail back, so the other tests see the shape they started with
	defer func() {
		redisCLI(t, replica.MasterPort, "CLUSTER", "FAILOVER")
		deadline := time.Now().Add(15 * time.Second)
		for role(t, replica.MasterPort) != "master" && time.Now().Before(deadline) {
			time.Sleep(50 * time.Millisecond)
		}
		if err := waitSettled(20 * time.Second); err != nil {
			t.Errorf("after failing back: %v", err)
		}
	}()
	var total, totalU, totalF int64
	for g := 0; g < goroutines; g++ {
		v, err := cl.DoRoute(RoutePrimary, "GET", fmt.Sprintf("tf:{%d}", g))
		if err != nil {
			t.Fatalf("GET counter %d: %v", g, err)
		}
		var n int64
		fmt.Sscan(v.(string), &n)
		if n < oks[g] || n > oks[g]+uncertain[g] {
			t.Errorf("counter %d = %d: %d INCRs succeeded, %d uncertain", g, n, oks[g], uncertain[g])
		}
		total += oks[g]
		totalU += uncertain[g]
		totalF += failed[g]
	}
	t.Logf("through the failover of %d: %d INCRs ok, %d uncertain, %d failed", replica.MasterPort,
		total, totalU, totalF)
	if total == 0 {
		t.Error("no INCR succeeded")
	}
}
