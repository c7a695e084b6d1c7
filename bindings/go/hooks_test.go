package clusterc

// Tests of OnEvent and OnCommand against the cluster TestMain starts
// (clusterc_test.go); kept apart so each file stays small.

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// recorder collects what the hooks get. The hooks run on the goroutine
// that calls the client, so the test reads it without a lock once the call
// returned.
type recorder struct {
	events   []Event
	commands []CommandInfo
}

func (r *recorder) options() ClusterOptions {
	return ClusterOptions{
		OnEvent:   func(e Event) { r.events = append(r.events, e) },
		OnCommand: func(ci CommandInfo) { r.commands = append(r.commands, ci) },
	}
}

func (r *recorder) count(t EventType) int {
	n := 0
	for _, e := range r.events {
		if e.Type == t {
			n++
		}
	}
	return n
}

// calls is "NAME:code" for each command reported.
func (r *recorder) calls() string {
	s := make([]string, len(r.commands))
	for i, ci := range r.commands {
		s[i] = fmt.Sprintf("%s:%d", ci.Name, ci.Code)
	}
	return strings.Join(s, " ")
}

// recovered runs f and returns what it panicked with (nil if nothing).
func recovered(f func()) (v interface{}) {
	defer func() { v = recover() }()
	f()
	return nil
}

func TestOnEventReadyOnce(t *testing.T) {
	var r recorder
	cl := newClient(t, r.options())
	if n := r.count(EventReady); n != 1 {
		t.Fatalf("after connect: %d READY events, want 1: %+v", n, r.events)
	}
	for _, e := range r.events {
		if e.Type == EventReady && (e.Node != "" || e.Code != 0) {
			t.Errorf("READY %+v: want no node and code 0", e)
		}
		if e.Type.String() == "UNKNOWN" {
			t.Errorf("event of unknown type %+v", e)
		}
	}
	for i := 0; i < 20; i++ {
		if err := cl.Set(fmt.Sprintf("hk:r%d", i), i, 0); err != nil {
			t.Fatal(err)
		}
	}
	if n := r.count(EventReady); n != 1 {
		t.Errorf("after commands: %d READY events, want 1", n)
	}
	if EventReady.String() != "READY" || EventDrained.String() != "DRAINED" {
		t.Errorf("names: %v %v", EventReady, EventDrained)
	}
}

func TestOnEventDrainedLast(t *testing.T) {
	var r recorder
	cl := NewClusterClient(&ClusterOptions{Addrs: seeds(), OnEvent: r.options().OnEvent})
	if err := cl.Set("hk:d", 1, 0); err != nil {
		t.Fatal(err)
	}
	if err := cl.Close(); err != nil {
		t.Fatal(err)
	}
	if len(r.events) == 0 || r.events[len(r.events)-1].Type != EventDrained {
		t.Fatalf("events %+v: want DRAINED last", r.events)
	}
	if n := r.count(EventDrained); n != 1 {
		t.Errorf("%d DRAINED events, want 1", n)
	}
	if cl.hooks.handle != 0 {
		t.Errorf("the hooks' handle outlived Close")
	}
}

func TestOnCommand(t *testing.T) {
	var r recorder
	opt := r.options()
	opt.OnEvent = nil
	cl := newClient(t, opt)
	if len(r.commands) != 0 {
		t.Fatalf("the library's own commands were reported: %s", r.calls())
	}
	cl.Del("hk:s", "hk:n")
	r.commands = nil
	if err := cl.Set("hk:s", "v", 0); err != nil {
		t.Fatal(err)
	}
	if v, err := cl.Get("hk:s"); err != nil || v != "v" {
		t.Fatalf("Get: %q %v", v, err)
	}
	if _, err := cl.Do("INCR", "hk:n"); err != nil {
		t.Fatal(err)
	}
	if got := r.calls(); got != "SET:0 GET:0 INCR:0" {
		t.Fatalf("reported %q, want SET:0 GET:0 INCR:0", got)
	}
	for _, ci := range r.commands {
		if !strings.HasPrefix(ci.Node, "127.0.0.1:") || ci.Route != RouteDefault ||
			ci.Redirects != 0 || ci.Retries != 0 || ci.Duration < 0 || ci.Err() != nil {
			t.Errorf("%+v", ci)
		}
	}
	// an error reply is a reply: code 0
	r.commands = nil
	var re Error
	if _, err := cl.Do("LPUSH", "hk:s", "x"); !errors.As(err, &re) {
		t.Fatalf("LPUSH on a string: %v, want an error reply", err)
	}
	if got := r.calls(); got != "LPUSH:0" {
		t.Errorf("reported %q, want LPUSH:0", got)
	}
	// the route as sent
	r.commands = nil
	if _, err := cl.DoRoute(RoutePrimary, "GET", "hk:s"); err != nil {
		t.Fatal(err)
	}
	if len(r.commands) != 1 || r.commands[0].Route != RoutePrimary {
		t.Errorf("DoRoute(RoutePrimary): reported %+v", r.commands)
	}
}

func TestOnCommandFailure(t *testing.T) {
	var r recorder
	opt := r.options()
	opt.OnEvent = nil
	// closedPort is in this package's range and never listened on.
	opt.Addrs = []string{fmt.Sprintf("127.0.0.1:%d", closedPort)}
	opt.DialTimeout = 200 * time.Millisecond
	opt.ReadTimeout = 500 * time.Millisecond
	cl := NewClusterClient(&opt)
	defer cl.Close()
	_, err := cl.Get("hk:f")
	var ce *ClientError
	if !errors.As(err, &ce) {
		t.Fatalf("Get with every seed down: %v, want a *ClientError", err)
	}
	if len(r.commands) != 1 {
		t.Fatalf("reported %q, want one GET", r.calls())
	}
	ci := r.commands[0]
	if ci.Name != "GET" || ci.Code == 0 || ci.Code != ce.Code || !errors.Is(ci.Err(), ce) {
		t.Errorf("reported %+v for %v", ci, err)
	}
}

func TestHookPanic(t *testing.T) {
	var names []string
	boom := errors.New("boom from OnCommand")
	cl := newClient(t, ClusterOptions{OnCommand: func(ci CommandInfo) {
		names = append(names, ci.Name)
		if ci.Name == "GET" {
			panic(boom)
		}
	}})
	if err := cl.Set("hk:p", "1", 0); err != nil {
		t.Fatal(err)
	}
	v := recovered(func() { cl.Get("hk:p") })
	hp, ok := v.(*HookPanic)
	if !ok || hp.Hook != "OnCommand" || hp.Value != boom || !errors.Is(hp, boom) {
		t.Fatalf("Get with a panicking OnCommand panicked with %v, want a *HookPanic of boom", v)
	}
	// the lock was released and the client is consistent; the GET did run
	if n, err := cl.Do("INCRBY", "hk:p", 1); err != nil || n != int64(2) {
		t.Fatalf("after the panic: %v %v", n, err)
	}
	if got := strings.Join(names, " "); got != "SET GET INCRBY" {
		t.Errorf("hooked %q", got)
	}
}

func TestHookPanicInConnect(t *testing.T) {
	v := recovered(func() {
		cl := NewClusterClient(&ClusterOptions{Addrs: seeds(), OnEvent: func(e Event) {
			if e.Type == EventReady {
				panic("boom from OnEvent")
			}
		}})
		cl.Close()
	})
	hp, ok := v.(*HookPanic)
	if !ok || hp.Hook != "OnEvent" || hp.Value != "boom from OnEvent" {
		t.Fatalf("NewClusterClient with a panicking OnEvent panicked with %v", v)
	}
}
