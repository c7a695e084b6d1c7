package clusterc

// Typed helpers for the common commands, each with a Context variant, and
// Pipeline. They are thin: the arguments go to the library as they are,
// the reply comes back through the same conversion as Do's, and the
// helper only asserts its type. Multi-key commands (DEL, EXISTS, MGET,
// MSET) are sent as one command: the library splits them by slot and
// puts the replies back together (in key order for MGET).

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"
)

var bg = context.Background()

// strs runs a command of string arguments.
func (cl *ClusterClient) strs(ctx context.Context, args ...string) (interface{}, error) {
	return cl.run(ctx, RouteDefault, args, nil)
}

func unexpected(v interface{}) error {
	return fmt.Errorf("clusterc: unexpected reply %T", v)
}

func asString(v interface{}, err error) (string, error) {
	if err != nil {
		return "", err
	}
	s, ok := v.(string)
	if !ok {
		return "", unexpected(v)
	}
	return s, nil
}

func asInt(v interface{}, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	n, ok := v.(int64)
	if !ok {
		return 0, unexpected(v)
	}
	return n, nil
}

func asStrings(v interface{}, err error) ([]string, error) {
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]interface{})
	if !ok {
		return nil, unexpected(v)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		s, ok := e.(string)
		if !ok && e != nil {
			return nil, unexpected(e)
		}
		out[i] = s
	}
	return out, nil
}

// withArgs runs prefix... followed by values formatted as Do formats them.
func (cl *ClusterClient) withArgs(ctx context.Context, prefix []string, values []interface{}) (interface{}, error) {
	b := make([][]byte, 0, len(prefix)+len(values))
	for _, p := range prefix {
		b = append(b, []byte(p))
	}
	for _, v := range values {
		p, err := appendArg(v)
		if err != nil {
			return nil, err
		}
		b = append(b, p)
	}
	return cl.run(ctx, RouteDefault, nil, b)
}

// DoContext is Do that gives up when ctx ends: it returns ctx.Err() at
// once (the command's late reply is dropped). A cancelled command may
// still have run on the server (a BLPOP may still pop an element, which
// is then lost, as with any client that gives up on a blocking command).
func (cl *ClusterClient) DoContext(ctx context.Context, args ...interface{}) (interface{}, error) {
	return cl.DoRouteContext(ctx, RouteDefault, args...)
}

// Get is GET key: the value, or ("", Nil) when the key does not exist.
func (cl *ClusterClient) Get(key string) (string, error) { return cl.GetContext(bg, key) }

// GetContext is Get with a context.
func (cl *ClusterClient) GetContext(ctx context.Context, key string) (string, error) {
	v, err := cl.strs(ctx, "GET", key)
	return asString(v, err)
}

// Set is SET key value, with EX/PX when expiration > 0 (PX when it is not a
// whole number of seconds) and KEEPTTL when it is KeepTTL, as in go-redis.
func (cl *ClusterClient) Set(key string, value interface{}, expiration time.Duration) error {
	return cl.SetContext(bg, key, value, expiration)
}

// SetContext is Set with a context.
func (cl *ClusterClient) SetContext(ctx context.Context, key string, value interface{}, expiration time.Duration) error {
	var extra []string
	switch {
	case expiration > 0:
		if expiration < time.Second || expiration%time.Second != 0 {
			extra = []string{"PX", strconv.FormatInt(int64(expiration/time.Millisecond), 10)}
		} else {
			extra = []string{"EX", strconv.FormatInt(int64(expiration/time.Second), 10)}
		}
	case expiration == KeepTTL:
		extra = []string{"KEEPTTL"}
	}
	var err error
	if s, ok := value.(string); ok {
		_, err = cl.strs(ctx, append([]string{"SET", key, s}, extra...)...)
	} else {
		vals := []interface{}{value}
		for _, e := range extra {
			vals = append(vals, e)
		}
		_, err = cl.withArgs(ctx, []string{"SET", key}, vals)
	}
	return err
}

