package clusterc

// Lifecycle events and the command hook (ClusterOptions.OnEvent,
// OnCommand): the Go side of clusterc_event_fn and clusterc_command_fn.
//
// cgo cannot hand a Go func to C. The client's funcs live in a hooks value
// registered in a cgo.Handle; the handle is the privdata the library passes
// back, and the exported trampolines below find the funcs through it. C
// wrappers with the exact C signatures (const pointers) are in clusterc.go's
// preamble: a file with //export may only declare in its preamble.

/*
#include <clusterc/clusterc.h>
*/
import "C"

import (
	"fmt"
	"runtime/cgo"
	"runtime/debug"
	"time"
	"unsafe"
)

// EventType is the kind of a lifecycle event (CLUSTERC_EVENT_* in
// clusterc.h). Its String is the library's name ("READY", ...).
type EventType int

// Lifecycle event types.
const (
	// EventReady: the first slot map was installed (once per client).
	EventReady EventType = C.CLUSTERC_EVENT_READY
	// EventMapUpdated: a later map changed who serves what; Detail says what.
	EventMapUpdated EventType = C.CLUSTERC_EVENT_MAP_UPDATED
	// EventNodeConnected: a connection to Node came up.
	EventNodeConnected EventType = C.CLUSTERC_EVENT_NODE_CONNECTED
	// EventNodeDisconnected: a connection that was up closed; Code says why.
	EventNodeDisconnected EventType = C.CLUSTERC_EVENT_NODE_DISCONNECTED
	// EventNodeFailing: Node could not be reached or was lost, and is avoided.
	EventNodeFailing EventType = C.CLUSTERC_EVENT_NODE_FAILING
	// EventNodeRecovered: a failing node answered again.
	EventNodeRecovered EventType = C.CLUSTERC_EVENT_NODE_RECOVERED
	// EventDrained: Close finished draining; the client's last event.
	EventDrained EventType = C.CLUSTERC_EVENT_DRAINED
	// EventSubscribeRefused: the server refused a (P|S)SUBSCRIBE for good
	// (ACL NOPERM); Detail names the channel, which is no longer wanted.
	EventSubscribeRefused EventType = C.CLUSTERC_EVENT_SUBSCRIBE_REFUSED
)

func (t EventType) String() string {
	return C.GoString(C.clusterc_event_name(C.int(t)))
}

// Event is a lifecycle event of a client (clusterc_event), reported once per
// change, from the place in the library where the state changed.
type Event struct {
	Type   EventType
	Node   string // "host:port" as dialled; "" for client-wide events
	Code   int    // a CLUSTERC_E* code (negative, see ClientError) for failures, else 0
	Detail string // words: why, what changed
}

// CommandInfo describes one of the caller's commands once it completed
// (clusterc_command_info). The library's own commands (map loads, probes)
// are not reported.
type CommandInfo struct {
	Name      string        // "GET"; "CLUSTER SHARDS" for a sub-command
	Node      string        // node of its last attempt; "" if it never left the client
	Route     int           // the Route* it was sent with
	Redirects int           // MOVED / ASK followed
	Retries   int           // backoff retries taken
	Duration  time.Duration // from submission to completion
	Code      int           // 0 when a reply came (error replies included), else the failure's code
}

// Err is the failure as a *ClientError (comparable with errors.Is against
// ErrTimeout, ...), or nil when a reply came.
func (ci *CommandInfo) Err() error {
	if ci.Code == 0 {
		return nil
	}
	return &ClientError{Code: ci.Code}
}

// HookPanic is what a client's call panics with when OnEvent or OnCommand
// panicked inside it. The hook's panic is recovered where it happened (it
// must not unwind through the library's C frames) and raised again once
// the library call has returned, with the client consistent (the lock is
// released; the call's own result is lost).
type HookPanic struct {
	Hook  string      // "OnEvent" or "OnCommand"
	Value interface{} // what the hook panicked with
	Stack []byte      // the hook's goroutine stack at the panic
}

func (p *HookPanic) Error() string {
	return fmt.Sprintf("clusterc: %s panicked: %v\n\n%s", p.Hook, p.Value, p.Stack)
}

// Unwrap gives the hook's panic value when it is an error.
func (p *HookPanic) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}

// hooks is what the library's privdata stands for. It refers to the funcs
// only, never to the ClusterClient: a registered handle is a GC root, and
// a client reachable from one would never be finalized.
type hooks struct {
	onEvent   func(Event)
	onCommand func(CommandInfo)
	panicked  *HookPanic // the first panic of the current call, until rethrown
	handle    cgo.Handle
}

func newHooks(onEvent func(Event), onCommand func(CommandInfo)) *hooks {
	if onEvent == nil && onCommand == nil {
		return nil
	}
	h := &hooks{onEvent: onEvent, onCommand: onCommand}
	h.handle = cgo.NewHandle(h)
	return h
}

// release forgets the handle; call once the C client is freed (the library
// may call the hooks until clusterc_free returns).
func (h *hooks) release() {
	if h != nil && h.handle != 0 {
		h.handle.Delete()
		h.handle = 0
	}
}

// run calls fn, keeping a panic for rethrow. Runs on the goroutine that made
// the library call, with the client's lock held.
func (h *hooks) run(name string, fn func()) {
	defer func() {
		if v := recover(); v != nil && h.panicked == nil {
			h.panicked = &HookPanic{Hook: name, Value: v, Stack: debug.Stack()}
		}
	}()
	fn()
}

// rethrow panics with a hook's panic kept during the last library call.
func (h *hooks) rethrow() {
	if h != nil && h.panicked != nil {
		p := h.panicked
		h.panicked = nil
		panic(p)
	}
}

func hooksOf(privdata unsafe.Pointer) *hooks {
	return cgo.Handle(uintptr(privdata)).Value().(*hooks)
}

//export clustercGoOnEvent
func clustercGoOnEvent(ev *C.clusterc_event, privdata unsafe.Pointer) {
	h := hooksOf(privdata)
	e := Event{Type: EventType(ev._type), Code: int(ev.code)}
	if ev.node != nil {
		e.Node = C.GoString(ev.node)
	}
	if ev.detail != nil {
		e.Detail = C.GoString(ev.detail)
	}
	h.run("OnEvent", func() { h.onEvent(e) })
}

//export clustercGoOnCommand
func clustercGoOnCommand(ci *C.clusterc_command_info, privdata unsafe.Pointer) {
	h := hooksOf(privdata)
	info := CommandInfo{
		Route:     int(ci.route),
		Redirects: int(ci.redirects),
		Retries:   int(ci.retries),
		Duration:  time.Duration(int64(ci.duration_us)) * time.Microsecond,
		Code:      int(ci.code),
	}
	if ci.name != nil {
		info.Name = C.GoString(ci.name)
	}
	if ci.node != nil {
		info.Node = C.GoString(ci.node)
	}
	h.run("OnCommand", func() { h.onCommand(info) })
}
