// Package clusterc is a Go binding of libclusterc, a Redis Cluster / Valkey
// client library written in C. Its options carry go-redis's names
// (ClusterOptions{Addrs, ReadOnly, RouteByLatency, RouteRandomly, ...}), so
// code written against go-redis's ClusterClient ports over with few changes;
// the calls return (value, error) directly, and take a context in their
// ...Context variants (GetContext(ctx, key)):
//
//	rdb := clusterc.NewClusterClient(&clusterc.ClusterOptions{
//		Addrs:          []string{"localhost:7001", "localhost:7002", "localhost:7003"},
//		ReadOnly:       true,
//		RouteByLatency: true,
//	})
//	defer rdb.Close()
//	err := rdb.Set("key", "value", 0)
//	val, err := rdb.Get("key")          // err == clusterc.Nil when the key is missing
//	v, err := rdb.Do("INCRBY", "n", 5)  // int64(…)
//
// Routing, redirects (MOVED/ASK), retries and slot-map refreshes happen in
// the C library; this package only formats arguments, converts replies and
// owns the C objects.
//
// # Building
//
// cgo needs libclusterc's header and library. The header directory of this
// source tree (../../include) is on the include path already; hiredis's
// headers come from the system (<hiredis/hiredis.h>, Debian: libhiredis-dev).
// Tell the linker where libclusterc is and the loader where to find it at
// run time, e.g. for a CMake build in ../../build:
//
//	CGO_LDFLAGS="-L$PWD/../../build/lib" LD_LIBRARY_PATH=$PWD/../../build/lib go test ./...
//
// For an installed tree (the pkg-config file clusterc.pc):
//
//	CGO_CFLAGS="$(pkg-config --cflags clusterc)" CGO_LDFLAGS="$(pkg-config --libs clusterc)" go build
//
// The package has no dependencies outside the Go standard library, so it
// builds offline (GOFLAGS=-mod=mod GOPROXY=off).
//
// # Goroutines and threads
//
// A ClusterClient is safe for concurrent use and meant to be shared by all
// the goroutines of a program: their commands run at the same time over
// libclusterc's thread-safe face (<clusterc/threaded.h>), whose loop thread
// does the cluster work. Submissions from many goroutines are handed to C
// in batches (clusterc_threaded_submit_packed), and one goroutine per
// client waits for completions in batches (clusterc_threaded_wait), so a
// command costs well under one cgo crossing under load and no OS thread
// is blocked per command in flight (threaded.go). The ...Context variants
// give up when their context ends. runtime.LockOSThread is not needed.
//
// A client with hooks (OnEvent, OnCommand) runs on the blocking face
// instead, one command at a time under a mutex, so that the hooks run on
// the calling goroutine as described below. Pub/Sub, ScanIter and Admin use
// a blocking client of their own, made on first use.
//
// # Hooks
//
// ClusterOptions.OnEvent and OnCommand are called on the goroutine that
// made the call into the client (NewClusterClient, a command, Poll,
// NodeStats, Close), from inside that call, with the client's lock held.
// They must not call their own client (the lock is not reentrant: the call
// would deadlock) nor runtime.Goexit (t.FailNow); hand such work to another
// goroutine. A panic in a hook is recovered where it happens and raised
// again as a *HookPanic once the library call returned.
package clusterc

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -lclusterc
#include <stdint.h>
#include <stdlib.h>
#include <clusterc/clusterc.h>

// The hooks' trampolines (hooks.go). Go cannot say const: these wrappers
// have the library's exact signatures and call the exported Go functions.
extern void clustercGoOnEvent(clusterc_event *, void *);
extern void clustercGoOnCommand(clusterc_command_info *, void *);
static void clusterc_go_event(const clusterc_event *ev, void *h)
{
	clustercGoOnEvent((clusterc_event *)ev, h);
}
static void clusterc_go_command(const clusterc_command_info *ci, void *h)
{
	clustercGoOnCommand((clusterc_command_info *)ci, h);
}
// h is a cgo.Handle (an integer, not a Go pointer): the privdata of both.
static clusterc_client *clusterc_go_connect(const char *url, uintptr_t h, int ev, int cmd)
{
	return clusterc_connect_url_hooks(url, ev ? clusterc_go_event : NULL, (void *)h,
					  cmd ? clusterc_go_command : NULL, (void *)h);
}
*/
import "C"

