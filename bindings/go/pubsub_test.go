package clusterc

// Pub/Sub against the TestMain cluster (127.0.0.1:20850-20855). The
// library subscribes in the background, so each test first publishes
// "sync" messages on every channel until each was seen: what is published
// after that must arrive (the cluster is stable), exactly once.

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"
)

const syncPayload = "sync"

type target struct{ kind, channel string }

func publish(t *testing.T, cl *ClusterClient, kind, channel string, payload interface{}) int64 {
	t.Helper()
	verb := "PUBLISH"
	if kind == KindSMessage {
		verb = "SPUBLISH"
	}
	v, err := cl.Do(verb, channel, payload)
	if err != nil {
		t.Fatalf("%s %s: %v", verb, channel, err)
	}
	n, _ := v.(int64)
	return n
}

// spreadNames gives n names prefix0, prefix1, ... whose slots fall in
// min(n, 3) thirds of the slot space (the harness gives each primary one).
func spreadNames(prefix string, n int) []string {
	var names []string
	thirds := map[int]bool{}
	want := n
	if want > 3 {
		want = 3
	}
	for i := 0; i < 10000 && (len(names) < n || len(thirds) < want); i++ {
		name := fmt.Sprintf("%s%d", prefix, i)
		third := Keyslot(name) * 3 / 16384
		if len(names) < n && (!thirds[third] || len(names) >= 3) {
			names = append(names, name)
			thirds[third] = true
		}
	}
	return names
}

// waitSubscribed publishes "sync" on each target until sub saw one from
// each; other messages seen meanwhile are returned.
func waitSubscribed(t *testing.T, sub, pub *ClusterClient, targets []target) []*Message {
	t.Helper()
	pending := map[target]bool{}
	for _, tg := range targets {
		pending[tg] = true
	}
	var others []*Message
	deadline := time.Now().Add(20 * time.Second)
	for len(pending) > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("still not subscribed: %v", pending)
		}
		for tg := range pending {
			publish(t, pub, tg.kind, tg.channel, syncPayload)
		}
		window := time.Now().Add(300 * time.Millisecond)
		for time.Now().Before(window) {
			m, err := sub.ReceiveMessage(time.Until(window))
			if err != nil {
				t.Fatalf("ReceiveMessage: %v", err)
			}
			if m == nil {
				continue
			}
			if string(m.Payload) == syncPayload {
				delete(pending, target{m.Kind, m.Channel})
			} else {
				others = append(others, m)
			}
		}
	}
	return others
}

// collect receives messages (syncs left out) until want came or limit passed.
func collect(t *testing.T, sub *ClusterClient, want int, limit time.Duration) []*Message {
	t.Helper()
	var got []*Message
	deadline := time.Now().Add(limit)
	for len(got) < want && time.Now().Before(deadline) {
		m, err := sub.ReceiveMessage(500 * time.Millisecond)
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if m != nil && string(m.Payload) != syncPayload {
			got = append(got, m)
		}
	}
	return got
}

// assertQuiet checks that nothing but late syncs comes for a while.
func assertQuiet(t *testing.T, sub *ClusterClient) {
	t.Helper()
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		m, err := sub.ReceiveMessage(200 * time.Millisecond)
		if err != nil {
			t.Fatalf("ReceiveMessage: %v", err)
		}
		if m != nil && string(m.Payload) != syncPayload {
			t.Fatalf("unexpected message %v", m)
		}
	}
}

func TestPubSubAllKindsExactlyOnce(t *testing.T) {
	sub, pub := newClient(t, ClusterOptions{}), newClient(t, ClusterOptions{})
	chans := spreadNames("go:c:", 6)
	shards := spreadNames("go:s:", 9)
	pchans := spreadNames("go:p:", 6)
	if err := sub.Subscribe(chans...); err != nil {
		t.Fatal(err)
	}
	if err := sub.SSubscribe(shards...); err != nil {
		t.Fatal(err)
	}
	if err := sub.PSubscribe("go:p:*"); err != nil {
		t.Fatal(err)
	}
	var targets []target
	for _, c := range chans {
		targets = append(targets, target{KindMessage, c})
	}
	for _, c := range shards {
		targets = append(targets, target{KindSMessage, c})
	}
	for _, c := range pchans {
		targets = append(targets, target{KindPMessage, c})
	}
	if others := waitSubscribed(t, sub, pub, targets); len(others) != 0 {
		t.Fatalf("messages before any was published: %v", others)
	}
	sent := map[string]target{}
	for i := 0; i < 150; i++ {
		tg := targets[i%len(targets)]
		payload := fmt.Sprintf("m:%d", i)
		publish(t, pub, tg.kind, tg.channel, payload)
		sent[payload] = tg
	}
	got := collect(t, sub, len(sent), 20*time.Second)
	seen := map[string]int{}
	for _, m := range got {
		p := string(m.Payload)
		seen[p]++
		tg, ok := sent[p]
		if !ok {
			t.Errorf("unknown message %v", m)
			continue
		}
		if m.Kind != tg.kind || m.Channel != tg.channel {
			t.Errorf("%v: want kind %s channel %s", m, tg.kind, tg.channel)
		}
		wantPattern := ""
		if tg.kind == KindPMessage {
			wantPattern = "go:p:*"
		}
		if m.Pattern != wantPattern {
			t.Errorf("%v: pattern %q, want %q", m, m.Pattern, wantPattern)
		}
	}
	for p := range sent {
		if seen[p] != 1 {
			t.Errorf("%s received %d times, want once", p, seen[p])
		}
	}
	assertQuiet(t, sub)
}

