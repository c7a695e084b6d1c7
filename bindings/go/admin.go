package clusterc

// Cluster administration over libclusterc's admin API (<clusterc/admin.h>):
// what `redis-cli --cluster` does, as calls that return errors naming the
// node and the step. The views come from the library's JSON views
// (clusterc_admin_nodes_json, _replication_json, _check_json), parsed with
// encoding/json; the operations call clusterc_admin_add_node, _replicate,
// _failover, _reshard and _remove_node.
//
// Every call runs on the client's blocking C client (the one Pub/Sub and
// SCAN use, made on first use) with the client's lock held, so the admin
// calls of one client run one at a time, and Pub/Sub or SCAN on the same
// client wait meanwhile. Commands (Do, Get, ...) are not held up: they run
// on the threaded face.

/*
#include <stdint.h>
#include <stdlib.h>
#include <clusterc/admin.h>

// The progress trampoline, exported from this file. Its Go signature cannot
// say const; the ABI is the same as clusterc_admin_progress_fn's.
extern void clustercGoAdminProgress(clusterc_admin_progress *, void *);
*/
import "C"

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime/cgo"
	"runtime/debug"
	"strings"
	"time"
	"unsafe"
)

// Admin runs cluster administration through a client: rdb.Admin().Nodes(""),
// .Check(), .AddNode(...). It holds no state of its own; any number of Admin
// values of one client share its blocking C client, one call at a time.
type Admin struct {
	cl *ClusterClient
}

// Admin returns the client's administration handle.
func (cl *ClusterClient) Admin() *Admin { return &Admin{cl: cl} }

// --------------------------------------------------------------- views

// SlotMove is a slot being migrated to (ClusterNode.Migrating) or imported
// from (ClusterNode.Importing) another node.
type SlotMove struct {
	Slot int    `json:"slot"`
	Node string `json:"node"` // the target (migrating) or the source (importing) id
}

// ClusterNode is one line of CLUSTER NODES, parsed (clusterc_cluster_node).
type ClusterNode struct {
	ID            string   `json:"id"`
	Host          string   `json:"host"` // "" when unknown
	Port          int      `json:"port"` // 0 when unknown
	BusPort       int      `json:"bus_port"`
	Hostname      string   `json:"hostname"` // "" when none
	Flags         []string `json:"flags"`    // "myself", "master", "slave", "fail?", "fail", ...
	Role          string   `json:"role"`     // "primary" or "replica"
	PrimaryID     string   `json:"primary_id"`
	PingSent      int64    `json:"ping_sent"` // unix ms
	PongRecv      int64    `json:"pong_recv"` // unix ms
	ConfigEpoch   int64    `json:"config_epoch"`
	LinkConnected bool     `json:"link_connected"`
	SlotCount     int      `json:"slot_count"`
	Slots         [][2]int `json:"slots"` // inclusive ranges
	// Open slots; only on the answering node's own line.
	Migrating []SlotMove `json:"migrating"`
	Importing []SlotMove `json:"importing"`
}

// Addr is "host:port" ("" when the address is unknown).
func (n *ClusterNode) Addr() string {
	if n.Host == "" && n.Port == 0 {
		return ""
	}
	if strings.IndexByte(n.Host, ':') >= 0 {
		return fmt.Sprintf("[%s]:%d", n.Host, n.Port)
	}
	return fmt.Sprintf("%s:%d", n.Host, n.Port)
}

// IsPrimary reports whether the node is a primary.
func (n *ClusterNode) IsPrimary() bool { return n.Role == "primary" }

// HasFlag reports whether the node carries the CLUSTER NODES flag f
// ("myself", "fail", "handshake", ...).
func (n *ClusterNode) HasFlag(f string) bool {
	for _, g := range n.Flags {
		if g == f {
			return true
		}
	}
	return false
}

// ReplicaLink is a primary's "slaveN:" line of INFO replication.
type ReplicaLink struct {
	IP       string `json:"ip"`
	Port     int    `json:"port"`
	State    string `json:"state"`     // online, wait_bgsave, send_bulk, ...
	Offset   int64  `json:"offset"`    // acknowledged replication offset
	Lag      int64  `json:"lag"`       // seconds since its last ACK; -1 not reported
	LagClass string `json:"lag_class"` // "perfect", "good", "warning", "critical"
}