import (
	"context"
	"crypto/tls"
	"encoding"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"strconv"
	"sync"
	"time"
	"unsafe"
)

// ------------------------------------------------------------------ errors

// Error is an error reply from a server ("WRONGTYPE Operation against a key
// holding the wrong kind of value", "ERR unknown command ..."): the command
// reached a server and was refused. Test for it with errors.As.
type Error string

func (e Error) Error() string { return string(e) }

// RedisError marks the type as a server reply, as go-redis's does.
func (e Error) RedisError() {}

type nilError string

func (e nilError) Error() string { return string(e) }

// Nil is returned when the reply is a nil bulk string or array: Get of a
// missing key, for example (go-redis's redis.Nil). Compare with ==.
const Nil = nilError("clusterc: nil")

// ClientError is a failure with no reply at all: timeout, connection lost,
// too many redirects, closed client, bad option... Code is libclusterc's
// error code (a CLUSTERC_E* value, negative) and Msg the client's message,
// which names the node and the command where they apply.
// errors.Is(err, ErrTimeout) and friends compare the code.
type ClientError struct {
	Code int
	Msg  string
}

func (e *ClientError) Error() string {
	if e.Msg != "" {
		return "clusterc: " + e.Msg
	}
	return "clusterc: " + Strerror(e.Code)
}

// Is reports whether target is a *ClientError with the same code.
func (e *ClientError) Is(target error) bool {
	t, ok := target.(*ClientError)
	return ok && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalid          = &ClientError{Code: int(C.CLUSTERC_EINVAL)}
	ErrConnect          = &ClientError{Code: int(C.CLUSTERC_ECONNECT)}
	ErrIO               = &ClientError{Code: int(C.CLUSTERC_EIO)}
	ErrTimeout          = &ClientError{Code: int(C.CLUSTERC_ETIMEOUT)}
	ErrTopology         = &ClientError{Code: int(C.CLUSTERC_ETOPOLOGY)}
	ErrTooManyRedirects = &ClientError{Code: int(C.CLUSTERC_EREDIRECTS)}
	ErrAuth             = &ClientError{Code: int(C.CLUSTERC_EAUTH)}
	ErrUncertain        = &ClientError{Code: int(C.CLUSTERC_EUNCERTAIN)}
	ErrClosed           = &ClientError{Code: int(C.CLUSTERC_ECLOSED)}
	ErrNoReplica        = &ClientError{Code: int(C.CLUSTERC_ENOREPLICA)}
	// ErrTLS: the TLS handshake or the certificate check failed (unknown
	// CA, host name mismatch, expired certificate, plain text on a TLS
	// port or the reverse); Msg names the node and the reason.
	ErrTLS = &ClientError{Code: int(C.CLUSTERC_ETLS)}
	// ErrOverload: max_inflight commands were already in flight, or
	// max_node_queue were queued for a node that is not connected: this
	// one was not sent.
	ErrOverload = &ClientError{Code: int(C.CLUSTERC_EOVERLOAD)}
)

// Strerror is the fixed text of a libclusterc error code ("timed out").
func Strerror(code int) string {
	return C.GoString(C.clusterc_strerror(C.int(code)))
}

// Keyslot is the hash slot (0..16383) of a key, hash tags included.
func Keyslot(key string) int {
	if len(key) == 0 {
		return int(C.clusterc_keyslot(nil, 0))
	}
	ck := C.CString(key)
	defer C.free(unsafe.Pointer(ck))
	return int(C.clusterc_keyslot(ck, C.size_t(len(key))))
}

// ----------------------------------------------------------------- options

// KeepTTL is Set's expiration that keeps the key's current time to live
// (SET ... KEEPTTL), as in go-redis.
const KeepTTL time.Duration = -1