// Del is DEL key...: how many keys were removed. Keys in different slots
// are fine (the library splits the command by slot).
func (cl *ClusterClient) Del(keys ...string) (int64, error) { return cl.DelContext(bg, keys...) }

// DelContext is Del with a context.
func (cl *ClusterClient) DelContext(ctx context.Context, keys ...string) (int64, error) {
	if len(keys) == 0 {
		return 0, nil
	}
	if cl.co == nil {
		// The blocking face (a client with hooks): one key at a time, as
		// this binding always did.
		var n int64
		for _, k := range keys {
			d, err := asInt(cl.strs(ctx, "DEL", k))
			if err != nil {
				return n, err
			}
			n += d
		}
		return n, nil
	}
	return asInt(cl.strs(ctx, append([]string{"DEL"}, keys...)...))
}

// Exists is EXISTS key...: how many of the keys exist.
func (cl *ClusterClient) Exists(keys ...string) (int64, error) { return cl.ExistsContext(bg, keys...) }

// ExistsContext is Exists with a context.
func (cl *ClusterClient) ExistsContext(ctx context.Context, keys ...string) (int64, error) {
	return asInt(cl.strs(ctx, append([]string{"EXISTS"}, keys...)...))
}

// Incr is INCR key.
func (cl *ClusterClient) Incr(key string) (int64, error) { return cl.IncrContext(bg, key) }

// IncrContext is Incr with a context.
func (cl *ClusterClient) IncrContext(ctx context.Context, key string) (int64, error) {
	return asInt(cl.strs(ctx, "INCR", key))
}

// IncrBy is INCRBY key n.
func (cl *ClusterClient) IncrBy(key string, n int64) (int64, error) {
	return cl.IncrByContext(bg, key, n)
}

// IncrByContext is IncrBy with a context.
func (cl *ClusterClient) IncrByContext(ctx context.Context, key string, n int64) (int64, error) {
	return asInt(cl.strs(ctx, "INCRBY", key, strconv.FormatInt(n, 10)))
}

// Decr is DECR key.
func (cl *ClusterClient) Decr(key string) (int64, error) { return cl.DecrContext(bg, key) }

// DecrContext is Decr with a context.
func (cl *ClusterClient) DecrContext(ctx context.Context, key string) (int64, error) {
	return asInt(cl.strs(ctx, "DECR", key))
}

// Expire sets a key's time to live (PEXPIRE when d is not a whole number
// of seconds): true when the key exists.
func (cl *ClusterClient) Expire(key string, d time.Duration) (bool, error) {
	return cl.ExpireContext(bg, key, d)
}

// ExpireContext is Expire with a context.
func (cl *ClusterClient) ExpireContext(ctx context.Context, key string, d time.Duration) (bool, error) {
	var n int64
	var err error
	if d%time.Second != 0 {
		n, err = asInt(cl.strs(ctx, "PEXPIRE", key, strconv.FormatInt(int64(d/time.Millisecond), 10)))
	} else {
		n, err = asInt(cl.strs(ctx, "EXPIRE", key, strconv.FormatInt(int64(d/time.Second), 10)))
	}
	return n == 1, err
}

// TTL is TTL key, in whole seconds; as in go-redis, -1 (no expiry) and -2
// (no such key) come back as time.Duration(-1) and time.Duration(-2).
func (cl *ClusterClient) TTL(key string) (time.Duration, error) { return cl.TTLContext(bg, key) }

// TTLContext is TTL with a context.
func (cl *ClusterClient) TTLContext(ctx context.Context, key string) (time.Duration, error) {
	n, err := asInt(cl.strs(ctx, "TTL", key))
	if err != nil || n < 0 {
		return time.Duration(n), err
	}
	return time.Duration(n) * time.Second, nil
}

// HGet is HGET key field; ("", Nil) when either is missing.
func (cl *ClusterClient) HGet(key, field string) (string, error) {
	return cl.HGetContext(bg, key, field)
}

// HGetContext is HGet with a context.
func (cl *ClusterClient) HGetContext(ctx context.Context, key, field string) (string, error) {
	return asString(cl.strs(ctx, "HGET", key, field))
}