// Replication is INFO replication of one node, parsed
// (clusterc_replication). Numbers the server did not report are -1,
// strings "".
type Replication struct {
	Role              string        `json:"role"` // "primary" or "replica"
	ConnectedReplicas int           `json:"connected_replicas"`
	MasterReplOffset  int64         `json:"master_repl_offset"`
	MasterReplID      string        `json:"master_replid"`
	Replicas          []ReplicaLink `json:"replicas"` // a primary's replicas

	// The replica side.
	MasterHost                 string  `json:"master_host"`
	MasterPort                 int     `json:"master_port"`
	MasterLinkUp               bool    `json:"master_link_up"` // false on a primary
	MasterLastIOSecondsAgo     int64   `json:"master_last_io_seconds_ago"`
	MasterSyncInProgress       int     `json:"master_sync_in_progress"`
	MasterLinkDownSinceSeconds int64   `json:"master_link_down_since_seconds"`
	SlaveReadReplOffset        int64   `json:"slave_read_repl_offset"`
	SlaveReplOffset            int64   `json:"slave_repl_offset"`
	SlaveReadOnly              int     `json:"slave_read_only"`
	SlavePriority              int64   `json:"slave_priority"`
	MasterSyncTotalBytes       int64   `json:"master_sync_total_bytes"` // during a full sync
	MasterSyncReadBytes        int64   `json:"master_sync_read_bytes"`
	MasterSyncLeftBytes        int64   `json:"master_sync_left_bytes"`
	MasterSyncPerc             float64 `json:"master_sync_perc"`
	MasterSyncLastIOSecondsAgo int64   `json:"master_sync_last_io_seconds_ago"`
}

// IsPrimary reports whether the node said role:master.
func (r *Replication) IsPrimary() bool { return r.Role == "primary" }

// CheckPrimary is a primary as the check saw it.
type CheckPrimary struct {
	Addr     string `json:"addr"`
	ID       string `json:"id"`
	Slots    int    `json:"slots"`    // slots served
	Replicas int    `json:"replicas"` // replicas following it
}

// CheckReplica is a replica as the check saw it.
type CheckReplica struct {
	Addr      string `json:"addr"`
	ID        string `json:"id"`
	PrimaryID string `json:"primary_id"`
	LinkUp    bool   `json:"link_up"`   // master_link_status:up, from the replica
	LagS      int64  `json:"lag_s"`     // from its primary's INFO; -1 unknown
	LagBytes  int64  `json:"lag_bytes"` // primary's offset - the replica's acknowledged one
	LagClass  string `json:"lag_class"` // "perfect", "good", "warning", "critical"
}

// CheckResult is the cluster check (clusterc_check_result).
type CheckResult struct {
	OK             bool           `json:"ok"`               // healthy, and every primary has a replica
	ClusterStateOK bool           `json:"cluster_state_ok"` // cluster_state:ok on every node
	SlotsCovered   int            `json:"slots_covered"`    // 0..16384
	ConfigAgrees   bool           `json:"config_agrees"`    // every node has the same slot assignment
	OpenSlots      int            `json:"open_slots"`       // slots migrating or importing somewhere
	Unprotected    int            `json:"unprotected"`      // primaries with slots and no replica
	Unreachable    int            `json:"unreachable"`      // nodes that did not answer
	Primaries      []CheckPrimary `json:"primaries"`
	Replicas       []CheckReplica `json:"replicas"`
	Problems       []string       `json:"problems"` // each problem found, in words
	Report         string         `json:"report"`   // the whole printable report
}

// ClusterInfo is CLUSTER INFO of one node, parsed (clusterc_cluster_info).
// Numbers the node did not report are -1.
type ClusterInfo struct {
	StateOK       bool // cluster_state:ok
	SlotsAssigned int64
	SlotsOK       int64
	SlotsPFail    int64
	SlotsFail     int64
	KnownNodes    int64
	Size          int64
	CurrentEpoch  int64
	MyEpoch       int64
}