// ClusterOptions are go-redis's ClusterOptions, those fields libclusterc
// has, plus a few of its own. The zero value of a field means "the library's
// default" (README.md lists them); the go-redis -1 conventions noted below
// are kept.
type ClusterOptions struct {
	// Seed nodes, "host:port" ("[::1]:7001" for IPv6). At least one.
	Addrs []string

	// ClientName is sent with CLIENT SETNAME on every connection.
	ClientName string

	// MaxRedirects is how many MOVED/ASK a command follows; 0 = default
	// (3), -1 = none (a redirect is returned as an error).
	MaxRedirects int

	// Read routing, with go-redis's precedence: RouteByLatency >
	// RouteRandomly > ReadOnly; either of the first two implies ReadOnly.
	// Only read-only commands are routed to replicas.
	ReadOnly       bool
	RouteByLatency bool
	RouteRandomly  bool

	// ACL user (empty = "default") and password (empty = no AUTH).
	Username string
	Password string

	// MaxRetries bounds TRYAGAIN/CLUSTERDOWN/LOADING/reconnect retries of a
	// command; 0 = default (16), -1 = none.
	MaxRetries int
	// Retry backoff bounds; 0 = default (8ms, 512ms).
	MinRetryBackoff time.Duration
	MaxRetryBackoff time.Duration

	// DialTimeout bounds one connection attempt (default 1s). ReadTimeout
	// is one deadline for the whole command, redirects and retries included
	// (default 2s). WriteTimeout is accepted for go-redis compatibility and
	// passed on (libclusterc has one command deadline). 0 or negative =
	// the default.
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration

	// ---- libclusterc's own (see docs/read-routing.md)

	// LatencyTolerance: with RouteByLatency, nodes within this of the
	// fastest share reads. 0 = default (1ms); negative = strict minimum
	// (go-redis's behaviour).
	LatencyTolerance time.Duration
	// LatencyReplicasOnly: RouteByLatency among replicas only.
	LatencyReplicasOnly bool
	// MaxLag excludes replicas lagging more than this (whole seconds as
	// INFO replication reports them); MaxLagBytes by replication offset.
	MaxLag      time.Duration
	MaxLagBytes int64
	// ReadYourWrites: reads of a shard this client wrote to go to the
	// primary or to a replica known to have the write.
	ReadYourWrites bool
	// NodeAddressMap remaps announced addresses: "announced=dialled,...".
	NodeAddressMap string
	// ClientAZ is the availability zone this client runs in (Valkey 8's
	// availability-zone). With AZAffinity 1, reads go to replicas in that
	// zone first, then any replica, then the primary; 2 puts the primary
	// in the zone before other zones (GLIDE's AZAffinityReplicasAndPrimary).
	ClientAZ   string
	AZAffinity int

	// ---- TLS (tls.go). The C library does the TLS, with OpenSSL, so it
	// takes files, not Go certificate objects.

	// TLS turns TLS on for every connection (so does a non-nil TLSConfig,
	// or a rediss:// URL). Nodes are dialled at the TLS port they announce.
	// The other TLS fields need it: with TLS off the library refuses them
	// (ErrInvalid). A failed handshake or certificate check is ErrTLS.
	TLS bool
	// TLSCAFile is a PEM bundle of the CAs to trust, TLSCADir a directory
	// of hashed CA certificates (c_rehash); both empty = the system's
	// trust store. (go-redis: TLSConfig.RootCAs.)
	TLSCAFile string
	TLSCADir  string
	// TLSCertFile and TLSKeyFile are the client certificate and its
	// unencrypted key, PEM, for mutual TLS. (go-redis: TLSConfig.Certificates.)
	TLSCertFile string
	TLSKeyFile  string
	// TLSServerName is sent as SNI and is the name the certificate must
	// carry; empty = the host dialled. (TLSConfig.ServerName.)
	TLSServerName string
	// TLSInsecureSkipVerify accepts ANY certificate: the connection is
	// encrypted but not authenticated, so anyone in the path can read and
	// change everything, the password included. Tests only.
	// (TLSConfig.InsecureSkipVerify.)
	TLSInsecureSkipVerify bool
	// TLSMinVersion is tls.VersionTLS12 or tls.VersionTLS13 (crypto/tls's
	// constants); 0 = the library's default (1.2). (TLSConfig.MinVersion.)
	TLSMinVersion uint16
	// TLSConfig is go-redis's field, for code ported from go-redis. Non-nil
	// turns TLS on; only ServerName, InsecureSkipVerify and MinVersion are
	// taken from it (MaxVersion when it is 0 or TLS 1.3). RootCAs,
	// Certificates, GetClientCertificate, VerifyPeerCertificate,
	// VerifyConnection, CipherSuites, CurvePreferences, NextProtos,
	// KeyLogWriter and a lower MaxVersion cannot be handed to the C
	// library: setting one is an ErrInvalid naming the field to use instead
	// (TLSCAFile / TLSCADir for RootCAs, TLSCertFile / TLSKeyFile for
	// Certificates). Fields a client does not use (server-side ones,
	// session cache, Rand, Time) are ignored.
	TLSConfig *tls.Config

	// Params are extra URL keys for clusterc_options_parse_url, for the
	// options not listed above (for example "refresh_interval": "10s").
	Params map[string]string

	// ---- hooks (see the package comment for what they may do); nil = off

	// OnEvent is called for each lifecycle event: EventReady once the first
	// slot map is in (during NewClusterClient), map changes, nodes
	// connected, lost, failing, recovered, EventDrained last (from Close).
	OnEvent func(Event)
	// OnCommand is called once per command, when it completes.
	OnCommand func(CommandInfo)
}