// HSet is HSET key field value [field value ...]: how many fields were
// added.
func (cl *ClusterClient) HSet(key string, values ...interface{}) (int64, error) {
	return cl.HSetContext(bg, key, values...)
}

// HSetContext is HSet with a context.
func (cl *ClusterClient) HSetContext(ctx context.Context, key string, values ...interface{}) (int64, error) {
	return asInt(cl.withArgs(ctx, []string{"HSET", key}, values))
}

// HGetAll is HGETALL key as a map (empty when the key does not exist).
func (cl *ClusterClient) HGetAll(key string) (map[string]string, error) {
	return cl.HGetAllContext(bg, key)
}

// HGetAllContext is HGetAll with a context.
func (cl *ClusterClient) HGetAllContext(ctx context.Context, key string) (map[string]string, error) {
	v, err := cl.strs(ctx, "HGETALL", key)
	if err != nil {
		return nil, err
	}
	m := map[string]string{}
	switch v := v.(type) {
	case []interface{}:
		for i := 0; i+1 < len(v); i += 2 {
			k, _ := v[i].(string)
			m[k], _ = v[i+1].(string)
		}
	case map[interface{}]interface{}: // RESP3
		for k, e := range v {
			ks, _ := k.(string)
			m[ks], _ = e.(string)
		}
	default:
		return nil, unexpected(v)
	}
	return m, nil
}

// HDel is HDEL key field...: how many fields were removed.
func (cl *ClusterClient) HDel(key string, fields ...string) (int64, error) {
	return cl.HDelContext(bg, key, fields...)
}

// HDelContext is HDel with a context.
func (cl *ClusterClient) HDelContext(ctx context.Context, key string, fields ...string) (int64, error) {
	return asInt(cl.strs(ctx, append([]string{"HDEL", key}, fields...)...))
}

// LPush is LPUSH key value...: the list's length.
func (cl *ClusterClient) LPush(key string, values ...interface{}) (int64, error) {
	return cl.LPushContext(bg, key, values...)
}

// LPushContext is LPush with a context.
func (cl *ClusterClient) LPushContext(ctx context.Context, key string, values ...interface{}) (int64, error) {
	return asInt(cl.withArgs(ctx, []string{"LPUSH", key}, values))
}

// RPush is RPUSH key value...: the list's length.
func (cl *ClusterClient) RPush(key string, values ...interface{}) (int64, error) {
	return cl.RPushContext(bg, key, values...)
}

// RPushContext is RPush with a context.
func (cl *ClusterClient) RPushContext(ctx context.Context, key string, values ...interface{}) (int64, error) {
	return asInt(cl.withArgs(ctx, []string{"RPUSH", key}, values))
}

// LPop is LPOP key; ("", Nil) on an empty list.
func (cl *ClusterClient) LPop(key string) (string, error) { return cl.LPopContext(bg, key) }

// LPopContext is LPop with a context.
func (cl *ClusterClient) LPopContext(ctx context.Context, key string) (string, error) {
	return asString(cl.strs(ctx, "LPOP", key))
}

// RPop is RPOP key; ("", Nil) on an empty list.
func (cl *ClusterClient) RPop(key string) (string, error) { return cl.RPopContext(bg, key) }

// RPopContext is RPop with a context.
func (cl *ClusterClient) RPopContext(ctx context.Context, key string) (string, error) {
	return asString(cl.strs(ctx, "RPOP", key))
}

// LRange is LRANGE key start stop.
func (cl *ClusterClient) LRange(key string, start, stop int64) ([]string, error) {
	return cl.LRangeContext(bg, key, start, stop)
}

// LRangeContext is LRange with a context.
func (cl *ClusterClient) LRangeContext(ctx context.Context, key string, start, stop int64) ([]string, error) {
	return asStrings(cl.strs(ctx, "LRANGE", key,
		strconv.FormatInt(start, 10), strconv.FormatInt(stop, 10)))
}

