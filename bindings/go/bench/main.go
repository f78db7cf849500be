// Command bench measures every seed operation through the sfexec package beside plain
// go-redis v9 running the same Lua scripts with EVALSHA, on the same throwaway redis-server, at
// 1 and 16 goroutines. The two sides run alternately in several short pairs; each row gives
// the median throughput of each side and the median of the per-pair ratios.
//
// It also gives the client process's CPU time per call (user + system, all threads) of each
// side, which the other processes of a busy machine disturb less than throughput.
//
// -cluster N runs the same on a throwaway Redis Cluster of N primaries instead (sfexec
// OpenCluster beside a go-redis ClusterClient); -cluster-urls uses a cluster that is already
// running (seed URLs), -sides sfexec measures sfexec alone, and -seed=false skips writing the
// data the reads expect (bench/go_cluster_compare.py runs two builds against one cluster so).
//
//	go run . [-pairs 15] [-duration 150ms] [-ops get,set] [-goroutines 1,16] [-json FILE]
//	go run . -cluster 3 [-ops ...] [-goroutines 16]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

const (
	ns        = "bench"
	svc       = "chat"
	uidCount  = 10000
	podCount  = 32
	batchSize = 100
	poolSize  = 16
)

var uids, services []string

// op is one seed operation; i spreads the calls over the uids.
type op struct {
	name string
	run  func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error
}

// The client cache's rows: a hot set of hotUIDs uids takes 9 reads in 10 (the cache holds
// them), the others go anywhere in uidCount (mostly misses: the cache holds cacheEntries).
const (
	hotUIDs      = 1000
	cacheEntries = 2000
)

func getLinkedPodOf(uid int) func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
	return func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
		u := uid
		pod, err := ex.GetLinkedPod(ctx, ns, uids[u], svc)
		return expect(err, pod == u%podCount, "pod", pod)
	}
}

func ops() []op {
	return []op{
		{"SetServiceState", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			return ex.SetServiceState(ctx, ns, svc, i%podCount, "Running")
		}},
		{"GetServiceState (32 pods)", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			states, err := ex.GetServiceState(ctx, ns, svc)
			return expect(err, len(states) == podCount, "states", len(states))
		}},
		{"SetWorkloadState", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			return ex.SetWorkloadState(ctx, ns, services[i%len(services)], "Available")
		}},
		{"GetWorkloadState", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			state, err := ex.GetWorkloadState(ctx, ns, services[i%len(services)])
			return expect(err, state == "Available", "state", state)
		}},
		{"GetWorkloadStateBatch (100)", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			states, err := ex.GetWorkloadStateBatch(ctx, ns, services)
			return expect(err, len(states) == len(services), "states", len(states))
		}},
		{"SetLinkedPod", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			_, err := ex.SetLinkedPod(ctx, ns, uids[i%uidCount], "w", i%podCount, -1)
			return err
		}},
		{"TrySetLinkedPod", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			_, _, err := ex.TrySetLinkedPod(ctx, ns, uids[i%uidCount], "w", i%podCount, -1)
			return err
		}},
		{"SetLinkedPodIfAbsent", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			pod, err := ex.SetLinkedPodIfAbsent(ctx, ns, uids[i%uidCount], svc, 0, -1)
			return expect(err, pod == (i%uidCount)%podCount, "pod", pod)
		}},
		{"GetLinkedPod", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			pod, err := ex.GetLinkedPod(ctx, ns, uids[i%uidCount], svc)
			return expect(err, pod == (i%uidCount)%podCount, "pod", pod)
		}},
		{"GetLinkedPodIfPersist", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			pod, err := ex.GetLinkedPodIfPersist(ctx, ns, uids[i%uidCount], svc)
			return expect(err, pod == (i%uidCount)%podCount, "pod", pod)
		}},
		{"BatchGetLinkedPod (100)", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			start := (i * batchSize) % (uidCount - batchSize)
			pods, err := ex.BatchGetLinkedPod(ctx, ns, uids[start:start+batchSize], svc)
			return expect(err, len(pods) == podCount, "pods", len(pods))
		}},
		{"RemoveLinkedPod", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			_, err := ex.RemoveLinkedPod(ctx, ns, uids[i%uidCount], "r", 30)
			return err
		}},
		{"RemoveLinkedPodWithId", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			_, err := ex.RemoveLinkedPodWithId(ctx, ns, uids[i%uidCount], "r", -1, 7)
			return err
		}},
		{"GetLinkService", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			links, err := ex.GetLinkService(ctx, ns, uids[i%uidCount])
			return expect(err, len(links) >= 1, "links", len(links))
		}},
	}
}

