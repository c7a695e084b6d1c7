// Command bench measures a Go client of a Redis Cluster the way issue 18
// does: one client shared by -goroutines goroutines, -ops GETs over
// -keys keys, and reports ops/s and the process's CPU per op (getrusage:
// user+system of this process only, the client). With -ticker, a goroutine
// sleeping 1 ms at a time measures how late it wakes while the others
// hammer (p99 and max lateness). One run per process; see
// examples/bench/go_vs_goredis.sh for the interleaved runs and medians.
//
// The binding's runner is always built; go-redis's needs -tags goredis
// and a go.mod that can find it (the script writes one).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	clusterc "github.com/libclusterc/clusterc-go"
)

// runner is one client under test.
type runner interface {
	get(ctx context.Context, key string) error
	set(ctx context.Context, key, val string) error
	crossings() float64 // cgo crossings per command, -1 when not applicable
	close()
}

var runners = map[string]func(addrs []string, readOnly bool) (runner, error){
	"clusterc": newClustercRunner,
}

type clustercRunner struct{ c *clusterc.ClusterClient }

func newClustercRunner(addrs []string, readOnly bool) (runner, error) {
	c := clusterc.NewClusterClient(&clusterc.ClusterOptions{Addrs: addrs, ReadOnly: readOnly})
	if err := c.Err(); err != nil {
		return nil, err
	}
	return &clustercRunner{c}, nil
}

func (r *clustercRunner) get(ctx context.Context, key string) error {
	if _, err := r.c.GetContext(ctx, key); err != nil && err != clusterc.Nil {
		return err
	}
	return nil
}

func (r *clustercRunner) set(ctx context.Context, key, val string) error {
	return r.c.SetContext(ctx, key, val, 0)
}

func (r *clustercRunner) crossings() float64 { return r.c.CrossingStats().PerCommand() }
func (r *clustercRunner) close()             { r.c.Close() }

type result struct {
	Client     string  `json:"client"`
	Mode       string  `json:"mode"`
	Goroutines int     `json:"goroutines"`
	Ops        int64   `json:"ops"`
	Errors     int64   `json:"errors"`
	Seconds    float64 `json:"seconds"`
	OpsPerSec  float64 `json:"ops_per_s"`
	CPUUsPerOp float64 `json:"cpu_us_per_op"`
	Crossings  float64 `json:"crossings_per_cmd"`
	TickP99Us  float64 `json:"tick_p99_us,omitempty"`
	TickMaxUs  float64 `json:"tick_max_us,omitempty"`
	Ticks      int     `json:"ticks,omitempty"`
}

func cpuNow() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func main() {
	addrs := flag.String("addrs", "127.0.0.1:24700", "seed nodes, comma-separated")
	client := flag.String("client", "clusterc", "clusterc or goredis")
	readOnly := flag.Bool("readonly", false, "replica reads (ReadOnly)")
	goroutines := flag.Int("goroutines", 50, "goroutines sharing the client")
	ops := flag.Int64("ops", 200000, "GETs in total")
	keys := flag.Int("keys", 10000, "key space (bench:0 .. bench:N-1)")
	populate := flag.Bool("populate", false, "SET the keys and exit")
	ticker := flag.Bool("ticker", false, "measure a 1 ms sleeper's lateness meanwhile")
	limit := flag.Duration("limit", 120*time.Second, "stop the run after this long")
	flag.Parse()

	mk, ok := runners[*client]
	if !ok {
		fmt.Fprintf(os.Stderr, "client %q not built in (go-redis needs -tags goredis)\n", *client)
		os.Exit(2)
	}
	r, err := mk(strings.Split(*addrs, ","), *readOnly)
	if err != nil {
		fmt.Fprintln(os.Stderr, "connect:", err)
		os.Exit(1)
	}
	defer r.close()
	ctx := context.Background()
	if *populate {
		var wg sync.WaitGroup
		var bad int64
		for g := 0; g < 16; g++ {
			wg.Add(1)
			go func(g int) {
				defer wg.Done()
				for i := g; i < *keys; i += 16 {
					if err := r.set(ctx, fmt.Sprintf("bench:%d", i), strings.Repeat("v", 16)); err != nil {
						atomic.AddInt64(&bad, 1)
					}
				}
			}(g)
		}
		wg.Wait()
		if bad > 0 {
			fmt.Fprintf(os.Stderr, "populate: %d SETs failed\n", bad)
			os.Exit(1)
		}
		return
	}
	// Warm up: connections to every node, code paths.
	for i := 0; i < 2000; i++ {
		r.get(ctx, fmt.Sprintf("bench:%d", i%*keys))
	}
	names := make([]string, *keys)
	for i := range names {
		names[i] = fmt.Sprintf("bench:%d", i)
	}
	mode := "primary"
	if *readOnly {
		mode = "replica"
	}
	if *ticker {
		mode += "+ticker"
	}

	var tickStop int32
	var lateness []time.Duration
	tickDone := make(chan struct{})
	if *ticker {
		go func() {
			defer close(tickDone)
			next := time.Now().Add(time.Millisecond)
			for atomic.LoadInt32(&tickStop) == 0 {
				time.Sleep(time.Until(next))
				lateness = append(lateness, time.Since(next))
				next = next.Add(time.Millisecond)
				if now := time.Now(); next.Before(now) {
					next = now.Add(time.Millisecond) // a missed tick counts once
				}
			}
		}()
	} else {
		close(tickDone)
	}

	var left, errs int64 = *ops, 0
	deadline := time.Now().Add(*limit)
	runtime.GC()
	cpu0, t0 := cpuNow(), time.Now()
	var wg sync.WaitGroup
	for g := 0; g < *goroutines; g++ {
		wg.Add(1)
		go func(seed int64) {
			defer wg.Done()
			rnd := rand.New(rand.NewSource(seed))
			for atomic.AddInt64(&left, -1) >= 0 {
				if err := r.get(ctx, names[rnd.Intn(len(names))]); err != nil {
					atomic.AddInt64(&errs, 1)
				}
				if time.Now().After(deadline) {
					return
				}
			}
		}(int64(g))
	}
	wg.Wait()
	elapsed, cpu := time.Since(t0), cpuNow()-cpu0
	atomic.StoreInt32(&tickStop, 1)
	<-tickDone
	done := *ops
	if left < 0 {
		left = 0
	}
	done -= left
	res := result{Client: *client, Mode: mode, Goroutines: *goroutines, Ops: done, Errors: errs,
		Seconds: elapsed.Seconds(), OpsPerSec: float64(done) / elapsed.Seconds(),
		CPUUsPerOp: float64(cpu.Microseconds()) / float64(done), Crossings: r.crossings()}
	if len(lateness) > 0 {
		sort.Slice(lateness, func(i, j int) bool { return lateness[i] < lateness[j] })
		res.Ticks = len(lateness)
		res.TickP99Us = float64(lateness[len(lateness)*99/100].Microseconds())
		res.TickMaxUs = float64(lateness[len(lateness)-1].Microseconds())
	}
	json.NewEncoder(os.Stdout).Encode(res)
}