// Nodes is CLUSTER NODES of one node ("host:port" or a node id; "" = any
// node of the client's map), parsed.
func (a *Admin) Nodes(node string) ([]ClusterNode, error) {
	text, err := a.viewJSON("Nodes", node, true, func(c *C.clusterc_client, cn *C.char) *C.char {
		return C.clusterc_admin_nodes_json(c, cn)
	})
	if err != nil {
		return nil, err
	}
	var nodes []ClusterNode
	if err := json.Unmarshal([]byte(text), &nodes); err != nil {
		return nil, fmt.Errorf("clusterc: admin nodes JSON: %w", err)
	}
	return nodes, nil
}

// Replication is INFO replication of one node ("host:port" or a node id).
func (a *Admin) Replication(node string) (*Replication, error) {
	text, err := a.viewJSON("Replication", node, false, func(c *C.clusterc_client, cn *C.char) *C.char {
		return C.clusterc_admin_replication_json(c, cn)
	})
	if err != nil {
		return nil, err
	}
	// null (not reported) leaves a field alone: preset those to -1.
	r := &Replication{
		ConnectedReplicas: -1, MasterReplOffset: -1, MasterPort: -1,
		MasterLastIOSecondsAgo: -1, MasterSyncInProgress: -1,
		MasterLinkDownSinceSeconds: -1, SlaveReadReplOffset: -1, SlaveReplOffset: -1,
		SlaveReadOnly: -1, SlavePriority: -1, MasterSyncTotalBytes: -1,
		MasterSyncReadBytes: -1, MasterSyncLeftBytes: -1, MasterSyncPerc: -1,
		MasterSyncLastIOSecondsAgo: -1,
	}
	var raw struct {
		Replicas []json.RawMessage `json:"replicas"`
	}
	if err := json.Unmarshal([]byte(text), r); err != nil {
		return nil, fmt.Errorf("clusterc: admin replication JSON: %w", err)
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("clusterc: admin replication JSON: %w", err)
	}
	for i, m := range raw.Replicas {
		r.Replicas[i] = ReplicaLink{Lag: -1}
		if err := json.Unmarshal(m, &r.Replicas[i]); err != nil {
			return nil, fmt.Errorf("clusterc: admin replication JSON: %w", err)
		}
	}
	return r, nil
}

// Check checks the cluster: all 16384 slots covered, the nodes agree on the
// slot assignment, no open slots, every primary has a replica, replicas'
// links up, lag classified. The error is for a check that could not run at
// all; a check that ran and found problems returns them in the result (look
// at OK, Problems and Report).
func (a *Admin) Check() (*CheckResult, error) {
	text, err := a.viewJSON("Check", "", true, func(c *C.clusterc_client, _ *C.char) *C.char {
		return C.clusterc_admin_check_json(c)
	})
	if err != nil {
		return nil, err
	}
	var raw struct {
		Replicas []json.RawMessage `json:"replicas"`
	}
	r := &CheckResult{}
	if err := json.Unmarshal([]byte(text), r); err != nil {
		return nil, fmt.Errorf("clusterc: admin check JSON: %w", err)
	}
	if err := json.Unmarshal([]byte(text), &raw); err != nil {
		return nil, fmt.Errorf("clusterc: admin check JSON: %w", err)
	}
	for i, m := range raw.Replicas {
		r.Replicas[i] = CheckReplica{LagS: -1}
		if err := json.Unmarshal(m, &r.Replicas[i]); err != nil {
			return nil, fmt.Errorf("clusterc: admin check JSON: %w", err)
		}
	}
	return r, nil
}

// ClusterInfo is CLUSTER INFO of one node ("host:port" or a node id; "" =
// any node of the client's map).
func (a *Admin) ClusterInfo(node string) (*ClusterInfo, error) {
	var ci C.clusterc_cluster_info
	err := a.call("ClusterInfo", []argSpec{{"node", node, true}}, nil, func(c *C.clusterc_client, cs []*C.char, _ *C.clusterc_admin_opts) C.int {
		return C.clusterc_admin_cluster_info(c, cs[0], &ci)
	})
	if err != nil {
		return nil, err
	}
	return &ClusterInfo{
		StateOK:       ci.state_ok == 1,
		SlotsAssigned: int64(ci.slots_assigned),
		SlotsOK:       int64(ci.slots_ok),
		SlotsPFail:    int64(ci.slots_pfail),
		SlotsFail:     int64(ci.slots_fail),
		KnownNodes:    int64(ci.known_nodes),
		Size:          int64(ci.size),
		CurrentEpoch:  int64(ci.current_epoch),
		MyEpoch:       int64(ci.my_epoch),
	}, nil
}

