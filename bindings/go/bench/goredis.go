package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"

	"github.com/redis/go-redis/v9"

	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// goRedisExecutor is the seed's StatefulExecutor as a plain go-redis v9 program would write it:
// the same keys, the same Lua scripts (run with EVALSHA), the same results.
type goRedisExecutor struct {
	rdb                                            redis.UniversalClient
	setLinked, trySet, ifAbsent, ifPersist, remove *redis.Script
	// cluster: a multi-key read is one GET per key, pipelined (go-redis splits the pipeline
	// by node); MGET of keys of several slots would be refused (CROSSSLOT).
	cluster bool
}

var _ sfexec.StatefulExecutor = (*goRedisExecutor)(nil)

func newGoRedisExecutor(ctx context.Context, rdb redis.UniversalClient, luaDir string) (*goRedisExecutor, error) {
	prelude, err := os.ReadFile(filepath.Join(luaDir, "prelude.lua"))
	if err != nil {
		return nil, err
	}
	load := func(name string) (*redis.Script, error) {
		body, err := os.ReadFile(filepath.Join(luaDir, name+".lua"))
		if err != nil {
			return nil, err
		}
		script := redis.NewScript(string(prelude) + string(body))
		return script, script.Load(ctx, rdb).Err()
	}
	_, cluster := rdb.(*redis.ClusterClient)
	g := &goRedisExecutor{rdb: rdb, cluster: cluster}
	for _, s := range []struct {
		dst  **redis.Script
		name string
	}{
		{&g.setLinked, "set_linked_pod"}, {&g.trySet, "try_set_linked_pod"},
		{&g.ifAbsent, "set_linked_pod_if_absent"}, {&g.ifPersist, "get_linked_pod_if_persist"},
		{&g.remove, "remove_linked_pod"},
	} {
		if *s.dst, err = load(s.name); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return g, nil
}

func stateKey(ns, svc string) string    { return "sf:{" + ns + ":state:" + svc + "}" }
func workloadKey(ns, svc string) string { return "sf:{" + ns + ":workload:" + svc + "}" }
func uidHash(ns, uid string) string     { return "sf:{" + ns + ":lk:" + uid + "}" }
func linkKey(ns, uid, svc string) string {
	return "sf:{" + ns + ":lk:" + uid + "}" + svc
}

// pod parses a stored pod ordinal (plain decimal).
func pod(s string) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 2147483647 || (len(s) > 1 && s[0] == '0') || s[0] == '+' {
		return -1, fmt.Errorf("not a pod ordinal: %q", s)
	}
	return n, nil
}

func (g *goRedisExecutor) SetServiceState(ctx context.Context, ns, svc string, podID int, state string) error {
	return g.rdb.HSet(ctx, stateKey(ns, svc), strconv.Itoa(podID), state).Err()
}

func (g *goRedisExecutor) GetServiceState(ctx context.Context, ns, svc string) (map[int]string, error) {
	all, err := g.rdb.HGetAll(ctx, stateKey(ns, svc)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[int]string, len(all))
	for field, state := range all {
		if p, err := pod(field); err == nil {
			out[p] = state
		}
	}
	return out, nil
}

func (g *goRedisExecutor) SetWorkloadState(ctx context.Context, ns, svc, state string) error {
	return g.rdb.Set(ctx, workloadKey(ns, svc), state, 0).Err()
}

func (g *goRedisExecutor) GetWorkloadState(ctx context.Context, ns, svc string) (string, error) {
	state, err := g.rdb.Get(ctx, workloadKey(ns, svc)).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	return state, err
}

func (g *goRedisExecutor) GetWorkloadStateBatch(ctx context.Context, ns string, svcs []string) (map[string]string, error) {
	keys := make([]string, len(svcs))
	for i, svc := range svcs {
		keys[i] = workloadKey(ns, svc)
	}
	values, err := g.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(svcs))
	for i, v := range values {
		if s, ok := v.(string); ok {
			out[svcs[i]] = s
		}
	}
	return out, nil
}