// durationParam writes d as Go does ("1.5s", "500ms", "1m30s"); the URL
// parser reads Go's duration syntax.
func durationParam(d time.Duration) string { return d.String() }

// URL is the clusterc_options_parse_url URL these options stand for (the
// keys of go-redis's ParseClusterURL plus libclusterc's). It may hold the
// password.
func (opt *ClusterOptions) URL() (string, error) {
	if len(opt.Addrs) == 0 {
		return "", &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: "ClusterOptions.Addrs is empty"}
	}
	q := url.Values{}
	for _, a := range opt.Addrs[1:] {
		q.Add("addr", a)
	}
	setBool := func(k string, v bool) {
		if v {
			q.Set(k, "true")
		}
	}
	setDur := func(k string, d time.Duration) {
		if d > 0 {
			q.Set(k, durationParam(d))
		}
	}
	setBool("read_only", opt.ReadOnly)
	setBool("route_by_latency", opt.RouteByLatency)
	setBool("route_randomly", opt.RouteRandomly)
	if opt.ClientName != "" {
		q.Set("client_name", opt.ClientName)
	}
	if opt.Username != "" {
		q.Set("username", opt.Username)
	}
	if opt.Password != "" {
		q.Set("password", opt.Password)
	}
	switch {
	case opt.MaxRedirects == -1:
		q.Set("max_redirects", "-1")
	case opt.MaxRedirects > 0:
		q.Set("max_redirects", strconv.Itoa(opt.MaxRedirects))
	}
	switch {
	case opt.MaxRetries == -1:
		q.Set("max_retries", "0")
	case opt.MaxRetries > 0:
		q.Set("max_retries", strconv.Itoa(opt.MaxRetries))
	}
	setDur("min_retry_backoff", opt.MinRetryBackoff)
	setDur("max_retry_backoff", opt.MaxRetryBackoff)
	setDur("dial_timeout", opt.DialTimeout)
	setDur("read_timeout", opt.ReadTimeout)
	setDur("write_timeout", opt.WriteTimeout)
	if opt.LatencyTolerance < 0 {
		q.Set("latency_tolerance", "0")
	} else {
		setDur("latency_tolerance", opt.LatencyTolerance)
	}
	setBool("latency_replicas_only", opt.LatencyReplicasOnly)
	setDur("max_lag", opt.MaxLag)
	if opt.MaxLagBytes > 0 {
		q.Set("max_lag_bytes", strconv.FormatInt(opt.MaxLagBytes, 10))
	}
	setBool("read_your_writes", opt.ReadYourWrites)
	if opt.NodeAddressMap != "" {
		q.Set("node_address_map", opt.NodeAddressMap)
	}
	if opt.ClientAZ != "" {
		q.Set("client_az", opt.ClientAZ)
	}
	if opt.AZAffinity != 0 {
		q.Set("az_affinity", strconv.Itoa(opt.AZAffinity))
	}
	if err := opt.tlsParams(q); err != nil {
		return "", err
	}
	for k, v := range opt.Params {
		q.Set(k, v)
	}
	u := url.URL{Scheme: "redis", Host: opt.Addrs[0], RawQuery: q.Encode()}
	return u.String(), nil
}

