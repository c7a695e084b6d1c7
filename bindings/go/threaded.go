package clusterc

// The concurrent engine of a ClusterClient: libclusterc's thread-safe face
// (<clusterc/threaded.h>), whose loop thread runs the cluster work, fed
// and drained in batches so that a command costs well under one cgo
// crossing under load.
//
// Submission (flat combining): a goroutine appends its command to the
// current batch under a short mutex. If no other goroutine is submitting,
// it becomes the flusher: it hands the batch to C with one
// clusterc_threaded_submit_packed call, outside the mutex; commands that
// other goroutines append meanwhile go into the next batch, which the
// flusher submits too before it leaves. Uncontended, a command is
// submitted at once (one crossing); under load, one crossing carries
// every command that arrived while the previous one was in C.
//
// Completion: one goroutine per client sits in clusterc_threaded_wait
// (one OS thread blocked for all commands in flight, none per command),
// takes up to 256 completions per crossing, converts each reply into Go
// values by reading the redisReply fields directly (no call per element),
// wakes the goroutine waiting for it, and gives the batch back to C at the
// start of its next wait (same crossing).
//
// Each command carries a token: its slot in a table of calls (index and a
// generation). A goroutine whose context ends stops waiting at once and
// marks its call abandoned; the slot stays taken until the library
// completes the command (exactly once, as the face promises), and that
// late completion is dropped.

/*
#include <stdint.h>
#include <stdlib.h>
#include <clusterc/threaded.h>

// Give back the previous batch's completions, then wait for the next ones:
// one crossing per batch.
static int clusterc_go_wait(clusterc_threaded *t, clusterc_completion *out, int max,
			    int prev, int timeout_ms)
{
	clusterc_completion_release_n(out, prev);
	return clusterc_threaded_wait(t, out, max, timeout_ms);
}

static void clusterc_go_release(clusterc_completion *out, int n)
{
	clusterc_completion_release_n(out, n);
}
*/
import "C"

import (
	"context"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"unsafe"
)

// waitBatch is how many completions one crossing takes at most.
const waitBatch = 256

// Call states (call.state, atomic).
const (
	callPending   = 0
	callDone      = 1
	callAbandoned = 2
)

// call is one command in flight, waited for by one goroutine.
type call struct {
	done  chan struct{} // buffered 1: the dispatcher's signal
	state int32
	val   interface{}
	err   error
}

var callPool = sync.Pool{New: func() interface{} { return &call{done: make(chan struct{}, 1)} }}

func getCall() *call {
	c := callPool.Get().(*call)
	c.state = callPending
	return c
}

// putCall recycles a call whose result was taken (never an abandoned one:
// the dispatcher may still write to it).
func putCall(c *call) {
	c.val, c.err = nil, nil
	callPool.Put(c)
}

// complete hands the result over (dispatcher or a refused submission).
func (c *call) complete(v interface{}, err error) {
	c.val, c.err = v, err
	if atomic.CompareAndSwapInt32(&c.state, callPending, callDone) {
		c.done <- struct{}{}
	}
	// abandoned: the waiter left; the result is dropped with the call
}

// wait waits for the result or the end of ctx. The call is recycled
// unless it was abandoned.
func (c *call) wait(ctx context.Context) (interface{}, error) {
	if d := ctx.Done(); d != nil {
		select {
		case <-c.done:
		case <-d:
			if atomic.CompareAndSwapInt32(&c.state, callPending, callAbandoned) {
				return nil, ctx.Err()
			}
			<-c.done // completed meanwhile: take its result
		}
	} else {
		<-c.done
	}
	v, err := c.val, c.err
	putCall(c)
	return v, err
}

// batch is commands packed for clusterc_threaded_submit_packed: Go slices
// of C types holding no Go pointers, so they may be handed to C as they
// are (the call copies what it keeps).
type batch struct {
	tokens []C.uint64_t
	routes []C.int
	argc   []C.int
	lens   []C.size_t
	buf    []byte
	lenAt  []int // per command: its first entry in lens
	bufAt  []int // per command: its first byte in buf
}

