package clusterc

// ScanIter against the TestMain cluster (stable here, so every key comes
// exactly once).

import (
	"errors"
	"fmt"
	"sort"
	"testing"
)

func scanFill(t *testing.T, cl *ClusterClient, prefix string, n int) map[string]bool {
	t.Helper()
	keys := make(map[string]bool, n)
	for i := 0; i < n; i++ {
		k := fmt.Sprintf("%s%d", prefix, i)
		if err := cl.Set(k, "v", 0); err != nil {
			t.Fatalf("SET %s: %v", k, err)
		}
		keys[k] = true
	}
	t.Cleanup(func() {
		for k := range keys {
			cl.Del(k)
		}
	})
	return keys
}

func scanAll(t *testing.T, it *ScanIterator) []string {
	t.Helper()
	var got []string
	for it.Next() {
		got = append(got, it.Val())
	}
	if err := it.Err(); err != nil {
		t.Fatalf("scan: %v", err)
	}
	return got
}

func TestScanIterEveryKeyOnce(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	keys := scanFill(t, cl, "goscan:a:", 500)
	thirds := map[int]bool{}
	for k := range keys {
		thirds[Keyslot(k)*3/16384] = true
	}
	if len(thirds) != 3 {
		t.Fatalf("keys in %d thirds of the slots", len(thirds))
	}
	for _, count := range []int64{0, 50} {
		got := scanAll(t, cl.ScanIter("goscan:a:*", count, ""))
		seen := map[string]bool{}
		for _, k := range got {
			if seen[k] {
				t.Errorf("count %d: %q returned twice in a stable cluster", count, k)
			}
			if !keys[k] {
				t.Errorf("count %d: unexpected key %q", count, k)
			}
			seen[k] = true
		}
		if len(seen) != len(keys) {
			t.Errorf("count %d: %d keys, want %d", count, len(seen), len(keys))
		}
	}
	if got := scanAll(t, cl.ScanIter("goscan:none:*", 0, "")); len(got) != 0 {
		t.Errorf("no key should match, got %v", got)
	}
}

func TestScanIterType(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	strs := scanFill(t, cl, "goscan:t:", 200)
	var lists []string
	for i := 0; i < 20; i++ {
		k := fmt.Sprintf("goscan:t:list%d", i)
		if _, err := cl.Do("RPUSH", k, "x"); err != nil {
			t.Fatal(err)
		}
		lists = append(lists, k)
	}
	t.Cleanup(func() { cl.Del(lists...) })
	got := scanAll(t, cl.ScanIter("goscan:t:*", 100, "list"))
	sort.Strings(got)
	sort.Strings(lists)
	if fmt.Sprint(got) != fmt.Sprint(lists) {
		t.Errorf("TYPE list: got %v, want %v", got, lists)
	}
	got = scanAll(t, cl.ScanIter("goscan:t:*", 0, "string"))
	if len(got) != len(strs) {
		t.Errorf("TYPE string: %d keys, want %d", len(got), len(strs))
	}
	for _, k := range got {
		if !strs[k] {
			t.Errorf("TYPE string: unexpected %q", k)
		}
	}
}

func TestScanIterCloseEarly(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	keys := scanFill(t, cl, "goscan:e:", 300)
	it := cl.ScanIter("goscan:e:*", 10, "")
	for i := 0; i < 5; i++ {
		if !it.Next() || !keys[it.Val()] {
			t.Fatalf("Next %d: %q %v", i, it.Val(), it.Err())
		}
	}
	// commands and a second scan run between batches
	if v, err := cl.Get("goscan:e:0"); err != nil || v != "v" {
		t.Fatalf("GET between batches: %q %v", v, err)
	}
	if n := len(scanAll(t, cl.ScanIter("goscan:e:*", 0, ""))); n != len(keys) {
		t.Errorf("interleaved scan: %d keys, want %d", n, len(keys))
	}
	it.Close()
	it.Close() // idempotent
	if it.Next() || it.Err() != nil {
		t.Errorf("after Close: Next true or Err %v", it.Err())
	}
	if len(cl.scans) != 0 {
		t.Errorf("%d scans left open", len(cl.scans))
	}
	// never started: nothing to free
	cl.ScanIter("x*", 0, "").Close()

	// left open over the client's Close: freed there, Next then fails
	cl2 := NewClusterClient(&ClusterOptions{Addrs: seeds()})
	it2 := cl2.ScanIter("goscan:e:*", 10, "")
	if !it2.Next() {
		t.Fatalf("Next: %v", it2.Err())
	}
	if len(cl2.scans) != 1 {
		t.Fatalf("%d scans open, want 1", len(cl2.scans))
	}
	cl2.Close()
	for it2.Next() {
	}
	if !errors.Is(it2.Err(), ErrClosed) {
		t.Errorf("after the client's Close: Err %v, want ErrClosed", it2.Err())
	}
	it2.Close()
}