// LLen is LLEN key.
func (cl *ClusterClient) LLen(key string) (int64, error) { return cl.LLenContext(bg, key) }

// LLenContext is LLen with a context.
func (cl *ClusterClient) LLenContext(ctx context.Context, key string) (int64, error) {
	return asInt(cl.strs(ctx, "LLEN", key))
}

// BLPop is BLPOP key... timeout: [key, value] of the first list that has
// an element, or (nil, Nil) when timeout passed (0: wait without limit;
// the command's deadline is the library's ReadTimeout plus timeout).
func (cl *ClusterClient) BLPop(timeout time.Duration, keys ...string) ([]string, error) {
	return cl.BLPopContext(bg, timeout, keys...)
}

// BLPopContext is BLPop with a context: when ctx ends first it returns
// ctx.Err() at once (the BLPOP stays on the server until its timeout; an
// element it pops then is lost).
func (cl *ClusterClient) BLPopContext(ctx context.Context, timeout time.Duration, keys ...string) ([]string, error) {
	args := append([]string{"BLPOP"}, keys...)
	args = append(args, strconv.FormatFloat(timeout.Seconds(), 'f', -1, 64))
	return asStrings(cl.strs(ctx, args...))
}

// MGet is MGET key...: the values in key order, nil for a missing key.
// Keys may be in different slots.
func (cl *ClusterClient) MGet(keys ...string) ([]interface{}, error) {
	return cl.MGetContext(bg, keys...)
}

// MGetContext is MGet with a context.
func (cl *ClusterClient) MGetContext(ctx context.Context, keys ...string) ([]interface{}, error) {
	v, err := cl.strs(ctx, append([]string{"MGET"}, keys...)...)
	if err != nil {
		return nil, err
	}
	arr, ok := v.([]interface{})
	if !ok {
		return nil, unexpected(v)
	}
	return arr, nil
}

// MSet is MSET key value [key value ...]; keys may be in different slots
// (each slot's part is atomic, not the whole).
func (cl *ClusterClient) MSet(values ...interface{}) error { return cl.MSetContext(bg, values...) }

// MSetContext is MSet with a context.
func (cl *ClusterClient) MSetContext(ctx context.Context, values ...interface{}) error {
	_, err := cl.withArgs(ctx, []string{"MSET"}, values)
	return err
}

// SAdd is SADD key member...: how many were added.
func (cl *ClusterClient) SAdd(key string, members ...interface{}) (int64, error) {
	return cl.SAddContext(bg, key, members...)
}

// SAddContext is SAdd with a context.
func (cl *ClusterClient) SAddContext(ctx context.Context, key string, members ...interface{}) (int64, error) {
	return asInt(cl.withArgs(ctx, []string{"SADD", key}, members))
}

// SMembers is SMEMBERS key.
func (cl *ClusterClient) SMembers(key string) ([]string, error) { return cl.SMembersContext(bg, key) }

// SMembersContext is SMembers with a context.
func (cl *ClusterClient) SMembersContext(ctx context.Context, key string) ([]string, error) {
	return asStrings(cl.strs(ctx, "SMEMBERS", key))
}

// Publish is PUBLISH channel message: how many subscribers got it.
func (cl *ClusterClient) Publish(channel string, message interface{}) (int64, error) {
	return cl.PublishContext(bg, channel, message)
}

// PublishContext is Publish with a context.
func (cl *ClusterClient) PublishContext(ctx context.Context, channel string, message interface{}) (int64, error) {
	return asInt(cl.withArgs(ctx, []string{"PUBLISH", channel}, []interface{}{message}))
}

// Ping sends PING to a node of the cluster: nil when it answers.
func (cl *ClusterClient) Ping() error { return cl.PingContext(bg) }

// PingContext is Ping with a context.
func (cl *ClusterClient) PingContext(ctx context.Context) error {
	_, err := cl.strs(ctx, "PING")
	return err
}

// CrossingStats counts the client's commands and the cgo crossings that
// carried them since it was created (zero for a client with hooks, which
// makes one crossing per command on the blocking face).
func (cl *ClusterClient) CrossingStats() CrossingStats {
	if cl.co == nil {
		return CrossingStats{}
	}
	return cl.co.stats()
}