// mget reads keys in one round trip per node: MGET on one server, pipelined GETs on a cluster.
func (g *goRedisExecutor) mget(ctx context.Context, keys []string) ([]any, error) {
	if !g.cluster {
		return g.rdb.MGet(ctx, keys...).Result()
	}
	cmds := make([]*redis.StringCmd, len(keys))
	_, err := g.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, key := range keys {
			cmds[i] = p.Get(ctx, key)
		}
		return nil
	})
	if err != nil && !errors.Is(err, redis.Nil) {
		return nil, err
	}
	values := make([]any, len(keys))
	for i, cmd := range cmds {
		if v, err := cmd.Result(); err == nil {
			values[i] = v
		}
	}
	return values, nil
}

func (g *goRedisExecutor) linkScript(ctx context.Context, s *redis.Script, ns, uid, svc string, args ...any) *redis.Cmd {
	return s.EvalSha(ctx, g.rdb, []string{uidHash(ns, uid), linkKey(ns, uid, svc)}, append([]any{svc}, args...)...)
}

func (g *goRedisExecutor) SetLinkedPod(ctx context.Context, ns, uid, svc string, podID, persist int) (int, error) {
	n, err := g.linkScript(ctx, g.setLinked, ns, uid, svc, podID, persist).Int()
	if err != nil {
		return -1, err
	}
	return n, nil
}

func (g *goRedisExecutor) TrySetLinkedPod(ctx context.Context, ns, uid, svc string, podID, persist int) (bool, int, error) {
	reply, err := g.linkScript(ctx, g.trySet, ns, uid, svc, podID, persist).Int64Slice()
	if err != nil || len(reply) != 2 {
		return false, -1, fmt.Errorf("try set linked pod: %v %v", reply, err)
	}
	return reply[0] == 1, int(reply[1]), nil
}

func (g *goRedisExecutor) SetLinkedPodIfAbsent(ctx context.Context, ns, uid, svc string, podID, persist int) (int, error) {
	n, err := g.linkScript(ctx, g.ifAbsent, ns, uid, svc, podID, persist).Int()
	if err != nil {
		return -1, err
	}
	return n, nil
}

func (g *goRedisExecutor) GetLinkedPod(ctx context.Context, ns, uid, svc string) (int, error) {
	value, err := g.rdb.Get(ctx, linkKey(ns, uid, svc)).Result()
	if errors.Is(err, redis.Nil) {
		return -1, nil
	}
	if err != nil {
		return -1, err
	}
	return pod(value)
}

func (g *goRedisExecutor) GetLinkedPodIfPersist(ctx context.Context, ns, uid, svc string) (int, error) {
	return g.ifPersist.EvalSha(ctx, g.rdb, []string{uidHash(ns, uid), linkKey(ns, uid, svc)}).Int()
}

func (g *goRedisExecutor) BatchGetLinkedPod(ctx context.Context, ns string, uids []string, svc string) (map[int][]string, error) {
	keys := make([]string, len(uids))
	for i, uid := range uids {
		keys[i] = linkKey(ns, uid, svc)
	}
	values, err := g.mget(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]string)
	for i, v := range values {
		if s, ok := v.(string); ok {
			p, err := pod(s)
			if err != nil {
				return nil, err
			}
			out[p] = append(out[p], uids[i])
		}
	}
	return out, nil
}

func (g *goRedisExecutor) RemoveLinkedPod(ctx context.Context, ns, uid, svc string, keep int) (bool, error) {
	n, err := g.linkScript(ctx, g.remove, ns, uid, svc, keep).Int()
	return n == 1, err
}

func (g *goRedisExecutor) RemoveLinkedPodWithId(ctx context.Context, ns, uid, svc string, keep, podID int) (bool, error) {
	n, err := g.linkScript(ctx, g.remove, ns, uid, svc, keep, podID).Int()
	return n == 1, err
}

func (g *goRedisExecutor) GetLinkService(ctx context.Context, ns, uid string) (map[string]int, error) {
	all, err := g.rdb.HGetAll(ctx, uidHash(ns, uid)).Result()
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(all))
	for svc, value := range all {
		p, err := pod(value)
		if err != nil {
			return nil, err
		}
		out[svc] = p
	}
	return out, nil
}