// ------------------------------------------------------------------ client

// ClusterClient is a client of one cluster. See the package comment for the
// goroutine rules. Close it when done; a client that is garbage collected
// unclosed is closed by a finalizer.
type ClusterClient struct {
	co  *core  // the threaded face (threaded.go); nil for a client with hooks
	url string // for the blocking client, made when Pub/Sub, SCAN or Admin first need it

	mu      sync.Mutex         // guards what follows
	c       *C.clusterc_client // the blocking face: hooks, Pub/Sub, SCAN
	hooks   *hooks             // OnEvent / OnCommand; nil when neither is set
	initErr error              // from NewClusterClient: bad options or the first map load
	fatal   bool               // initErr makes every call fail (bad options, out of memory)
	closed  bool
	subs    subscriptions                 // Pub/Sub: what Subscribe and friends asked for (pubsub.go)
	scans   map[*C.clusterc_scan]struct{} // ScanIter's scans not freed yet (scan.go)
}

// NewClusterClient creates a client and loads the slot map from
// opt.Addrs. Like go-redis's, it never fails: when the map cannot be loaded
// (every seed down, wrong password) the reason is kept in Err() and later
// commands try the seeds again; Ping() says whether the cluster answers.
// Bad options make every call return the same *ClientError (ErrInvalid).
func NewClusterClient(opt *ClusterOptions) *ClusterClient {
	if opt == nil {
		opt = &ClusterOptions{}
	}
	u, err := opt.URL()
	if err != nil {
		return &ClusterClient{initErr: err, fatal: true}
	}
	return newClusterClient(u, newHooks(opt.OnEvent, opt.OnCommand))
}

// NewClusterClientURL is NewClusterClient with the options as a URL
// ("redis://user:pass@host:port?addr=host:port&read_only=true&..."; the keys
// of go-redis's ParseClusterURL and libclusterc's own, include/clusterc/
// clusterc.h lists them). "rediss://" turns TLS on; the TLS keys are
// tls_ca_file, tls_ca_dir, tls_cert_file, tls_key_file, tls_server_name,
// tls_insecure_skip_verify and tls_min_version ("1.2" or "1.3").
func NewClusterClientURL(rawurl string) *ClusterClient {
	return newClusterClient(rawurl, nil)
}

// newClusterClient connects with the hooks h (nil = none). A hook's panic
// during the connect frees the client and is raised again here.
func newClusterClient(rawurl string, h *hooks) *ClusterClient {
	if h == nil {
		return newThreadedClient(rawurl)
	}
	cu := C.CString(rawurl)
	defer C.free(unsafe.Pointer(cu))
	cl := &ClusterClient{hooks: h}
	if h == nil {
		cl.c = C.clusterc_connect_url(cu)
	} else {
		cl.c = C.clusterc_go_connect(cu, C.uintptr_t(h.handle), cbool(h.onEvent != nil),
			cbool(h.onCommand != nil))
	}
	if cl.c == nil {
		h.release()
		return &ClusterClient{initErr: &ClientError{Code: int(C.CLUSTERC_ENOMEM)}, fatal: true}
	}
	if h != nil && h.panicked != nil {
		C.clusterc_free(cl.c)
		h.release()
		h.rethrow()
	}
	if code := int(C.clusterc_error(cl.c)); code != 0 {
		cl.initErr = cl.lastError()
		if code == int(C.CLUSTERC_EINVAL) {
			cl.fatal = true
		}
	}
	runtime.SetFinalizer(cl, func(cl *ClusterClient) { _ = cl.Close() })
	return cl
}