// ----------------------------------------------------------- operations

// AdminProgress is a step of a long operation, for AdminOptions.Progress
// (clusterc_admin_progress).
type AdminProgress struct {
	Step       string // "check", "meet", "join", "replicate", "sync", "agree", "failover", "migrate", "forget", ...
	Node       string // the node concerned, "host:port"
	State      string // replication link: "connect", "connecting", "sync", "connected"; else a short text
	BytesTotal int64  // full sync: RDB size when the server says, else -1
	BytesDone  int64  // full sync: bytes read so far, else -1
	KeysDone   int64  // reshard: keys moved, else -1
	SlotsDone  int    // reshard; else 0
	SlotsTotal int    // reshard; else 0
	Elapsed    time.Duration
}

// AdminOptions are clusterc_admin_opts. The zero value of each field means
// the library's default; a nil *AdminOptions means all the defaults.
type AdminOptions struct {
	// Timeout bounds each wait (join, sync, failover); 0 = 60s. Rounded
	// down to milliseconds (at least 1ms).
	Timeout time.Duration
	// NoWaitSync: AddNode and Replicate return once the replica follows its
	// primary, without waiting for its link to be up and the initial sync
	// done (the library waits by default).
	NoWaitSync bool
	// PollInterval is how often waits poll; 0 = 200ms.
	PollInterval time.Duration
	// MigrateBatch is Reshard's keys per MIGRATE; 0 = 100.
	MigrateBatch int
	// MigrateTimeout is Reshard's MIGRATE timeout; 0 = 60s.
	MigrateTimeout time.Duration
	// Progress, when set, is called at each step of the operation, on the
	// goroutine that made the call, from inside it, with the client's lock
	// held: it must not call the same client. A panic in it is raised
	// again, as a *HookPanic (Hook "Progress"), once the library returned.
	Progress func(AdminProgress)
}

func durationMs(d time.Duration) C.int {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	if ms > math.MaxInt32 {
		ms = math.MaxInt32
	}
	return C.int(ms)
}

// progressState is what a Progress callback's handle stands for.
type progressState struct {
	fn       func(AdminProgress)
	panicked *HookPanic
}

//export clustercGoAdminProgress
func clustercGoAdminProgress(p *C.clusterc_admin_progress, arg unsafe.Pointer) {
	ps := cgo.Handle(*(*C.uintptr_t)(arg)).Value().(*progressState)
	if ps.panicked != nil {
		return
	}
	ev := AdminProgress{
		Step:       C.GoString(p.step),
		Node:       C.GoString(p.node),
		State:      C.GoString(p.state),
		BytesTotal: int64(p.bytes_total),
		BytesDone:  int64(p.bytes_done),
		KeysDone:   int64(p.keys_done),
		SlotsDone:  int(p.slots_done),
		SlotsTotal: int(p.slots_total),
		Elapsed:    time.Duration(p.elapsed_ms) * time.Millisecond,
	}
	defer func() {
		// The panic must not unwind through the library's C frames.
		if v := recover(); v != nil {
			ps.panicked = &HookPanic{Hook: "Progress", Value: v, Stack: debug.Stack()}
		}
	}()
	ps.fn(ev)
}

// FailoverMode is Failover's mode (CLUSTERC_FAILOVER_*).
type FailoverMode int

// Failover modes: CLUSTER FAILOVER, ... FORCE, ... TAKEOVER.
const (
	FailoverDefault  FailoverMode = C.CLUSTERC_FAILOVER_DEFAULT
	FailoverForce    FailoverMode = C.CLUSTERC_FAILOVER_FORCE
	FailoverTakeover FailoverMode = C.CLUSTERC_FAILOVER_TAKEOVER
)