func (b *batch) n() int { return len(b.tokens) }

func (b *batch) reset() {
	b.tokens, b.routes, b.argc = b.tokens[:0], b.routes[:0], b.argc[:0]
	b.lens, b.buf, b.lenAt, b.bufAt = b.lens[:0], b.buf[:0], b.lenAt[:0], b.bufAt[:0]
}

func (b *batch) begin(tok uint64, route, argc int) {
	b.tokens = append(b.tokens, C.uint64_t(tok))
	b.routes = append(b.routes, C.int(route))
	b.argc = append(b.argc, C.int(argc))
	b.lenAt = append(b.lenAt, len(b.lens))
	b.bufAt = append(b.bufAt, len(b.buf))
}

func (b *batch) addString(s string) {
	b.lens = append(b.lens, C.size_t(len(s)))
	b.buf = append(b.buf, s...)
}

func (b *batch) addBytes(p []byte) {
	b.lens = append(b.lens, C.size_t(len(p)))
	b.buf = append(b.buf, p...)
}

// core is the threaded client and its goroutines' shared state. It never
// refers to the ClusterClient, so an unreferenced client is finalized.
type core struct {
	t *C.clusterc_threaded

	mu       sync.Mutex
	idle     sync.Cond // Broadcast when a flush ends (Close waits for it)
	closed   bool
	flushing bool
	users    int // calls into C outside submit (node stats) in progress
	cur      *batch
	spare    *batch
	calls    []*call  // by token index; nil = free
	gens     []uint32 // generation of each index
	free     []uint32 // free indexes

	dispatched chan struct{} // closed when the dispatcher has left

	// cgo crossings, for CrossingStats
	nCommands int64
	nSubmits  int64
	nWaits    int64
}

// CrossingStats counts a client's commands and the cgo crossings that
// carried them (submissions and completion waits); Crossings()/Commands is
// the average number of crossings per command.
type CrossingStats struct {
	Commands int64 // commands submitted to the threaded face
	Submits  int64 // clusterc_threaded_submit_packed calls
	Waits    int64 // clusterc_threaded_wait calls that returned completions
}

// PerCommand is (Submits+Waits)/Commands.
func (s CrossingStats) PerCommand() float64 {
	if s.Commands == 0 {
		return 0
	}
	return float64(s.Submits+s.Waits) / float64(s.Commands)
}

func newCore(t *C.clusterc_threaded) *core {
	co := &core{t: t, cur: &batch{}, spare: &batch{}, dispatched: make(chan struct{})}
	co.idle.L = &co.mu
	go co.dispatch()
	return co
}

// register gives c a token. Call with co.mu held.
func (co *core) registerLocked(c *call) uint64 {
	var idx uint32
	if n := len(co.free); n > 0 {
		idx = co.free[n-1]
		co.free = co.free[:n-1]
		co.calls[idx] = c
	} else {
		idx = uint32(len(co.calls))
		co.calls = append(co.calls, c)
		co.gens = append(co.gens, 0)
	}
	return uint64(co.gens[idx])<<32 | uint64(idx)
}

// unregisterLocked frees tok's slot and returns its call (nil: unknown).
func (co *core) unregisterLocked(tok uint64) *call {
	idx := uint32(tok)
	if int(idx) >= len(co.calls) || co.gens[idx] != uint32(tok>>32) {
		return nil
	}
	c := co.calls[idx]
	if c == nil {
		return nil
	}
	co.calls[idx] = nil
	co.gens[idx]++
	co.free = append(co.free, idx)
	return c
}

// cmd is one command to submit: string arguments (typed helpers) or byte
// arguments (Do), not both.
type cmd struct {
	route int
	strs  []string
	bytes [][]byte
	c     *call
}