func cbool(b bool) C.int {
	if b {
		return 1
	}
	return 0
}

// Err is the error met while creating the client (bad options, or why the
// first slot-map load failed), or nil. A client with a load error may work
// later, once a seed answers.
func (cl *ClusterClient) Err() error { return cl.initErr }

// lastError turns the client's error state into a *ClientError. Call with
// the lock held.
func (cl *ClusterClient) lastError() error {
	code := int(C.clusterc_error(cl.c))
	msg := C.GoString(C.clusterc_errstr(cl.c))
	if code == 0 {
		code = int(C.CLUSTERC_EPROTOCOL)
	}
	return &ClientError{Code: code, Msg: msg}
}

// Close closes every connection and frees the C client (commands still
// pending are drained first; OnEvent sees EventDrained last). Later calls
// return ErrClosed, as does a second Close.
func (cl *ClusterClient) Close() error {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.closed {
		return ErrClosed
	}
	cl.closed = true
	if cl.co != nil {
		// Every command in flight completes (or fails by its deadline)
		// first; goroutines waiting for them get their results.
		cl.co.close()
		runtime.SetFinalizer(cl, nil)
	}
	if cl.c != nil {
		defer cl.hooks.rethrow() // after the handle is gone, before the unlock
		cl.freeScansLocked()     // every scan before its client
		C.clusterc_free(cl.c)
		cl.c = nil
		cl.hooks.release()
		runtime.SetFinalizer(cl, nil)
	}
	return nil
}

// usable returns nil when a command may run. Call with the lock held.
func (cl *ClusterClient) usable() error {
	if cl.closed {
		return ErrClosed
	}
	if cl.fatal {
		return cl.initErr
	}
	if cl.c == nil && cl.url != "" {
		// A threaded client's Pub/Sub and SCAN run on a blocking client of
		// its own, made on first use.
		cu := C.CString(cl.url)
		c := C.clusterc_connect_url(cu)
		C.free(unsafe.Pointer(cu))
		if c == nil {
			return &ClientError{Code: int(C.CLUSTERC_ENOMEM)}
		}
		if C.clusterc_error(c) == C.CLUSTERC_EINVAL {
			cl.c = c
			err := cl.lastError()
			cl.c = nil
			C.clusterc_free(c)
			return err
		}
		cl.c = c
	}
	return nil
}

// ---------------------------------------------------------------- commands

// appendArg formats one argument the way go-redis does.
func appendArg(v interface{}) ([]byte, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case string:
		return []byte(v), nil
	case []byte:
		return v, nil
	case int:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int8:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int16:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int32:
		return strconv.AppendInt(nil, int64(v), 10), nil
	case int64:
		return strconv.AppendInt(nil, v, 10), nil
	case uint:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint8:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint16:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint32:
		return strconv.AppendUint(nil, uint64(v), 10), nil
	case uint64:
		return strconv.AppendUint(nil, v, 10), nil
	case float32:
		return strconv.AppendFloat(nil, float64(v), 'f', -1, 32), nil
	case float64:
		return strconv.AppendFloat(nil, v, 'f', -1, 64), nil
	case bool:
		if v {
			return []byte("1"), nil
		}
		return []byte("0"), nil
	case time.Time:
		return v.AppendFormat(nil, time.RFC3339Nano), nil
	case time.Duration:
		return strconv.AppendInt(nil, v.Nanoseconds(), 10), nil
	case encoding.BinaryMarshaler:
		return v.MarshalBinary()
	default:
		return nil, fmt.Errorf("clusterc: can't marshal %T (implement encoding.BinaryMarshaler)", v)
	}
}