// AddNode adds the node at newAddr ("host:port") to the cluster, as
// `redis-cli --cluster add-node` does, after its checks: the new node
// answers, is in cluster mode, holds no keys and knows only itself; the
// cluster check passes. A refusal leaves the cluster unchanged and says why.
// With asReplica it joins as a replica of primaryID ("" = the primary with
// the fewest replicas) and AddNode returns the id of the primary it follows;
// without, it joins as an empty primary (give it slots with Reshard) and the
// returned id is "". Then: CLUSTER MEET, a wait until every node knows it,
// and for a replica CLUSTER REPLICATE, the initial sync (unless
// NoWaitSync), and a wait until every reachable node lists it as that
// primary's replica.
func (a *Admin) AddNode(newAddr string, asReplica bool, primaryID string, opt *AdminOptions) (string, error) {
	var chosen [64]C.char
	err := a.call("AddNode", []argSpec{{"newAddr", newAddr, false}, {"primaryID", primaryID, true}}, opt,
		func(c *C.clusterc_client, cs []*C.char, o *C.clusterc_admin_opts) C.int {
			return C.clusterc_admin_add_node(c, cs[0], cbool(asReplica), cs[1], o, &chosen[0])
		})
	if err != nil {
		return "", err
	}
	if !asReplica {
		return "", nil
	}
	return C.GoString(&chosen[0]), nil
}

// Replicate makes a replica (address or id) follow the primary primaryID
// (CLUSTER REPLICATE), then waits until its link is up (and synced, unless
// NoWaitSync) and every reachable node lists it as primaryID's replica.
func (a *Admin) Replicate(node, primaryID string, opt *AdminOptions) error {
	return a.call("Replicate", []argSpec{{"node", node, false}, {"primaryID", primaryID, false}}, opt,
		func(c *C.clusterc_client, cs []*C.char, o *C.clusterc_admin_opts) C.int {
			return C.clusterc_admin_replicate(c, cs[0], cs[1], o)
		})
}

// Failover runs CLUSTER FAILOVER [FORCE|TAKEOVER] on a replica (address or
// id), then waits until every reachable node sees it as a primary. A
// primary is refused.
func (a *Admin) Failover(replica string, mode FailoverMode, opt *AdminOptions) error {
	return a.call("Failover", []argSpec{{"replica", replica, false}}, opt,
		func(c *C.clusterc_client, cs []*C.char, o *C.clusterc_admin_opts) C.int {
			return C.clusterc_admin_failover(c, cs[0], C.int(mode), o)
		})
}

// Reshard moves nslots slots from the primary fromID to the primary toID,
// one slot at a time as redis-cli does (SETSLOT IMPORTING / MIGRATING,
// GETKEYSINSLOT + MIGRATE in batches, SETSLOT NODE everywhere). Keys are
// never dropped: a BUSYKEY stops the move, with the slot left open and
// named in the error. Clients keep working meanwhile (ASK, MOVED).
func (a *Admin) Reshard(fromID, toID string, nslots int, opt *AdminOptions) error {
	if nslots < 1 || nslots > 16384 {
		return &ClientError{Code: int(C.CLUSTERC_EINVAL),
			Msg: fmt.Sprintf("Reshard: nslots %d is not in 1..16384", nslots)}
	}
	return a.call("Reshard", []argSpec{{"fromID", fromID, false}, {"toID", toID, false}}, opt,
		func(c *C.clusterc_client, cs []*C.char, o *C.clusterc_admin_opts) C.int {
			return C.clusterc_admin_reshard(c, cs[0], cs[1], C.int(nslots), o)
		})
}

// RemoveNode removes the node id, which must serve no slots: its replicas
// move to other primaries, every other node FORGETs it (a node flagged
// fail is skipped), and it is reset (CLUSTER RESET SOFT) so it can join
// again later.
func (a *Admin) RemoveNode(id string, opt *AdminOptions) error {
	return a.call("RemoveNode", []argSpec{{"id", id, false}}, opt,
		func(c *C.clusterc_client, cs []*C.char, o *C.clusterc_admin_opts) C.int {
			return C.clusterc_admin_remove_node(c, cs[0], o)
		})
}

// ------------------------------------------------------------ plumbing

// argSpec is a string argument: its name (for errors), its value, and
// whether "" stands for C's NULL (else "" is refused).
type argSpec struct {
	name     string
	val      string
	optional bool
}

func invalidArg(op, name, why string) error {
	return &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: op + ": " + name + " " + why}
}

