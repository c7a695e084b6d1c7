package clusterc

// Cluster-wide SCAN over libclusterc's blocking face (clusterc_scan_start,
// clusterc_scan_next, clusterc_scan_free in clusterc.h).
//
// The library walks the 16384 slots, not the nodes: it SCANs the primary of
// the lowest unfinished slot, and a slot counts as finished only when its
// owner still owns it at the end of that node's scan. Every key present for
// the whole scan is returned at least once, even while slots move or
// primaries fail over; a key may come twice when its slot moved (or a
// node's SCAN failed part way). Keys added or removed meanwhile may or may
// not come.

/*
#include <stdlib.h>
#include <clusterc/clusterc.h>
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// ScanIterator walks the keys of a cluster-wide SCAN, go-redis's shape:
//
//	it := rdb.ScanIter("user:*", 100, "")
//	defer it.Close()
//	for it.Next() {
//		key := it.Val()
//	}
//	if err := it.Err(); err != nil { ... }
//
// The client's lock is held only while a batch of keys is fetched, so other
// goroutines' commands run between batches. An iterator is for one
// goroutine at a time. The C scan is freed when Next returns false, by
// Close, by the client's Close (for the scans still open then), or by a
// finalizer when the iterator is garbage collected.
type ScanIterator struct {
	cl      *ClusterClient
	s       *C.clusterc_scan // nil before the first Next and after the end
	match   string
	count   int64
	typ     string
	started bool
	done    bool
	keys    []string // the current batch, from pos on
	pos     int
	val     string
	err     error
}

// ScanIter starts a cluster-wide SCAN (nothing is sent before the first
// Next). match is SCAN's MATCH pattern and typ its TYPE (Redis 6+); ""
// means all keys, any type. count is SCAN's COUNT hint per step (<= 0: 10).
func (cl *ClusterClient) ScanIter(match string, count int64, typ string) *ScanIterator {
	it := &ScanIterator{cl: cl, match: match, count: count, typ: typ}
	runtime.SetFinalizer(it, func(it *ScanIterator) { it.Close() })
	return it
}

// Next advances to the next key; false at the end or on failure (see Err).
func (it *ScanIterator) Next() bool {
	for it.pos >= len(it.keys) {
		if it.done || it.err != nil {
			return false
		}
		it.keys, it.pos = nil, 0
		it.fetch()
	}
	it.val = it.keys[it.pos]
	it.pos++
	return true
}

// fetch gets the next batch into it.keys, or sets it.done / it.err.
func (it *ScanIterator) fetch() {
	cl := it.cl
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		it.err = err
		it.endLocked()
		return
	}
	if it.s == nil && it.started {
		// The client's Close freed it meanwhile (usable said so already).
		it.err = ErrClosed
		return
	}
	defer cl.hooks.rethrow() // after the reply is freed, before the unlock
	if !it.started {
		it.started = true
		var cm, ct *C.char
		if it.match != "" {
			cm = C.CString(it.match)
			defer C.free(unsafe.Pointer(cm))
		}
		if it.typ != "" {
			ct = C.CString(it.typ)
			defer C.free(unsafe.Pointer(ct))
		}
		it.s = C.clusterc_scan_start(cl.c, cm, C.long(it.count), ct)
		if it.s == nil {
			it.err = cl.lastError()
			return
		}
		if cl.scans == nil {
			cl.scans = make(map[*C.clusterc_scan]struct{})
		}
		cl.scans[it.s] = struct{}{}
	}
	var r *C.redisReply
	switch C.clusterc_scan_next(it.s, &r) {
	case 1:
		n := int(C.clusterc_reply_elements(r))
		keys := make([]string, 0, n)
		for i := 0; i < n; i++ {
			if e := C.clusterc_reply_element(r, C.size_t(i)); e != nil {
				keys = append(keys, replyStr(e))
			}
		}
		C.clusterc_reply_free(r)
		it.keys = keys
	case 0:
		it.done = true
		it.endLocked()
	default:
		it.err = cl.lastError()
		it.endLocked()
	}
}

// endLocked frees the C scan, if still ours. Call with the client's lock.
func (it *ScanIterator) endLocked() {
	if it.s == nil {
		return
	}
	if _, ok := it.cl.scans[it.s]; ok {
		delete(it.cl.scans, it.s)
		C.clusterc_scan_free(it.s)
	}
	it.s = nil
}

// Val is the current key (after Next returned true).
func (it *ScanIterator) Val() string { return it.val }

// Err is why the scan stopped early (the client's *ClientError, ErrClosed),
// or nil after a complete scan.
func (it *ScanIterator) Err() error { return it.err }

// Close frees the C scan; Next returns false afterwards. Idempotent; not
// needed after Next returned false.
func (it *ScanIterator) Close() {
	cl := it.cl
	cl.mu.Lock()
	it.endLocked()
	it.started, it.done, it.keys, it.pos = true, true, nil, 0
	cl.mu.Unlock()
	runtime.SetFinalizer(it, nil)
}

// freeScansLocked frees every scan still open, before the C client goes
// (Close). Call with the lock held.
func (cl *ClusterClient) freeScansLocked() {
	for s := range cl.scans {
		C.clusterc_scan_free(s)
	}
	cl.scans = nil
}