func (m *cmd) argc() int {
	if m.strs != nil {
		return len(m.strs)
	}
	return len(m.bytes)
}

// submit queues the commands and flushes them (see the file comment).
// Their calls complete in every case: refused ones at once.
func (co *core) submit(cmds []cmd) {
	co.mu.Lock()
	if co.closed {
		co.mu.Unlock()
		for i := range cmds {
			cmds[i].c.complete(nil, ErrClosed)
		}
		return
	}
	b := co.cur
	for i := range cmds {
		m := &cmds[i]
		b.begin(co.registerLocked(m.c), m.route, m.argc())
		if m.strs != nil {
			for _, s := range m.strs {
				b.addString(s)
			}
		} else {
			for _, p := range m.bytes {
				b.addBytes(p)
			}
		}
	}
	co.nCommands += int64(len(cmds))
	if co.flushing {
		co.mu.Unlock() // the flusher takes them with its next batch
		return
	}
	co.flushing = true
	if len(co.calls)-len(co.free) > co.cur.n() {
		// Other commands are in flight, so their goroutines are likely
		// runnable now (woken by the dispatcher) and about to submit: let
		// them append to this batch first, so one crossing carries them all.
		co.mu.Unlock()
		runtime.Gosched()
		co.mu.Lock()
	}
	for co.cur.n() > 0 {
		b := co.cur
		co.cur, co.spare = co.spare, nil
		co.nSubmits++
		co.mu.Unlock()
		co.submitBatch(b)
		b.reset()
		co.mu.Lock()
		co.spare = b
	}
	co.flushing = false
	co.idle.Broadcast()
	co.mu.Unlock()
}

// submitBatch hands b to C, failing the commands it refuses. Runs without
// co.mu, by the one flusher.
func (co *core) submitBatch(b *batch) {
	n := b.n()
	for off := 0; off < n; {
		var cerr C.int
		la, ba := b.lenAt[off], b.bufAt[off]
		var lens *C.size_t
		var buf *C.char
		if la < len(b.lens) {
			lens = &b.lens[la]
		}
		if ba < len(b.buf) {
			buf = (*C.char)(unsafe.Pointer(&b.buf[ba]))
		}
		k := int(C.clusterc_threaded_submit_packed(co.t, C.int(n-off), &b.tokens[off],
			&b.routes[off], &b.argc[off], lens, buf, &cerr))
		if k < 0 {
			k = 0
		}
		off += k
		if off >= n {
			break
		}
		// Command off was refused; the ones after it were not tried.
		code := int(cerr)
		if code == 0 {
			code = int(C.CLUSTERC_EINVAL)
		}
		last := off + 1
		if code == int(C.CLUSTERC_ECLOSED) || code == int(C.CLUSTERC_ENOMEM) {
			last = n // none of the rest will be taken
		}
		for i := off; i < last; i++ {
			co.mu.Lock()
			c := co.unregisterLocked(uint64(b.tokens[i]))
			co.mu.Unlock()
			if c != nil {
				c.complete(nil, refusal(code))
			}
		}
		off = last
	}
}

func refusal(code int) error {
	switch code {
	case int(C.CLUSTERC_ECLOSED):
		return ErrClosed
	case int(C.CLUSTERC_EINVAL):
		return &ClientError{Code: code, Msg: "command refused: " + Strerror(code)}
	}
	return &ClientError{Code: code, Msg: Strerror(code)}
}