// cArgv copies the arguments into one C allocation: the pointer array, the
// length array and the bytes. The caller frees it with C.free.
func cArgv(args [][]byte) (mem unsafe.Pointer, argv **C.char, lens *C.size_t) {
	n := len(args)
	ptrSize := unsafe.Sizeof((*C.char)(nil))
	lenSize := unsafe.Sizeof(C.size_t(0))
	total := uintptr(0)
	for _, a := range args {
		total += uintptr(len(a))
	}
	mem = C.malloc(C.size_t(uintptr(n)*(ptrSize+lenSize) + total + 1))
	if mem == nil {
		panic("clusterc: out of memory")
	}
	ptrs := unsafe.Slice((**C.char)(mem), n)
	lenArr := unsafe.Slice((*C.size_t)(unsafe.Add(mem, uintptr(n)*ptrSize)), n)
	data := unsafe.Add(mem, uintptr(n)*(ptrSize+lenSize))
	buf := unsafe.Slice((*byte)(data), total+1)
	off := uintptr(0)
	for i, a := range args {
		copy(buf[off:], a)
		ptrs[i] = (*C.char)(unsafe.Add(data, off))
		lenArr[i] = C.size_t(len(a))
		off += uintptr(len(a))
	}
	return mem, &ptrs[0], &lenArr[0]
}

// Do runs one command: Do("SET", "k", 1), Do("MGET", "{u}a", "{u}b").
// Arguments may be strings, []byte, integers, floats, bools, time.Time,
// time.Duration or encoding.BinaryMarshaler values. The reply comes back as
// string (bulk and status replies), int64, []interface{} (arrays; a nil
// element is nil, an error element an Error), with RESP3: float64, bool,
// map[interface{}]interface{}. A nil reply is (nil, Nil); a server error
// reply is (nil, Error); no reply at all is (nil, *ClientError).
func (cl *ClusterClient) Do(args ...interface{}) (interface{}, error) {
	return cl.DoRoute(RouteDefault, args...)
}

// Per-command routes for DoRoute (CLUSTERC_ROUTE_* in clusterc.h).
const (
	RouteDefault = 0 // the client's read policy
	RoutePrimary = 1 // the primary: a read that must be fresh
	RouteReplica = 2 // an eligible replica, or a *ClientError (no eligible replica)
	RouteAny     = 3 // the policy, with the primary as a peer
	// Fan-out routes: one command to several nodes (CLUSTERC_ROUTE_ALL_*
	// merge the replies as the command's tips say, EACH_* give
	// [address, reply] pairs).
	RouteAllPrimaries = 4
	RouteAllNodes     = 5
	RouteEachPrimary  = 6
	RouteEachNode     = 7

	routeMax = RouteEachNode
)

// DoRoute is Do with a per-command route for reads (writes always go to the
// primary): DoRoute(RoutePrimary, "GET", "k") reads fresh.
func (cl *ClusterClient) DoRoute(route int, args ...interface{}) (interface{}, error) {
	return cl.DoRouteContext(context.Background(), route, args...)
}

// DoRouteContext is DoRoute that gives up when ctx ends (ctx.Err()).
func (cl *ClusterClient) DoRouteContext(ctx context.Context, route int, args ...interface{}) (interface{}, error) {
	if len(args) == 0 {
		return nil, &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: "Do: no command"}
	}
	bargs := make([][]byte, len(args))
	for i, a := range args {
		b, err := appendArg(a)
		if err != nil {
			return nil, err
		}
		bargs[i] = b
	}
	return cl.run(ctx, route, nil, bargs)
}

// run runs one command given as strings or as bytes (one of them nil).
func (cl *ClusterClient) run(ctx context.Context, route int, strs []string, bargs [][]byte) (interface{}, error) {
	if route < RouteDefault || route > routeMax {
		return nil, &ClientError{Code: int(C.CLUSTERC_EINVAL),
			Msg: "route " + strconv.Itoa(route) + " is not a Route* value"}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if cl.co != nil {
		return cl.co.do(ctx, route, strs, bargs)
	}
	if strs != nil {
		bargs = make([][]byte, len(strs))
		for i, s := range strs {
			bargs[i] = []byte(s)
		}
	}
	return cl.doRoute(route, bargs)
}

func (cl *ClusterClient) doRoute(route int, args [][]byte) (interface{}, error) {
	mem, argv, lens := cArgv(args)
	defer C.free(mem)
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return nil, err
	}
	defer cl.hooks.rethrow() // after the reply is freed, before the unlock
	r := C.clusterc_command_route_argv(cl.c, C.int(route), C.int(len(args)), argv, lens)
	if r == nil {
		return nil, cl.lastError()
	}
	defer C.clusterc_reply_free(r) // the reply is ours; converted before it goes
	return replyValue(r)
}

