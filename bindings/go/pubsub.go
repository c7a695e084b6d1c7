package clusterc

// Pub/Sub over libclusterc's blocking face (clusterc_subscribe,
// clusterc_unsubscribe, clusterc_next_message in clusterc.h).
//
// The subscriptions belong to the C client: the library keeps the ones
// wanted and makes the actual ones match (one subscriber connection for
// channels and patterns, one per node owning a subscribed slot for shard
// channels, never the command connections), subscribing again after
// failovers, slot migrations and lost connections. Messages that arrive
// while the client runs other calls are queued in the library (up to
// pubsub_queue_max); ReceiveMessage takes them out. Delivery is at most
// once, as Redis Pub/Sub's is.

/*
#include <stdlib.h>
#include <clusterc/clusterc.h>
*/
import "C"

import (
	"strings"
	"time"
	"unsafe"
)

// Message kinds, as Message.Kind holds them (the push types Redis sends).
const (
	KindMessage  = "message"  // a channel's (Subscribe)
	KindPMessage = "pmessage" // a pattern's (PSubscribe); Message.Pattern is set
	KindSMessage = "smessage" // a shard channel's (SSubscribe)
)

// ErrUsage: a call not allowed now, such as SUBSCRIBE sent through Do
// (use Subscribe) or a hook calling its client (CLUSTERC_EUSAGE).
var ErrUsage = &ClientError{Code: int(C.CLUSTERC_EUSAGE)}

// Message is one Pub/Sub message, copied out of the library.
type Message struct {
	Kind    string // KindMessage, KindPMessage or KindSMessage
	Channel string
	Pattern string // the matching pattern for KindPMessage, else ""
	Payload []byte
}

func (m *Message) String() string {
	if m.Pattern != "" {
		return "Message<" + m.Pattern + " " + m.Channel + ": " + string(m.Payload) + ">"
	}
	return "Message<" + m.Channel + ": " + string(m.Payload) + ">"
}

var kindNames = [...]string{C.CLUSTERC_PUBSUB_CHANNEL: KindMessage,
	C.CLUSTERC_PUBSUB_PATTERN: KindPMessage, C.CLUSTERC_PUBSUB_SHARD: KindSMessage}

var kindWhat = [...]string{C.CLUSTERC_PUBSUB_CHANNEL: "channel",
	C.CLUSTERC_PUBSUB_PATTERN: "pattern", C.CLUSTERC_PUBSUB_SHARD: "shard channel"}

// subscriptions is what the client is subscribed to, per kind (for the
// Unsubscribe forms without names). Guarded by the client's mutex.
type subscriptions [C.CLUSTERC_PUBSUB_SHARD + 1]map[string]struct{}

// receiveSlice is how long one clusterc_next_message call may wait: the
// client's mutex is let go between slices, so other goroutines' commands
// on the same client get in while one waits for messages.
const receiveSlice = 100 * time.Millisecond

func checkName(kind int, name string) error {
	switch {
	case name == "":
		return &ClientError{Code: int(C.CLUSTERC_EINVAL), Msg: "empty " + kindWhat[kind] + " name"}
	case strings.IndexByte(name, 0) >= 0:
		// The library takes names as C strings: it would cut the name.
		return &ClientError{Code: int(C.CLUSTERC_EINVAL),
			Msg: kindWhat[kind] + " name " + strings.ReplaceAll(name, "\x00", `\x00`) +
				" contains a NUL byte"}
	}
	return nil
}

func (cl *ClusterClient) subscribe(kind int, names []string) error {
	for _, n := range names {
		if err := checkName(kind, n); err != nil {
			return err
		}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return err
	}
	defer cl.hooks.rethrow()
	if cl.subs[kind] == nil {
		cl.subs[kind] = map[string]struct{}{}
	}
	for _, n := range names {
		cn := C.CString(n)
		rc := C.clusterc_subscribe(cl.c, C.int(kind), cn)
		C.free(unsafe.Pointer(cn))
		if rc != 0 {
			return cl.lastError()
		}
		cl.subs[kind][n] = struct{}{}
	}
	return nil
}

func (cl *ClusterClient) unsubscribe(kind int, names []string) error {
	for _, n := range names {
		if err := checkName(kind, n); err != nil {
			return err
		}
	}
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return err
	}
	defer cl.hooks.rethrow()
	if len(names) == 0 {
		for n := range cl.subs[kind] {
			names = append(names, n)
		}
	}
	for _, n := range names {
		if _, ok := cl.subs[kind][n]; !ok {
			continue // not subscribed: harmless, as UNSUBSCRIBE is to Redis
		}
		cn := C.CString(n)
		rc := C.clusterc_unsubscribe(cl.c, C.int(kind), cn)
		C.free(unsafe.Pointer(cn))
		if rc != 0 {
			return cl.lastError()
		}
		delete(cl.subs[kind], n)
	}
	return nil
}