// dispatch is the completion goroutine: the one OS thread blocked in
// clusterc_threaded_wait while commands are in flight.
func (co *core) dispatch() {
	defer close(co.dispatched)
	size := C.size_t(unsafe.Sizeof(C.clusterc_completion{}))
	out := (*C.clusterc_completion)(C.calloc(waitBatch, size))
	if out == nil {
		panic("clusterc: out of memory")
	}
	defer C.free(unsafe.Pointer(out))
	comps := unsafe.Slice(out, waitBatch)
	calls := make([]*call, waitBatch)
	prev := 0
	for {
		n := int(C.clusterc_go_wait(co.t, out, waitBatch, C.int(prev), -1))
		prev = 0
		if n < 0 {
			break // CLUSTERC_ECLOSED: closed and drained
		}
		if n == 0 {
			continue // woken
		}
		prev = n
		co.mu.Lock()
		co.nWaits++
		for i := 0; i < n; i++ {
			if comps[i].kind == C.CLUSTERC_COMPLETION_REPLY {
				calls[i] = co.unregisterLocked(uint64(comps[i].token))
			}
		}
		co.mu.Unlock()
		for i := 0; i < n; i++ {
			cp := &comps[i]
			if cp.kind != C.CLUSTERC_COMPLETION_REPLY {
				continue // MESSAGE: Pub/Sub stays on the blocking face (pubsub.go)
			}
			c := calls[i]
			calls[i] = nil
			if c == nil || atomic.LoadInt32(&c.state) != callPending {
				continue // abandoned by its context: dropped
			}
			if cp.reply == nil {
				code := int(cp.code)
				msg := ""
				if cp.errstr != nil {
					msg = C.GoString(cp.errstr)
				}
				if code == 0 {
					code = int(C.CLUSTERC_EPROTOCOL)
				}
				c.complete(nil, &ClientError{Code: code, Msg: msg})
				continue
			}
			v, err := replyValue(cp.reply)
			c.complete(v, err)
		}
	}
	if prev > 0 {
		C.clusterc_go_release(out, C.int(prev))
	}
	// Every accepted command completed by now; anything left is a bug
	// of the face: fail it rather than leave its goroutine waiting.
	co.mu.Lock()
	var left []*call
	for i, c := range co.calls {
		if c != nil {
			left = append(left, c)
			co.calls[i] = nil
		}
	}
	co.mu.Unlock()
	for _, c := range left {
		c.complete(nil, &ClientError{Code: int(C.CLUSTERC_ECLOSED), Msg: "client closed before the command completed"})
	}
}

// close refuses new commands, waits for the flusher, closes the C client
// (every accepted command completes), stops the dispatcher and frees it.
func (co *core) close() {
	co.mu.Lock()
	if co.closed {
		co.mu.Unlock()
		return
	}
	co.closed = true
	for co.flushing {
		co.idle.Wait()
	}
	co.mu.Unlock()
	C.clusterc_threaded_close(co.t)
	<-co.dispatched
	co.mu.Lock()
	for co.users > 0 {
		co.idle.Wait()
	}
	co.mu.Unlock()
	C.clusterc_threaded_free(co.t)
}

func (co *core) isClosed() bool {
	co.mu.Lock()
	defer co.mu.Unlock()
	return co.closed
}

func (co *core) stats() CrossingStats {
	co.mu.Lock()
	defer co.mu.Unlock()
	return CrossingStats{Commands: co.nCommands, Submits: co.nSubmits, Waits: co.nWaits}
}

// ------------------------------------------------------------- replies

// replyValue converts a top-level reply: nil gives Nil, an error reply an
// Error.
func replyValue(r *C.redisReply) (interface{}, error) {
	switch r._type {
	case C.CLUSTERC_REPLY_NIL:
		return nil, Nil
	case C.CLUSTERC_REPLY_ERROR:
		return nil, Error(replyStr(r))
	}
	return replyConv(r), nil
}

// replyStr copies a reply's string, read from the struct (no crossing:
// C.GoStringN is the Go runtime's).
func replyStr(r *C.redisReply) string {
	if r.str == nil || r.len == 0 {
		return ""
	}
	return C.GoStringN(r.str, C.int(r.len))
}

func replyElems(r *C.redisReply) []*C.redisReply {
	if r.elements == 0 || r.element == nil {
		return nil
	}
	return unsafe.Slice(r.element, int(r.elements))
}