// call runs one admin call on the blocking client, the lock held, with the
// arguments as C strings (NULL for an optional ""), and the options (nil
// when opt is nil and fn takes none: the library's defaults). fn returns
// the C call's status (0 ok, -1 failure with the client's error set).
func (a *Admin) call(op string, args []argSpec, opt *AdminOptions,
	fn func(*C.clusterc_client, []*C.char, *C.clusterc_admin_opts) C.int) error {
	cs := make([]*C.char, len(args))
	for i, s := range args {
		if s.val == "" {
			if !s.optional {
				return invalidArg(op, s.name, "is empty")
			}
			continue
		}
		if strings.IndexByte(s.val, 0) >= 0 {
			return invalidArg(op, s.name, "holds a NUL byte")
		}
		cs[i] = C.CString(s.val)
		defer C.free(unsafe.Pointer(cs[i]))
	}
	if opt != nil && (opt.Timeout < 0 || opt.PollInterval < 0 || opt.MigrateTimeout < 0 || opt.MigrateBatch < 0) {
		return &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: op + ": negative AdminOptions value"}
	}
	// The options live in C memory: the library keeps no pointer past the
	// call, but cgo forbids Go memory holding a C pointer to Go memory.
	o := (*C.clusterc_admin_opts)(C.calloc(1, C.size_t(unsafe.Sizeof(C.clusterc_admin_opts{}))))
	if o == nil {
		return &ClientError{Code: int(C.CLUSTERC_ENOMEM)}
	}
	defer C.free(unsafe.Pointer(o))
	C.clusterc_admin_opts_init(o)
	var ps *progressState
	if opt != nil {
		if opt.Timeout > 0 {
			o.timeout_ms = durationMs(opt.Timeout)
		}
		if opt.NoWaitSync {
			o.wait_sync = 0
		}
		if opt.PollInterval > 0 {
			o.poll_ms = durationMs(opt.PollInterval)
		}
		if opt.MigrateBatch > 0 {
			if opt.MigrateBatch > math.MaxInt32 {
				o.migrate_batch = math.MaxInt32
			} else {
				o.migrate_batch = C.int(opt.MigrateBatch)
			}
		}
		if opt.MigrateTimeout > 0 {
			o.migrate_timeout_ms = durationMs(opt.MigrateTimeout)
		}
		if opt.Progress != nil {
			ps = &progressState{fn: opt.Progress}
			h := cgo.NewHandle(ps)
			defer h.Delete()
			harg := (*C.uintptr_t)(C.malloc(C.size_t(unsafe.Sizeof(C.uintptr_t(0)))))
			if harg == nil {
				return &ClientError{Code: int(C.CLUSTERC_ENOMEM)}
			}
			defer C.free(unsafe.Pointer(harg))
			*harg = C.uintptr_t(h)
			o.progress = (*C.clusterc_admin_progress_fn)(C.clustercGoAdminProgress)
			o.progress_arg = unsafe.Pointer(harg)
		}
	}
	err := a.locked(func(c *C.clusterc_client) error {
		if fn(c, cs, o) != 0 {
			return a.cl.lastError()
		}
		return nil
	})
	if ps != nil && ps.panicked != nil {
		panic(ps.panicked)
	}
	return err
}

// viewJSON runs a JSON view on the blocking client and returns its text.
func (a *Admin) viewJSON(op, node string, optional bool,
	fn func(*C.clusterc_client, *C.char) *C.char) (string, error) {
	var cn *C.char
	if node == "" {
		if !optional {
			return "", invalidArg(op, "node", "is empty")
		}
	} else {
		if strings.IndexByte(node, 0) >= 0 {
			return "", invalidArg(op, "node", "holds a NUL byte")
		}
		cn = C.CString(node)
		defer C.free(unsafe.Pointer(cn))
	}
	var text string
	err := a.locked(func(c *C.clusterc_client) error {
		s := fn(c, cn)
		if s == nil {
			return a.cl.lastError()
		}
		text = C.GoString(s)
		C.clusterc_free_string(s)
		return nil
	})
	return text, err
}

// locked runs fn on the client's blocking C client (made on first use)
// with the client's lock held; a hook's panic during it is raised again
// after the lock is released.
func (a *Admin) locked(fn func(*C.clusterc_client) error) error {
	cl := a.cl
	if cl == nil {
		return ErrClosed
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return err
	}
	defer cl.hooks.rethrow()
	return fn(cl.c)
}