// ---------------------------------------------------------------- pipeline

// Pipeline queues commands and sends them together: Exec hands all of them
// to the library in one call (they are written to their nodes in a batch,
// several slots and nodes at once) and returns their results in the
// order they were queued. It is not a transaction: each command runs on
// its own, and a failure of one does not stop the others. A Pipeline is
// for one goroutine; the client it came from may be shared.
//
//	p := rdb.Pipeline()
//	p.Do("SET", "a", 1)
//	p.Do("INCR", "b")
//	res, err := p.Exec(ctx) // res[1].Val == int64(...); err: the first failure
type Pipeline struct {
	cl   *ClusterClient
	cmds []pipeCmd
}

type pipeCmd struct {
	route int
	args  [][]byte
	err   error // formatting failed: reported by Exec
}

// Result is one pipelined command's outcome, as Do returns it.
type Result struct {
	Val interface{}
	Err error
}

// Pipeline starts an empty pipeline on the client.
func (cl *ClusterClient) Pipeline() *Pipeline { return &Pipeline{cl: cl} }

// Do queues a command (Do's arguments) and returns its index in Exec's
// results.
func (p *Pipeline) Do(args ...interface{}) int { return p.DoRoute(RouteDefault, args...) }

// DoRoute queues a command with a per-command route.
func (p *Pipeline) DoRoute(route int, args ...interface{}) int {
	pc := pipeCmd{route: route}
	if len(args) == 0 {
		pc.err = &ClientError{Code: int(ErrInvalid.Code), Msg: "Pipeline.Do: no command"}
	} else if route < RouteDefault || route > routeMax {
		pc.err = &ClientError{Code: int(ErrInvalid.Code), Msg: "route " + strconv.Itoa(route) + " is not a Route* value"}
	}
	if pc.err == nil {
		pc.args = make([][]byte, len(args))
		for i, a := range args {
			b, err := appendArg(a)
			if err != nil {
				pc.err = err
				break
			}
			pc.args[i] = b
		}
	}
	p.cmds = append(p.cmds, pc)
	return len(p.cmds) - 1
}

// Len is the number of commands queued.
func (p *Pipeline) Len() int { return len(p.cmds) }

// Discard drops the queued commands.
func (p *Pipeline) Discard() { p.cmds = p.cmds[:0] }

// Exec sends the queued commands and waits for all of their results (in
// queue order); the pipeline is then empty again. The error is the first
// command's failure other than Nil, or nil. When ctx ends first, the
// commands not yet completed get ctx.Err().
func (p *Pipeline) Exec(ctx context.Context) ([]Result, error) {
	cmds := p.cmds
	p.cmds = nil
	res := make([]Result, len(cmds))
	cl := p.cl
	if cl.co == nil {
		for i, pc := range cmds {
			if pc.err != nil {
				res[i].Err = pc.err
				continue
			}
			res[i].Val, res[i].Err = cl.run(ctx, pc.route, nil, pc.args)
		}
		return res, firstErr(res)
	}
	sub := make([]cmd, 0, len(cmds))
	calls := make([]*call, len(cmds))
	for i, pc := range cmds {
		if pc.err != nil {
			res[i].Err = pc.err
			continue
		}
		calls[i] = getCall()
		sub = append(sub, cmd{route: pc.route, bytes: pc.args, c: calls[i]})
	}
	if err := ctx.Err(); err != nil {
		for i := range res {
			if calls[i] != nil {
				res[i].Err = err
			}
		}
		return res, err
	}
	cl.co.submit(sub)
	for i, c := range calls {
		if c != nil {
			res[i].Val, res[i].Err = c.wait(ctx)
		}
	}
	return res, firstErr(res)
}

func firstErr(res []Result) error {
	for _, r := range res {
		if r.Err != nil && !errors.Is(r.Err, Nil) {
			return r.Err
		}
	}
	return nil
}