// replyConv copies a reply into Go values, reading the redisReply fields
// directly (cgo compiles them against the installed hiredis header, 0.14 or
// 1.x): no crossing per element. Both faces' replies come through here.
func replyConv(r *C.redisReply) interface{} {
	if r == nil {
		return nil
	}
	switch t := int(r._type); t {
	case C.CLUSTERC_REPLY_STRING, C.CLUSTERC_REPLY_STATUS, replyBignum, replyVerb:
		return replyStr(r)
	case C.CLUSTERC_REPLY_INTEGER:
		return int64(r.integer)
	case C.CLUSTERC_REPLY_NIL:
		return nil
	case C.CLUSTERC_REPLY_ERROR:
		return Error(replyStr(r))
	case replyDouble:
		s := replyStr(r)
		if f, err := strconv.ParseFloat(s, 64); err == nil {
			return f
		}
		return s
	case replyBool:
		return r.integer != 0
	case replyMap, replyAttr:
		el := replyElems(r)
		m := make(map[interface{}]interface{}, len(el)/2)
		for i := 0; i+1 < len(el); i += 2 {
			k := replyConv(el[i])
			v := replyConv(el[i+1])
			if isHashable(k) {
				m[k] = v
			} else {
				m[fmt.Sprint(k)] = v
			}
		}
		return m
	default: // arrays, sets, pushes
		el := replyElems(r)
		out := make([]interface{}, len(el))
		for i, e := range el {
			out[i] = replyConv(e)
		}
		return out
	}
}

// ------------------------------------------------------------- client glue

// newThreadedClient connects over the threaded face. Like the blocking
// face's connect, it waits for the first slot-map load (a PING waits for
// it), so that Err() says why the cluster could not be reached.
func newThreadedClient(rawurl string) *ClusterClient {
	cu := C.CString(rawurl)
	t := C.clusterc_threaded_connect_url(cu)
	C.free(unsafe.Pointer(cu))
	if t == nil {
		return &ClusterClient{initErr: &ClientError{Code: int(C.CLUSTERC_ENOMEM)}, fatal: true}
	}
	if code := int(C.clusterc_threaded_error(t)); code != 0 {
		err := &ClientError{Code: code, Msg: C.GoString(C.clusterc_threaded_errstr(t))}
		C.clusterc_threaded_free(t)
		return &ClusterClient{initErr: err, fatal: true}
	}
	cl := &ClusterClient{url: rawurl, co: newCore(t)}
	if _, err := cl.co.do(context.Background(), RouteDefault, []string{"PING"}, nil); err != nil {
		if _, ok := err.(*ClientError); ok {
			cl.initErr = err
		}
	}
	runtime.SetFinalizer(cl, func(cl *ClusterClient) { _ = cl.Close() })
	return cl
}

// do runs one command and waits for it (or for ctx).
func (co *core) do(ctx context.Context, route int, strs []string, bytes [][]byte) (interface{}, error) {
	c := getCall()
	one := [1]cmd{{route: route, strs: strs, bytes: bytes, c: c}}
	co.submit(one[:])
	return c.wait(ctx)
}

// nodeStatsJSON is clusterc_threaded_node_stats_json's text.
func (co *core) nodeStatsJSON() (string, error) {
	co.mu.Lock()
	if co.closed {
		co.mu.Unlock()
		return "", ErrClosed
	}
	co.users++
	co.mu.Unlock()
	s := C.clusterc_threaded_node_stats_json(co.t)
	co.mu.Lock()
	co.users--
	closed := co.closed
	co.idle.Broadcast()
	co.mu.Unlock()
	if s == nil {
		if closed {
			return "", ErrClosed
		}
		return "", &ClientError{Code: int(C.CLUSTERC_ENOMEM), Msg: "node stats: out of memory"}
	}
	text := C.GoString(s)
	C.free(unsafe.Pointer(s))
	return text, nil
}