// cachedOps are the client cache's rows: the sfexec side runs on an Executor with the cache on
// (the go-redis side, GET, is the same as for GetLinkedPod).
func cachedOps() []op {
	return []op{
		{"GetLinkedPod, client cache, 90 % hits", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			u := i % hotUIDs
			if i%10 == 0 {
				// Anywhere in the uids, in no order the cache could keep up with.
				u = int(uint32(i)*2654435761) % uidCount
			}
			return getLinkedPodOf(u)(ctx, ex, i)
		}},
		{"GetLinkedPod, client cache, all hits", func(ctx context.Context, ex sfexec.StatefulExecutor, i int) error {
			return getLinkedPodOf(i%hotUIDs)(ctx, ex, i)
		}},
	}
}

func expect(err error, ok bool, what string, got any) error {
	if err == nil && !ok {
		return fmt.Errorf("unexpected %s: %v", what, got)
	}
	return err
}

// cpuTime is the user + system CPU time this process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

type sample struct {
	rate   float64 // calls per second
	cpuPer float64 // client CPU microseconds per call
}

// measure runs op on ex from n goroutines for d and returns calls per second and the client's
// CPU time per call.
func measure(ex sfexec.StatefulExecutor, o op, n int, d time.Duration) (sample, error) {
	ctx := context.Background()
	cpu0 := cpuTime()
	var calls atomic.Int64
	var stop atomic.Bool
	var wg sync.WaitGroup
	var firstErr error
	var errOnce sync.Once
	started := time.Now()
	for g := 0; g < n; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			i := g * 7919
			local := int64(0)
			for !stop.Load() {
				if err := o.run(ctx, ex, i); err != nil {
					errOnce.Do(func() { firstErr = err })
					stop.Store(true)
				}
				i++
				local++
			}
			calls.Add(local)
		}(g)
	}
	time.Sleep(d)
	stop.Store(true)
	wg.Wait()
	elapsed, cpu := time.Since(started), cpuTime()-cpu0
	total := float64(calls.Load())
	if total == 0 {
		total = 1
	}
	return sample{total / elapsed.Seconds(), float64(cpu.Microseconds()) / total}, firstErr
}

func median(values []float64) float64 {
	sorted := append([]float64(nil), values...)
	sort.Float64s(sorted)
	m := len(sorted) / 2
	if len(sorted)%2 == 1 {
		return sorted[m]
	}
	return (sorted[m-1] + sorted[m]) / 2
}

