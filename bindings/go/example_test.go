package clusterc_test

import (
	"crypto/tls"
	"errors"
	"fmt"
	"time"

	clusterc "github.com/libclusterc/clusterc-go"
)

// The lab's go-redis example (docs/lab-add-replica.md, the 3+3 cluster on
// 127.0.0.1:7001-7006), ported line for line. go-redis's lines are in the
// comments on the right; the only changes are the import, the package name
// and the dropped context argument (libclusterc calls block until the reply
// or the command's deadline, ReadTimeout).
//
// It has no "Output:" comment, so `go test` compiles it but does not run it:
// it needs the lab's cluster (examples/lab/lab.sh cluster-up).
func Example_lab() {
	rdb := clusterc.NewClusterClient(&clusterc.ClusterOptions{ // rdb := redis.NewClusterClient(&redis.ClusterOptions{
		Addrs:          []string{"localhost:7001", "localhost:7002", "localhost:7003"}, //	Addrs: []string{"localhost:7001", ...},
		ReadOnly:       true,                                                           //	ReadOnly: true,
		RouteByLatency: true,                                                           //	RouteByLatency: true,
		RouteRandomly:  false,                                                          //	RouteRandomly: false,
	}) // })
	defer rdb.Close() // defer rdb.Close()

	if err := rdb.Set("user:1", "ada", 0); err != nil { // if err := rdb.Set(ctx, "user:1", "ada", 0).Err(); err != nil {
		panic(err) //	panic(err)
	} // }

	val, err := rdb.Get("user:1") // val, err := rdb.Get(ctx, "user:1").Result()
	if err != nil {               // if err != nil {
		panic(err) //	panic(err)
	} // }
	fmt.Println("user:1", val) // fmt.Println("user:1", val)

	_, err = rdb.Get("missing") // _, err = rdb.Get(ctx, "missing").Result()
	if err == clusterc.Nil {    // if err == redis.Nil {
		fmt.Println("missing does not exist") //	fmt.Println("missing does not exist")
	} // }

	n, err := rdb.Do("INCR", "visits") // n, err := rdb.Do(ctx, "INCR", "visits").Result()
	if err != nil {                    // if err != nil {
		panic(err) //	panic(err)
	} // }
	fmt.Println("visits", n) // fmt.Println("visits", n)

	if err := rdb.Set("session:1", "x", 30*time.Second); err != nil { // ...Set(ctx, "session:1", "x", 30*time.Second).Err()
		panic(err) //	panic(err)
	} // }
}

// Where the reads went: the client's view of each node (clusterc_node_stats).
func ExampleClusterClient_NodeStats() {
	rdb := clusterc.NewClusterClient(&clusterc.ClusterOptions{
		Addrs:         []string{"127.0.0.1:7001"},
		RouteRandomly: true,
	})
	defer rdb.Close()
	nodes, err := rdb.NodeStats()
	if err != nil {
		panic(err)
	}
	for _, n := range nodes {
		fmt.Printf("%-21s %-7s reads=%d eligible=%v (%s)\n", n.Addr, n.Role, n.Reads, n.Eligible, n.Why)
	}
}

// Lifecycle events and the command hook: log map changes and nodes lost,
// count failed commands by node. The funcs run inside the client's calls,
// on the calling goroutine: keep them short, never call rdb from them.
func ExampleClusterOptions_hooks() {
	failed := map[string]int{}
	rdb := clusterc.NewClusterClient(&clusterc.ClusterOptions{
		Addrs: []string{"127.0.0.1:7001"},
		OnEvent: func(ev clusterc.Event) {
			fmt.Printf("%v %s %s\n", ev.Type, ev.Node, ev.Detail) // READY, MAP_UPDATED, NODE_FAILING...
		},
		OnCommand: func(ci clusterc.CommandInfo) {
			if ci.Code != 0 {
				failed[ci.Node]++
			}
		},
	})
	rdb.Get("user:1")
	rdb.Close() // DRAINED, the last event
	fmt.Println("failed commands by node:", failed)
}

// TLS, for a managed cluster (rediss://) or the lab's (LAB_TLS=1): the CA
// and, for mutual TLS, the client certificate are PEM files, read by the C
// library. A go-redis TLSConfig carrying ServerName, InsecureSkipVerify
// or MinVersion is taken as is; its RootCAs or Certificates are refused
// (ErrInvalid), naming TLSCAFile / TLSCertFile.
func ExampleClusterOptions_tls() {
	rdb := clusterc.NewClusterClient(&clusterc.ClusterOptions{
		Addrs:       []string{"localhost:7001"},
		TLS:         true,
		TLSCAFile:   "tls/ca.crt",
		TLSCertFile: "tls/client.crt", // mutual TLS (tls-auth-clients yes)
		TLSKeyFile:  "tls/client.key",
		TLSConfig:   &tls.Config{MinVersion: tls.VersionTLS12}, // go-redis style: optional
	})
	defer rdb.Close()
	if err := rdb.Err(); errors.Is(err, clusterc.ErrTLS) {
		fmt.Println("TLS refused:", err) // unknown CA, host name mismatch, ...
	}
	// The same as a URL: rediss:// turns TLS on.
	rdb2 := clusterc.NewClusterClientURL("rediss://localhost:7001?tls_ca_file=tls/ca.crt")
	defer rdb2.Close()
}