// Subscribe subscribes the client to channels (SUBSCRIBE). It returns once
// the wish is recorded: the library subscribes in the background (a
// message published before that is not received) and again after
// failovers. Subscribing twice is harmless. Names may not be empty nor
// hold a NUL byte.
func (cl *ClusterClient) Subscribe(channels ...string) error {
	return cl.subscribe(C.CLUSTERC_PUBSUB_CHANNEL, channels)
}

// PSubscribe subscribes to glob patterns ("news.*"), as Subscribe.
func (cl *ClusterClient) PSubscribe(patterns ...string) error {
	return cl.subscribe(C.CLUSTERC_PUBSUB_PATTERN, patterns)
}

// SSubscribe subscribes to shard channels (SSUBSCRIBE, Redis 7), each on
// the node owning its slot, as Subscribe.
func (cl *ClusterClient) SSubscribe(channels ...string) error {
	return cl.subscribe(C.CLUSTERC_PUBSUB_SHARD, channels)
}

// Unsubscribe drops channel subscriptions; with no names, all of them.
// Names not subscribed are ignored. Its messages still queued are dropped
// too: ReceiveMessage returns none of them afterwards.
func (cl *ClusterClient) Unsubscribe(channels ...string) error {
	return cl.unsubscribe(C.CLUSTERC_PUBSUB_CHANNEL, channels)
}

// PUnsubscribe drops pattern subscriptions; with no names, all of them.
func (cl *ClusterClient) PUnsubscribe(patterns ...string) error {
	return cl.unsubscribe(C.CLUSTERC_PUBSUB_PATTERN, patterns)
}

// SUnsubscribe drops shard-channel subscriptions; with no names, all of them.
func (cl *ClusterClient) SUnsubscribe(channels ...string) error {
	return cl.unsubscribe(C.CLUSTERC_PUBSUB_SHARD, channels)
}

// Subscriptions lists what the client is subscribed to, per kind
// (KindMessage: channels, KindPMessage: patterns, KindSMessage: shard
// channels).
func (cl *ClusterClient) Subscriptions() map[string][]string {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	out := map[string][]string{}
	for kind, set := range cl.subs {
		for n := range set {
			out[kindNames[kind]] = append(out[kindNames[kind]], n)
		}
	}
	return out
}

// ReceiveMessage waits up to timeout for the next message of any
// subscription: (msg, nil), or (nil, nil) when none came in time. A
// timeout of 0 does not wait; a negative one waits until a message comes.
// The wait runs in slices of 100ms with the client's lock let go between
// them, so other goroutines may use the client meanwhile (their commands
// wait for the slice to end). While it waits, the client does its
// background work, as Poll does.
func (cl *ClusterClient) ReceiveMessage(timeout time.Duration) (*Message, error) {
	var deadline time.Time
	if timeout >= 0 {
		deadline = time.Now().Add(timeout)
	}
	for {
		slice := receiveSlice
		if timeout >= 0 {
			left := time.Until(deadline)
			if left < slice {
				slice = left
			}
			if slice < 0 {
				slice = 0
			}
		}
		// Round up: a 0ms wait for 400µs left would spin.
		ms := (slice + time.Millisecond - 1) / time.Millisecond
		m, err := cl.nextMessage(int(ms))
		if m != nil || err != nil {
			return m, err
		}
		if timeout >= 0 && !time.Now().Before(deadline) {
			return nil, nil
		}
	}
}

// nextMessage is one clusterc_next_message call; the message is copied
// before the lock goes (its strings live until the next call on the client).
func (cl *ClusterClient) nextMessage(ms int) (*Message, error) {
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if err := cl.usable(); err != nil {
		return nil, err
	}
	defer cl.hooks.rethrow()
	var cm C.clusterc_message
	switch C.clusterc_next_message(cl.c, &cm, C.int(ms)) {
	case 0:
		return nil, nil
	case 1:
	default:
		return nil, cl.lastError()
	}
	m := &Message{Kind: KindMessage}
	if k := int(cm.kind); k >= 1 && k < len(kindNames) {
		m.Kind = kindNames[k]
	}
	if cm.channel != nil {
		m.Channel = C.GoStringN(cm.channel, C.int(cm.channel_len))
	}
	if cm.pattern != nil && cm.kind == C.CLUSTERC_PUBSUB_PATTERN {
		m.Pattern = C.GoStringN(cm.pattern, C.int(cm.pattern_len))
	}
	m.Payload = []byte{}
	if cm.payload != nil && cm.payload_len > 0 {
		m.Payload = C.GoBytes(unsafe.Pointer(cm.payload), C.int(cm.payload_len))
	}
	return m, nil
}