func TestPubSubNothingGivesNil(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Subscribe("go:quiet"); err != nil {
		t.Fatal(err)
	}
	t0 := time.Now()
	m, err := cl.ReceiveMessage(200 * time.Millisecond)
	if m != nil || err != nil {
		t.Fatalf("ReceiveMessage = %v, %v; want nil, nil", m, err)
	}
	if d := time.Since(t0); d < 150*time.Millisecond {
		t.Errorf("returned after %v, before its timeout", d)
	}
	if m, err := cl.ReceiveMessage(0); m != nil || err != nil {
		t.Fatalf("ReceiveMessage(0) = %v, %v", m, err)
	}
	plain := newClient(t, ClusterOptions{}) // never subscribed
	if m, err := plain.ReceiveMessage(200 * time.Millisecond); m != nil || err != nil {
		t.Fatalf("unsubscribed client: %v, %v", m, err)
	}
}

func TestPubSubBinaryPayload(t *testing.T) {
	sub, pub := newClient(t, ClusterOptions{}), newClient(t, ClusterOptions{})
	if err := sub.SSubscribe("go:bin"); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, sub, pub, []target{{KindSMessage, "go:bin"}})
	payload := append([]byte("\x00\xff"), bytes.Repeat([]byte("x"), 100000)...)
	publish(t, pub, KindSMessage, "go:bin", payload)
	got := collect(t, sub, 1, 10*time.Second)
	if len(got) != 1 || !bytes.Equal(got[0].Payload, payload) {
		t.Fatalf("got %d messages, payload intact: %v", len(got),
			len(got) == 1 && bytes.Equal(got[0].Payload, payload))
	}
	publish(t, pub, KindSMessage, "go:bin", "")
	got = collect(t, sub, 1, 10*time.Second)
	if len(got) != 1 || got[0].Payload == nil || len(got[0].Payload) != 0 {
		t.Fatalf("empty payload: %v", got)
	}
}