// RESP3 reply types of hiredis 1.x (absent from hiredis 0.14's header).
const (
	replyDouble = 7
	replyBool   = 8
	replyMap    = 9
	replySet    = 10
	replyAttr   = 11
	replyPush   = 12
	replyBignum = 13
	replyVerb   = 14
)

func isHashable(v interface{}) bool {
	switch v.(type) {
	case []interface{}, map[interface{}]interface{}:
		return false
	}
	return true
}

// Poll gives the client's background work (latency probes, lag polls,
// slot-map refreshes) d of time (clusterc_poll). The C client has no thread
// of its own, so an idle client calls this, e.g. from a ticker, to keep
// latencies current for RouteByLatency. d is rounded down to milliseconds;
// a negative d is an error.
func (cl *ClusterClient) Poll(d time.Duration) error {
	if d < 0 {
		return &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: "Poll: negative duration"}
	}
	if cl.co != nil {
		// The loop thread does the background work by itself: this only
		// lets time pass, as the blocking client's Poll did.
		if cl.fatal {
			return cl.initErr
		}
		if cl.co.isClosed() {
			return ErrClosed
		}
		time.Sleep(d)
		return nil
	}
	ms := d.Milliseconds()
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return err
	}
	defer cl.hooks.rethrow()
	if C.clusterc_poll(cl.c, C.int(ms)) != 0 {
		return cl.lastError()
	}
	return nil
}

// ------------------------------------------------------------------ stats

// NodeInfo is what the client knows of one node (clusterc_node_stats):
// where reads go, and why not.
type NodeInfo struct {
	Addr      string `json:"addr"`      // dialled address
	Announced string `json:"announced"` // as the cluster announces it
	ID        string `json:"id"`
	Role      string `json:"role"` // "primary" or "replica"
	Shard     int    `json:"shard"`
	Connected bool   `json:"connected"`
	Reads     uint64 `json:"reads"`  // read-only commands sent to it
	Writes    uint64 `json:"writes"` // other commands sent to it
	Redirects uint64 `json:"redirects"`
	Errors    uint64 `json:"errors"`
	LatencyUs int64  `json:"latency_us"` // PING EWMA; -1 before a sample (JSON null)
	LagS      int64  `json:"lag_s"`      // replica lag; -1 unknown
	LagBytes  int64  `json:"lag_bytes"`  // replica offset behind; -1 unknown
	Eligible  bool   `json:"eligible"`   // may serve reads now
	Why       string `json:"why"`        // "ok" or why not
}

// IsPrimary reports whether the node is a primary in the client's map.
func (n *NodeInfo) IsPrimary() bool { return n.Role == "primary" }

// NodeStats lists the nodes of the client's current slot map.
func (cl *ClusterClient) NodeStats() ([]NodeInfo, error) {
	var text string
	if cl.co != nil {
		if cl.fatal {
			return nil, cl.initErr
		}
		var err error
		if text, err = cl.co.nodeStatsJSON(); err != nil {
			return nil, err
		}
	} else {
		cl.mu.Lock()
		if err := cl.usable(); err != nil {
			cl.mu.Unlock()
			return nil, err
		}
		s := C.clusterc_node_stats_json(cl.c)
		if s == nil {
			err := cl.lastError()
			cl.mu.Unlock()
			return nil, err
		}
		text = C.GoString(s)
		C.clusterc_free_string(s)
		cl.mu.Unlock()
	}
	var raw []json.RawMessage
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("clusterc: node stats JSON: %w", err)
	}
	nodes := make([]NodeInfo, len(raw))
	for i, r := range raw {
		// null (not known) leaves a field alone: preset those to -1.
		nodes[i] = NodeInfo{LatencyUs: -1, LagS: -1, LagBytes: -1, Shard: -1}
		if err := json.Unmarshal(r, &nodes[i]); err != nil {
			return nil, fmt.Errorf("clusterc: node stats JSON: %w", err)
		}
	}
	return nodes, nil
}