func main() {
	pairs := flag.Int("pairs", 15, "alternated pairs of runs per row")
	duration := flag.Duration("duration", 150*time.Millisecond, "length of one run")
	only := flag.String("ops", "", "comma-separated substrings of the operations to run (default all)")
	levels := flag.String("goroutines", "1,16", "comma-separated goroutine counts")
	_, self, _, _ := runtime.Caller(0)
	luaDir := flag.String("lua", filepath.Join(filepath.Dir(self), "..", "..", "..", "lua"), "the repository's lua directory")
	profile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	jsonPath := flag.String("json", "", "also write the table as JSON to this file (the charts' input)")
	primaries := flag.Int("cluster", 0, "run on a throwaway Redis Cluster of this many primaries (0: one server)")
	clusterURLs := flag.String("cluster-urls", "", "comma-separated seed URLs of a running Redis Cluster to use instead")
	serverURL := flag.String("server-url", "", "the URL of a running server to use instead of a throwaway one")
	sides := flag.String("sides", "both", "both, or sfexec alone")
	seedData := flag.Bool("seed", true, "write the data the reads expect first")
	flag.Parse()
	if *profile != "" {
		f, err := os.Create(*profile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	t := target{primaries: *primaries, seeds: splitList(*clusterURLs), server: *serverURL,
		sfexecOnly: *sides == "sfexec", seed: *seedData}
	if *sides != "both" && *sides != "sfexec" {
		fmt.Fprintln(os.Stderr, "bench: -sides is both or sfexec")
		os.Exit(2)
	}
	if err := run(t, *pairs, *duration, *only, *levels, *luaDir, *jsonPath); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

// target is what the bench runs against.
type target struct {
	primaries  int      // a throwaway cluster of this many primaries; 0: one server
	seeds      []string // a running cluster's seed URLs (instead of a throwaway one)
	server     string   // a running server's URL (instead of a throwaway one)
	sfexecOnly bool     // measure sfexec alone
	seed       bool     // write the data the reads expect
}

func splitList(list string) []string {
	var out []string
	for _, s := range strings.Split(list, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// startCluster starts n cluster-enabled redis-servers under dir, joins them with
// redis-cli --cluster create and waits until every node serves every slot. It returns the
// nodes' URLs and a function that stops them.
func startCluster(dir string, n int) ([]string, func(), error) {
	var nodes []*redistest.Server
	stop := func() {
		for _, node := range nodes {
			node.Stop()
		}
	}
	var urls, addrs []string
	for i := 0; i < n; i++ {
		nodeDir := filepath.Join(dir, "node-"+strconv.Itoa(i))
		if err := os.MkdirAll(nodeDir, 0o755); err != nil {
			stop()
			return nil, nil, err
		}
		node, err := redistest.StartProcess(nodeDir, "--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf", "--cluster-node-timeout", "5000")
		if err != nil {
			stop()
			return nil, nil, err
		}
		nodes = append(nodes, node)
		urls = append(urls, node.URL)
		addrs = append(addrs, "127.0.0.1:"+strconv.Itoa(node.Port))
	}
	create := exec.Command("redis-cli", append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		stop()
		return nil, nil, fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	deadline := time.Now().Add(60 * time.Second)
	for _, node := range nodes {
		for {
			info, err := node.Do("CLUSTER", "INFO")
			if text, ok := info.(string); err == nil && ok && strings.Contains(text, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				stop()
				return nil, nil, fmt.Errorf("the cluster did not become ready")
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	return urls, stop, nil
}

func run(t target, pairs int, duration time.Duration, only, levels, luaDir, jsonPath string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sfexec-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	options := []sfexec.Option{sfexec.WithPoolSize(poolSize), sfexec.WithMinIdle(poolSize)}
	var sf *sfexec.Executor
	var rdb redis.UniversalClient
	// The same Executor with the client cache on, for the cache's rows.
	var openCached func() (*sfexec.Executor, error)
	cached := append(options[:len(options):len(options)], sfexec.WithClientCache(cacheEntries, time.Minute))
	where := "same redis-server"
	if seeds := t.seeds; len(seeds) > 0 || t.primaries > 0 {
		if len(seeds) == 0 {
			urls, stop, err := startCluster(dir, t.primaries)
			if err != nil {
				return err
			}
			defer stop()
			seeds = urls
		}
		where = fmt.Sprintf("same Redis Cluster (%d seeds)", len(seeds))
		if sf, err = sfexec.OpenCluster(seeds, options...); err != nil {
			return err
		}
		openCached = func() (*sfexec.Executor, error) { return sfexec.OpenCluster(seeds, cached...) }
		addrs := make([]string, len(seeds))
		for i, url := range seeds {
			addrs[i] = strings.TrimPrefix(url, "redis://")
		}
		rdb = redis.NewClusterClient(&redis.ClusterOptions{Addrs: addrs, PoolSize: poolSize, MinIdleConns: poolSize})
	} else {
		url := t.server
		if url == "" {
			server, err := redistest.StartProcess(dir)
			if err != nil {
				return err
			}
			defer server.Stop()
			url = server.URL
		}
		if sf, err = sfexec.Open(url, options...); err != nil {
			return err
		}
		openCached = func() (*sfexec.Executor, error) { return sfexec.Open(url, cached...) }
		rdb = redis.NewClient(&redis.Options{Addr: strings.TrimPrefix(url, "redis://"),
			PoolSize: poolSize, MinIdleConns: poolSize})
	}
	defer sf.Close()
	sfc, err := openCached()
	if err != nil {
		return err
	}
	defer sfc.Close()
	defer rdb.Close()
	var gr *goRedisExecutor
	if !t.sfexecOnly {
		if gr, err = newGoRedisExecutor(ctx, rdb, luaDir); err != nil {
			return err
		}
		// The same scripts: go-redis loaded exactly what the library runs.
		if n, err := rdb.ScriptExists(ctx, gr.setLinked.Hash()).Result(); err != nil || !n[0] {
			return fmt.Errorf("the Lua scripts differ from the library's")
		}
	}
	names()
	if t.seed {
		if err := seed(ctx, sf); err != nil {
			return err
		}
	}

	var counts []int
	for _, s := range strings.Split(levels, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil {
			return err
		}
		counts = append(counts, n)
	}
	fmt.Printf("sfexec (library %s) vs go-redis v9, %s, pool of %d connections each;\n", sfexec.Version(), where, poolSize)
	fmt.Printf("%d alternated pairs of %v per row, medians; ratio = sfexec / go-redis (> 1: sfexec faster)\n\n", pairs, duration)
	fmt.Println("| operation | goroutines | sfexec calls/s | go-redis calls/s | ratio | sfexec CPU µs/call | go-redis CPU µs/call |")
	fmt.Println("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
	var all []float64
	rep := newReport("Go: sfexec against go-redis v9", "sfexec", "go-redis v9")
	plain := len(ops())
	for k, o := range append(ops(), cachedOps()...) {
		if !selected(o.name, only) {
			continue
		}
		ours := sfexec.StatefulExecutor(sf)
		if k >= plain {
			ours = sfc
		}
		for _, n := range counts {
			sf := ours
			// Warm both sides up (connections, caches).
			if _, err := measure(sf, o, n, duration); err != nil {
				return fmt.Errorf("%s (sfexec): %w", o.name, err)
			}
			if gr == nil {
				var rates, cpu []float64
				for p := 0; p < pairs; p++ {
					a, err := measure(sf, o, n, duration)
					if err != nil {
						return fmt.Errorf("%s: %w", o.name, err)
					}
					rates, cpu = append(rates, a.rate), append(cpu, a.cpuPer)
				}
				fmt.Printf("| %s | %d | %s | - | - | %.1f | - |\n", o.name, n, thousands(median(rates)), median(cpu))
				rep.Rows = append(rep.Rows, reportRow{Op: o.name, Threads: n, Pairs: pairs,
					OursPerS: median(rates), OursCPUus: median(cpu)})
				continue
			}
			if _, err := measure(gr, o, n, duration); err != nil {
				return fmt.Errorf("%s (go-redis): %w", o.name, err)
			}
			var sfRates, grRates, ratios, sfCPU, grCPU []float64
			before, _ := sfc.Stats()
			for p := 0; p < pairs; p++ {
				var a, b sample
				if p%2 == 0 {
					a, err = measure(sf, o, n, duration)
					if err == nil {
						b, err = measure(gr, o, n, duration)
					}
				} else {
					b, err = measure(gr, o, n, duration)
					if err == nil {
						a, err = measure(sf, o, n, duration)
					}
				}
				if err != nil {
					return fmt.Errorf("%s: %w", o.name, err)
				}
				sfRates, grRates = append(sfRates, a.rate), append(grRates, b.rate)
				sfCPU, grCPU = append(sfCPU, a.cpuPer), append(grCPU, b.cpuPer)
				ratios = append(ratios, a.rate/b.rate)
			}
			ratio := median(ratios)
			all = append(all, ratio)
			if after, _ := sfc.Stats(); k >= plain {
				hits, misses := after.CacheHits-before.CacheHits, after.CacheMisses-before.CacheMisses
				fmt.Printf("(%s, %d goroutines: %.1f %% of the cached side's reads were hits)\n", o.name, n,
					100*float64(hits)/float64(max(hits+misses, 1)))
			}
			fmt.Printf("| %s | %d | %s | %s | **%.2f** | %.1f | %.1f |\n", o.name, n,
				thousands(median(sfRates)), thousands(median(grRates)), ratio, median(sfCPU), median(grCPU))
			rep.Rows = append(rep.Rows, reportRow{Op: o.name, Threads: n, Pairs: pairs, Ratio: ratio,
				OursPerS: median(sfRates), PeerPerS: median(grRates), OursCPUus: median(sfCPU), PeerCPUus: median(grCPU)})
		}
	}
	if jsonPath != "" {
		if err := rep.write(jsonPath); err != nil {
			return err
		}
	}
	if len(all) > 0 {
		sort.Float64s(all)
		fmt.Printf("\nratios: lowest %.2f, median %.2f, highest %.2f\n", all[0], median(all), all[len(all)-1])
	}
	return nil
}

func selected(name, only string) bool {
	if only == "" {
		return true
	}
	for _, s := range strings.Split(only, ",") {
		if s != "" && strings.Contains(strings.ToLower(name), strings.ToLower(s)) {
			return true
		}
	}
	return false
}

// names fills in the uids and services the operations use.
func names() {
	uids = make([]string, uidCount)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
	}
	services = make([]string, batchSize)
	for i := range services {
		services[i] = "svc-" + strconv.Itoa(i)
	}
}

// seed writes what the read operations read: 32 pod states, 100 workload states, and a
// persistent link of every uid to pod (uid index mod 32), for svc and for the "r" removals.
func seed(ctx context.Context, ex *sfexec.Executor) error {
	for pod := 0; pod < podCount; pod++ {
		if err := ex.SetServiceState(ctx, ns, svc, pod, "Running"); err != nil {
			return err
		}
	}
	for _, s := range services {
		if err := ex.SetWorkloadState(ctx, ns, s, "Available"); err != nil {
			return err
		}
	}
	for i, uid := range uids {
		if _, err := ex.SetLinkedPod(ctx, ns, uid, svc, i%podCount, -1); err != nil {
			return err
		}
	}
	return nil
}

func thousands(v float64) string {
	s := strconv.FormatInt(int64(v+0.5), 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}