func testUnsubscribe(t *testing.T, kind string, names, channels []string) {
	sub, pub := newClient(t, ClusterOptions{}), newClient(t, ClusterOptions{})
	subFn := map[string]func(...string) error{KindMessage: sub.Subscribe,
		KindPMessage: sub.PSubscribe, KindSMessage: sub.SSubscribe}[kind]
	unsubFn := map[string]func(...string) error{KindMessage: sub.Unsubscribe,
		KindPMessage: sub.PUnsubscribe, KindSMessage: sub.SUnsubscribe}[kind]
	if err := subFn(names...); err != nil {
		t.Fatal(err)
	}
	waitSubscribed(t, sub, pub, []target{{kind, channels[0]}, {kind, channels[1]}})
	if err := unsubFn(names[0]); err != nil {
		t.Fatal(err)
	}
	if kind == KindSMessage {
		// SPUBLISH counts the receivers on the slot's node: wait for 0.
		deadline := time.Now().Add(10 * time.Second)
		for publish(t, pub, kind, channels[0], "probe") != 0 {
			if time.Now().After(deadline) {
				t.Fatal("SUNSUBSCRIBE never reached the node")
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	for i := 0; i < 20; i++ {
		publish(t, pub, kind, channels[0], fmt.Sprintf("gone:%d", i))
		publish(t, pub, kind, channels[1], fmt.Sprintf("kept:%d", i))
	}
	got := collect(t, sub, 20, 10*time.Second)
	var payloads []string
	for _, m := range got {
		payloads = append(payloads, string(m.Payload))
		if m.Channel != channels[1] {
			t.Errorf("message from %s after unsubscribing: %v", m.Channel, m)
		}
	}
	sort.Strings(payloads)
	if len(payloads) != 20 || !strings.HasPrefix(payloads[0], "kept:") ||
		!strings.HasPrefix(payloads[19], "kept:") {
		t.Errorf("got %v, want kept:0..19", payloads)
	}
	assertQuiet(t, sub)
	if err := unsubFn(); err != nil { // no names: all of that kind
		t.Fatal(err)
	}
	if s := sub.Subscriptions(); len(s) != 0 {
		t.Errorf("Subscriptions after unsubscribing all: %v", s)
	}
	for i := 0; i < 5; i++ {
		publish(t, pub, kind, channels[1], fmt.Sprintf("late:%d", i))
	}
	assertQuiet(t, sub)
}

func TestPubSubUnsubscribe(t *testing.T) {
	testUnsubscribe(t, KindMessage, []string{"go:u1", "go:u2"}, []string{"go:u1", "go:u2"})
}

func TestPubSubSUnsubscribe(t *testing.T) {
	names := spreadNames("go:su:", 2)
	testUnsubscribe(t, KindSMessage, names, names)
}

func TestPubSubPUnsubscribe(t *testing.T) {
	testUnsubscribe(t, KindPMessage, []string{"go:pa:*", "go:pb:*"},
		[]string{"go:pa:x", "go:pb:x"})
}

func TestPubSubUnknownAndTwice(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Unsubscribe("go:never"); err != nil {
		t.Errorf("Unsubscribe of a channel never subscribed: %v", err)
	}
	if err := cl.PUnsubscribe(); err != nil {
		t.Errorf("PUnsubscribe(): %v", err)
	}
	for i := 0; i < 2; i++ {
		if err := cl.Subscribe("go:once"); err != nil {
			t.Fatal(err)
		}
	}
	if s := cl.Subscriptions(); len(s) != 1 || len(s[KindMessage]) != 1 {
		t.Errorf("Subscriptions = %v", s)
	}
	if err := cl.Unsubscribe("go:once"); err != nil {
		t.Fatal(err)
	}
	if s := cl.Subscriptions(); len(s) != 0 {
		t.Errorf("Subscriptions = %v", s)
	}
}

func TestPubSubCommandRefused(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Set("go:ps:k", "v", 0); err != nil {
		t.Fatal(err)
	}
	for _, verb := range []string{"SUBSCRIBE", "SSUBSCRIBE", "PSUBSCRIBE"} {
		if _, err := cl.Do(verb, "go:ps:k"); !errors.Is(err, ErrUsage) {
			t.Errorf("Do(%s) = %v, want ErrUsage", verb, err)
		}
	}
	if v, err := cl.Get("go:ps:k"); v != "v" || err != nil {
		t.Errorf("GET after the refused SUBSCRIBE: %q, %v", v, err)
	}
}

func TestPubSubBadArguments(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Subscribe(""); !errors.Is(err, ErrInvalid) {
		t.Errorf("empty name: %v", err)
	}
	if err := cl.SSubscribe("a\x00b"); !errors.Is(err, ErrInvalid) {
		t.Errorf("NUL in a name: %v", err)
	}
	if err := cl.PSubscribe("ok", ""); !errors.Is(err, ErrInvalid) {
		t.Errorf("one bad name of two: %v", err)
	}
	if s := cl.Subscriptions(); len(s) != 0 {
		t.Errorf("a refused call subscribed: %v", s)
	}
	cl.Close()
	if err := cl.Subscribe("go:x"); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe on a closed client: %v", err)
	}
	if _, err := cl.ReceiveMessage(100 * time.Millisecond); !errors.Is(err, ErrClosed) {
		t.Errorf("ReceiveMessage on a closed client: %v", err)
	}
}

// A goroutine waiting without a timeout lets other goroutines' commands on
// the same client through (the lock is let go between slices).
func TestPubSubWaitForeverSharesTheClient(t *testing.T) {
	cl := newClient(t, ClusterOptions{})
	if err := cl.Subscribe("go:fv"); err != nil {
		t.Fatal(err)
	}
	type result struct {
		m   *Message
		err error
	}
	done := make(chan result, 1)
	go func() {
		m, err := cl.ReceiveMessage(-1)
		done <- result{m, err}
	}()
	time.Sleep(300 * time.Millisecond) // the waiter is inside its slices now
	var r result
wait:
	for i := 0; i < 100; i++ {
		if _, err := cl.Do("PUBLISH", "go:fv", "hi"); err != nil {
			t.Fatalf("PUBLISH from another goroutine: %v", err)
		}
		select {
		case r = <-done:
			break wait
		case <-time.After(200 * time.Millisecond):
		}
	}
	if r.m == nil && r.err == nil {
		cl.Close() // ends the waiter: its next slice gets ErrClosed
		r = <-done
		t.Fatalf("no message within 100 publishes (then: %v, %v)", r.m, r.err)
	}
	if r.err != nil || string(r.m.Payload) != "hi" || r.m.Kind != KindMessage {
		t.Fatalf("ReceiveMessage(-1) = %v, %v", r.m, r.err)
	}
}
