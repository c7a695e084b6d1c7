//go:build goredis

package main

import (
	"context"

	"github.com/redis/go-redis/v9"
)

func init() { runners["goredis"] = newGoredisRunner }

type goredisRunner struct{ c *redis.ClusterClient }

func newGoredisRunner(addrs []string, readOnly bool) (runner, error) {
	c := redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, ReadOnly: readOnly})
	if err := c.Ping(context.Background()).Err(); err != nil {
		return nil, err
	}
	return &goredisRunner{c}, nil
}

func (r *goredisRunner) get(ctx context.Context, key string) error {
	err := r.c.Get(ctx, key).Err()
	if err == redis.Nil {
		return nil
	}
	return err
}

func (r *goredisRunner) set(ctx context.Context, key, val string) error {
	return r.c.Set(ctx, key, val, 0).Err()
}

func (r *goredisRunner) crossings() float64 { return -1 }
func (r *goredisRunner) close()             { r.c.Close() }
