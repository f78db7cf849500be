package sfexec_test

import (
	"context"
	"errors"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

var bg = context.Background()

// Names from the other fleets: CJK and emoji, '/' in service names and namespaces.
const (
	svcCJK   = "聊天"
	svcSlash = "game/room"
	uidEmoji = "用户-🎉-42"
	stateCJK = "运行中 ✅"
)

func open(t *testing.T, server *redistest.Server, opts ...sfexec.Option) *sfexec.Executor {
	t.Helper()
	ex, err := sfexec.Open(server.URL, opts...)
	if err != nil {
		t.Fatalf("open %s: %v", server.URL, err)
	}
	t.Cleanup(func() { _ = ex.Close() })
	if batchEveryCall {
		sfexec.BatchEveryCall(ex)
	}
	return ex
}

// batchEveryCall (SFEXEC_TEST_BATCH=1, the second run of make go-test) sends every single-key
// call of the executors the tests open through the batch path, lone callers too.
var batchEveryCall = os.Getenv("SFEXEC_TEST_BATCH") == "1"

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s: got %#v, want %#v", what, got, want)
	}
}

// commandsProcessed is the server's command count, not counting the INFO that reads it.
func commandsProcessed(t *testing.T, s *redistest.Server) int {
	t.Helper()
	info := s.MustDo(t, "INFO", "stats").(string)
	for _, line := range strings.Split(info, "\r\n") {
		if v, ok := strings.CutPrefix(line, "total_commands_processed:"); ok {
			n, err := strconv.Atoi(v)
			must(t, err)
			return n
		}
	}
	t.Fatal("no total_commands_processed in INFO")
	return 0
}

func TestStatesEveryMethodAndTheKeysInRedis(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	must(t, ex.Ping(bg))
	if v := sfexec.Version(); v == "" || strings.Count(v, ".") != 2 {
		t.Fatalf("version %q", v)
	}

	must(t, ex.SetServiceState(bg, "prod", svcCJK, 0, "Running"))
	must(t, ex.SetServiceState(bg, "prod", svcCJK, 2, stateCJK))
	must(t, ex.SetServiceState(bg, "prod", svcCJK, math.MaxInt32, "Pending"))
	eq(t, "raw pod state", server.MustDo(t, "HGET", "sf:{prod:state:"+svcCJK+"}", "2"), any(stateCJK))
	states, err := ex.GetServiceState(bg, "prod", svcCJK)
	must(t, err)
	eq(t, "states", states, map[int]string{0: "Running", 2: stateCJK, math.MaxInt32: "Pending"})
	states, err = ex.GetServiceState(bg, "prod", "nobody")
	must(t, err)
	eq(t, "no states", states, map[int]string{})

	// Many pods: more entries than the slot's scratch memory holds at first.
	long := strings.Repeat("x", 300)
	want := map[int]string{}
	for pod := 0; pod < 500; pod++ {
		state := "Running"
		if pod%7 == 0 {
			state = long + strconv.Itoa(pod)
		}
		must(t, ex.SetServiceState(bg, "prod", "big", pod, state))
		want[pod] = state
	}
	states, err = ex.GetServiceState(bg, "prod", "big")
	must(t, err)
	eq(t, "500 states", states, want)

	eq(t, "absent workload", must1(ex.GetWorkloadState(bg, "prod", svcCJK)), "")
	must(t, ex.SetWorkloadState(bg, "prod", svcCJK, "Available"))
	must(t, ex.SetWorkloadState(bg, "prod", svcSlash, stateCJK))
	eq(t, "raw workload", server.MustDo(t, "GET", "sf:{prod:workload:"+svcSlash+"}"), any(stateCJK))
	eq(t, "workload", must1(ex.GetWorkloadState(bg, "prod", svcCJK)), "Available")
	eq(t, "workload again", must1(ex.GetWorkloadState(bg, "prod", svcCJK)), "Available")
	eq(t, "workload other", must1(ex.GetWorkloadState(bg, "prod", svcSlash)), stateCJK)
	bigState := strings.Repeat("状", 1000) // 3000 bytes: larger than what is copied inline
	must(t, ex.SetWorkloadState(bg, "prod", "bigstate", bigState))
	eq(t, "big workload", must1(ex.GetWorkloadState(bg, "prod", "bigstate")), bigState)

	batch, err := ex.GetWorkloadStateBatch(bg, "prod", []string{svcSlash, "nobody", svcCJK, "bigstate"})
	must(t, err)
	eq(t, "workload batch", batch, map[string]string{svcSlash: stateCJK, svcCJK: "Available", "bigstate": bigState})
	batch, err = ex.GetWorkloadStateBatch(bg, "prod", nil)
	must(t, err)
	eq(t, "empty workload batch", batch, map[string]string{})
	names := make([]string, 3000)
	for i := range names {
		names[i] = "svc-" + strconv.Itoa(i)
	}
	must(t, ex.SetWorkloadState(bg, "prod", "svc-2999", "Last"))
	batch, err = ex.GetWorkloadStateBatch(bg, "prod", names)
	must(t, err)
	eq(t, "large workload batch", batch, map[string]string{"svc-2999": "Last"})
}

func must1[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func TestLinksEveryMethodAndTheKeysInRedis(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const ns = "prod/eu"
	linkKey := "sf:{" + ns + ":lk:" + uidEmoji + "}" + svcCJK
	uidHash := "sf:{" + ns + ":lk:" + uidEmoji + "}"

	eq(t, "no link", must1(ex.GetLinkedPod(bg, ns, uidEmoji, svcCJK)), -1)
	eq(t, "first set", must1(ex.SetLinkedPod(bg, ns, uidEmoji, svcCJK, 3, -1)), -1)
	eq(t, "raw link", server.MustDo(t, "GET", linkKey), any("3"))
	eq(t, "raw hash", server.MustDo(t, "HGET", uidHash, svcCJK), any("3"))
	eq(t, "second set", must1(ex.SetLinkedPod(bg, ns, uidEmoji, svcCJK, 4, -1)), 3)
	eq(t, "get", must1(ex.GetLinkedPod(bg, ns, uidEmoji, svcCJK)), 4)
	eq(t, "get if persist", must1(ex.GetLinkedPodIfPersist(bg, ns, uidEmoji, svcCJK)), 4)

	// try set: refused by a persistent link to another pod, allowed for the same pod.
	linked, pod, err := ex.TrySetLinkedPod(bg, ns, uidEmoji, svcCJK, 5, -1)
	must(t, err)
	eq(t, "try set refused", []any{linked, pod}, []any{false, 4})
	linked, pod, err = ex.TrySetLinkedPod(bg, ns, uidEmoji, svcCJK, 4, 60)
	must(t, err)
	eq(t, "try set same pod", []any{linked, pod}, []any{true, 4})
	// Now temporary: gone from the uid hash, TTL set, invisible to "if persist".
	eq(t, "raw hash after temporary", server.MustDo(t, "HEXISTS", uidHash, svcCJK), any(int64(0)))
	if ttl := server.MustDo(t, "TTL", linkKey).(int64); ttl <= 0 || ttl > 60 {
		t.Fatalf("TTL %d", ttl)
	}
	eq(t, "temporary not persistent", must1(ex.GetLinkedPodIfPersist(bg, ns, uidEmoji, svcCJK)), -1)
	linked, pod, err = ex.TrySetLinkedPod(bg, ns, uidEmoji, svcCJK, 6, -1)
	must(t, err)
	eq(t, "try set over temporary", []any{linked, pod}, []any{true, 6})

	eq(t, "if absent keeps", must1(ex.SetLinkedPodIfAbsent(bg, ns, uidEmoji, svcCJK, 9, -1)), 6)
	eq(t, "if absent writes", must1(ex.SetLinkedPodIfAbsent(bg, ns, uidEmoji, svcSlash, 9, -1)), 9)

	links, err := ex.GetLinkService(bg, ns, uidEmoji)
	must(t, err)
	eq(t, "link services", links, map[string]int{svcCJK: 6, svcSlash: 9})
	links, err = ex.GetLinkService(bg, ns, "nobody")
	must(t, err)
	eq(t, "no link services", links, map[string]int{})
	for i := 0; i < 100; i++ { // more than the scratch memory holds at first
		_, err := ex.SetLinkedPod(bg, ns, "many", "svc-"+strconv.Itoa(i), i, -1)
		must(t, err)
	}
	links, err = ex.GetLinkService(bg, ns, "many")
	must(t, err)
	eq(t, "100 link services", len(links), 100)
	eq(t, "link service 57", links["svc-57"], 57)

	// compute: the least-loaded candidate (ties: lowest pod), or the existing link.
	candidates := []sfexec.Candidate{{Pod: 4, Load: 10}, {Pod: 2, Load: 3}, {Pod: 1, Load: 3}}
	eq(t, "compute picks", must1(ex.ComputeLinkedPod(bg, ns, "u-c", svcCJK, -1, candidates)), 1)
	eq(t, "compute keeps", must1(ex.ComputeLinkedPod(bg, ns, "u-c", svcCJK, -1, nil)), 1)
	eq(t, "compute none", must1(ex.ComputeLinkedPod(bg, ns, "u-none", svcCJK, -1, nil)), -1)
	many := make([]sfexec.Candidate, 1000)
	for i := range many {
		many[i] = sfexec.Candidate{Pod: i, Load: int64(2000 - i)}
	}
	eq(t, "compute of 1000", must1(ex.ComputeLinkedPod(bg, ns, "u-many", svcCJK, 30, many)), 999)

	// batches, in input order.
	_, err = ex.SetLinkedPod(bg, ns, "u1", svcCJK, 1, -1)
	must(t, err)
	_, err = ex.SetLinkedPod(bg, ns, "u2", svcCJK, 2, 30)
	must(t, err)
	_, err = ex.SetLinkedPod(bg, ns, "u3", svcCJK, 1, -1)
	must(t, err)
	uids := []string{"u3", "nobody", uidEmoji, "u1", "u2"}
	eq(t, "flat batch", must1(ex.BatchGetLinkedPods(bg, ns, svcCJK, uids)), []int{1, -1, 6, 1, 2})
	eq(t, "grouped batch", must1(ex.BatchGetLinkedPod(bg, ns, uids, svcCJK)),
		map[int][]string{1: {"u3", "u1"}, 6: {uidEmoji}, 2: {"u2"}})
	eq(t, "empty batch", must1(ex.BatchGetLinkedPods(bg, ns, svcCJK, nil)), []int{})
	bigBatch := make([]string, 20000) // more than a slot keeps: one allocation of its own
	for i := range bigBatch {
		bigBatch[i] = "user-" + strconv.Itoa(i)
	}
	bigBatch[12345] = "u2"
	pods, err := ex.BatchGetLinkedPods(bg, ns, svcCJK, bigBatch)
	must(t, err)
	eq(t, "big batch hit", pods[12345], 2)
	eq(t, "big batch miss", pods[0], -1)

	// remove: with a grace period the link stays as a temporary one.
	eq(t, "remove with grace", must1(ex.RemoveLinkedPod(bg, ns, uidEmoji, svcCJK, 30)), true)
	eq(t, "still linked", must1(ex.GetLinkedPod(bg, ns, uidEmoji, svcCJK)), 6)
	eq(t, "not persistent", must1(ex.GetLinkedPodIfPersist(bg, ns, uidEmoji, svcCJK)), -1)
	eq(t, "remove now", must1(ex.RemoveLinkedPod(bg, ns, uidEmoji, svcCJK, -1)), true)
	eq(t, "raw link gone", server.MustDo(t, "EXISTS", linkKey), any(int64(0)))
	eq(t, "remove nothing", must1(ex.RemoveLinkedPod(bg, ns, uidEmoji, svcCJK, 0)), false)
	eq(t, "remove other pod", must1(ex.RemoveLinkedPodWithId(bg, ns, uidEmoji, svcSlash, -1, 8)), false)
	eq(t, "kept", must1(ex.GetLinkedPod(bg, ns, uidEmoji, svcSlash)), 9)
	eq(t, "remove this pod", must1(ex.RemoveLinkedPodWithId(bg, ns, uidEmoji, svcSlash, -1, 9)), true)
	eq(t, "removed", must1(ex.GetLinkedPod(bg, ns, uidEmoji, svcSlash)), -1)

	// touch: extends a temporary link only while it points at the pod.
	_, err = ex.SetLinkedPod(bg, ns, uidEmoji, svcCJK, 7, 30)
	must(t, err)
	eq(t, "touch the pod", must1(ex.TouchLinkedPod(bg, ns, uidEmoji, svcCJK, 7, 900)), true)
	if ttl := server.MustDo(t, "TTL", linkKey).(int64); ttl <= 800 || ttl > 900 {
		t.Fatalf("TTL after a touch %d", ttl)
	}
	eq(t, "touch another pod", must1(ex.TouchLinkedPod(bg, ns, uidEmoji, svcCJK, 8, 5)), false)
	if ttl := server.MustDo(t, "TTL", linkKey).(int64); ttl <= 800 {
		t.Fatalf("TTL after touching another pod %d", ttl)
	}
	eq(t, "touch a persistent link", must1(ex.TouchLinkedPod(bg, ns, "u1", svcCJK, 1, 900)), true)
	eq(t, "still persistent", server.MustDo(t, "TTL", "sf:{"+ns+":lk:u1}"+svcCJK), any(int64(-1)))
	eq(t, "touch no link", must1(ex.TouchLinkedPod(bg, ns, "nobody", svcCJK, 1, 900)), false)
	eq(t, "no link made", server.MustDo(t, "EXISTS", "sf:{"+ns+":lk:nobody}"+svcCJK), any(int64(0)))
}

func TestStatsCountCalls(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithPoolSize(4), sfexec.WithMinIdle(2))
	before, err := ex.Stats()
	must(t, err)
	for i := 0; i < 10; i++ {
		_, err := ex.GetLinkedPod(bg, "ns", "u", "svc")
		must(t, err)
	}
	_, err = ex.GetLinkedPod(bg, "ns", "u", "bad{name")
	if !errors.Is(err, sfexec.ErrInvalidArgument) {
		t.Fatalf("got %v", err)
	}
	after, err := ex.Stats()
	must(t, err)
	eq(t, "calls", after.Calls-before.Calls, uint64(11))
	eq(t, "failed calls", after.FailedCalls-before.FailedCalls, uint64(1))
	if after.Connections < 1 || after.Connections > 4 || after.Connects < 1 {
		t.Fatalf("stats %+v", after)
	}
}

// A NUL is reported in the argument that holds it (a state's NUL is not the uid's).
func TestNulIsReportedInItsArgument(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const nul = "x\x00y"
	for _, c := range []struct {
		want string
		err  error
	}{
		{"namespace contains a NUL", ex.SetServiceState(bg, nul, "s", 0, "x")},
		{"service name contains a NUL", ex.SetServiceState(bg, "n", nul, 0, "x")},
		{"state contains a NUL", ex.SetServiceState(bg, "n", "s", 0, nul)},
		{"service name contains a NUL", ex.SetWorkloadState(bg, "n", nul, "x")},
		{"state contains a NUL", ex.SetWorkloadState(bg, "n", "s", nul)},
		{"service name contains a NUL", func() error { _, err := ex.GetServiceState(bg, "n", nul); return err }()},
		{"uid contains a NUL", func() error { _, err := ex.GetLinkedPod(bg, "n", nul, "s"); return err }()},
	} {
		var sfErr *sfexec.Error
		if !errors.As(c.err, &sfErr) || !strings.Contains(sfErr.Message, c.want) {
			t.Fatalf("want %q in the message, got %v", c.want, c.err)
		}
	}
}

// The Go-side checks: what C cannot see (a NUL byte would cut the string short; an int
// outside int32 would wrap) is refused before the library is called, so Redis sees nothing.
func TestGoSideArgumentChecksSendNothing(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const nul = "chat\x00evil"
	const big = math.MaxInt32 + 1
	const small = math.MinInt32 - 1
	type call struct {
		name string
		run  func() error
	}
	e1 := func(err error) error { return err }
	e2 := func(_ any, err error) error { return err }
	e3 := func(_, _ any, err error) error { return err }
	calls := []call{
		{"state ns NUL", func() error { return ex.SetServiceState(bg, nul, "s", 0, "x") }},
		{"state svc NUL", func() error { return ex.SetServiceState(bg, "n", nul, 0, "x") }},
		{"state NUL", func() error { return ex.SetServiceState(bg, "n", "s", 0, nul) }},
		{"state pod > int32", func() error { return ex.SetServiceState(bg, "n", "s", big, "x") }},
		{"state pod < int32", func() error { return ex.SetServiceState(bg, "n", "s", small, "x") }},
		{"get states NUL", func() error { return e2(ex.GetServiceState(bg, "n", nul)) }},
		{"workload NUL", func() error { return e1(ex.SetWorkloadState(bg, "n", "s", nul)) }},
		{"get workload NUL", func() error { return e2(ex.GetWorkloadState(bg, nul, "s")) }},
		{"workload batch NUL", func() error { return e2(ex.GetWorkloadStateBatch(bg, "n", []string{"a", nul})) }},
		{"set uid NUL", func() error { return e2(ex.SetLinkedPod(bg, "n", nul, "s", 1, -1)) }},
		{"set pod > int32", func() error { return e2(ex.SetLinkedPod(bg, "n", "u", "s", big, -1)) }},
		{"set persist > int32", func() error { return e2(ex.SetLinkedPod(bg, "n", "u", "s", 1, big)) }},
		{"try set svc NUL", func() error { return e3(ex.TrySetLinkedPod(bg, "n", "u", nul, 1, -1)) }},
		{"try set persist < int32", func() error { return e3(ex.TrySetLinkedPod(bg, "n", "u", "s", 1, small)) }},
		{"if absent pod > int32", func() error { return e2(ex.SetLinkedPodIfAbsent(bg, "n", "u", "s", big, -1)) }},
		{"get NUL", func() error { return e2(ex.GetLinkedPod(bg, "n", "u", nul)) }},
		{"get if persist NUL", func() error { return e2(ex.GetLinkedPodIfPersist(bg, nul, "u", "s")) }},
		{"grouped batch NUL", func() error { return e2(ex.BatchGetLinkedPod(bg, "n", []string{"u", nul}, "s")) }},
		{"flat batch NUL", func() error { return e2(ex.BatchGetLinkedPods(bg, "n", "s", []string{nul})) }},
		{"remove keep > int32", func() error { return e2(ex.RemoveLinkedPod(bg, "n", "u", "s", big)) }},
		{"remove with id pod > int32", func() error { return e2(ex.RemoveLinkedPodWithId(bg, "n", "u", "s", -1, big)) }},
		{"touch persist > int32", func() error { return e2(ex.TouchLinkedPod(bg, "n", "u", "s", 1, big)) }},
		{"touch uid NUL", func() error { return e2(ex.TouchLinkedPod(bg, "n", nul, "s", 1, 60)) }},
		{"link services NUL", func() error { return e2(ex.GetLinkService(bg, "n", nul)) }},
		{"compute candidate > int32", func() error {
			return e2(ex.ComputeLinkedPod(bg, "n", "u", "s", -1, []sfexec.Candidate{{Pod: big}}))
		}},
		{"compute NUL", func() error { return e2(ex.ComputeLinkedPod(bg, "n", nul, "s", -1, nil)) }},
	}
	stats0, err := ex.Stats()
	must(t, err)
	commands0 := commandsProcessed(t, server)
	for _, c := range calls {
		err := c.run()
		if !errors.Is(err, sfexec.ErrInvalidArgument) {
			t.Fatalf("%s: got %v, want ErrInvalidArgument", c.name, err)
		}
		var sfErr *sfexec.Error
		if !errors.As(err, &sfErr) || sfErr.Status != sfexec.StatusInvalidArgument || sfErr.Message == "" {
			t.Fatalf("%s: %#v", c.name, err)
		}
	}
	eq(t, "commands sent", commandsProcessed(t, server)-commands0, 1) // the first INFO
	stats1, err := ex.Stats()
	must(t, err)
	eq(t, "library calls", stats1.Calls, stats0.Calls)
	if keys := server.MustDo(t, "DBSIZE"); keys != int64(0) {
		t.Fatalf("%v keys written", keys)
	}
}

// The library's own checks come back as ErrInvalidArgument with its message.
func TestLibraryArgumentChecks(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	cases := map[string]error{
		"negative pod":       ex.SetServiceState(bg, "n", "s", -1, "x"),
		"namespace with ':'": ex.SetWorkloadState(bg, "a:b", "s", "x"),
		"empty service":      e2(ex.GetLinkedPod(bg, "n", "u", "")),
		"uid with '}'":       e2(ex.SetLinkedPod(bg, "n", "u}", "s", 1, -1)),
		"persist 0":          e2(ex.SetLinkedPod(bg, "n", "u", "s", 1, 0)),
		"keep -2":            e2(ex.RemoveLinkedPod(bg, "n", "u", "s", -2)),
		"touch persist -1":   e2(ex.TouchLinkedPod(bg, "n", "u", "s", 1, -1)),
		"touch persist 0":    e2(ex.TouchLinkedPod(bg, "n", "u", "s", 1, 0)),
		"touch pod -1":       e2(ex.TouchLinkedPod(bg, "n", "u", "s", -1, 60)),
		"invalid UTF-8":      ex.SetWorkloadState(bg, "n", "s", "\xff\xfe"),
		"state too long":     ex.SetWorkloadState(bg, "n", "s", strings.Repeat("x", 4097)),
		"uid far too long":   e2(ex.GetLinkedPod(bg, "n", strings.Repeat("u", 100000), "s")),
	}
	for name, err := range cases {
		var sfErr *sfexec.Error
		if !errors.Is(err, sfexec.ErrInvalidArgument) || !errors.As(err, &sfErr) || sfErr.Message == "" {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if keys := server.MustDo(t, "DBSIZE"); keys != int64(0) {
		t.Fatalf("%v keys written", keys)
	}
}

func e2(_ any, err error) error { return err }

func TestContextDoneBeforeTheCall(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	ctx, cancel := context.WithCancel(bg)
	cancel()
	expired, cancel2 := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer cancel2()
	stats0, err := ex.Stats()
	must(t, err)
	commands0 := commandsProcessed(t, server)
	for _, c := range []struct {
		ctx  context.Context
		want error
	}{{ctx, context.Canceled}, {expired, context.DeadlineExceeded}} {
		errs := []error{
			ex.Ping(c.ctx),
			ex.SetServiceState(c.ctx, "n", "s", 0, "x"),
			e2(ex.GetServiceState(c.ctx, "n", "s")),
			ex.SetWorkloadState(c.ctx, "n", "s", "x"),
			e2(ex.GetWorkloadState(c.ctx, "n", "s")),
			e2(ex.GetWorkloadStateBatch(c.ctx, "n", []string{"s"})),
			e2(ex.SetLinkedPod(c.ctx, "n", "u", "s", 1, -1)),
			func() error { _, _, err := ex.TrySetLinkedPod(c.ctx, "n", "u", "s", 1, -1); return err }(),
			e2(ex.SetLinkedPodIfAbsent(c.ctx, "n", "u", "s", 1, -1)),
			e2(ex.GetLinkedPod(c.ctx, "n", "u", "s")),
			e2(ex.GetLinkedPodIfPersist(c.ctx, "n", "u", "s")),
			e2(ex.BatchGetLinkedPod(c.ctx, "n", []string{"u"}, "s")),
			e2(ex.BatchGetLinkedPods(c.ctx, "n", "s", []string{"u"})),
			e2(ex.RemoveLinkedPod(c.ctx, "n", "u", "s", -1)),
			e2(ex.RemoveLinkedPodWithId(c.ctx, "n", "u", "s", -1, 1)),
			e2(ex.GetLinkService(c.ctx, "n", "u")),
			e2(ex.ComputeLinkedPod(c.ctx, "n", "u", "s", -1, []sfexec.Candidate{{Pod: 1}})),
		}
		for i, err := range errs {
			if err != c.want { // exactly ctx.Err(), not wrapped
				t.Fatalf("call %d: got %v, want %v", i, err, c.want)
			}
		}
	}
	eq(t, "commands sent", commandsProcessed(t, server)-commands0, 1)
	stats1, err := ex.Stats()
	must(t, err)
	eq(t, "library calls", stats1.Calls, stats0.Calls)
}

// A call waiting for a slot gives up when its context ends, while the call holding the slot
// finishes inside the library.
func TestContextEndsWhileWaitingForASlot(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithPoolSize(1), sfexec.WithCommandTimeout(5*time.Second))
	must(t, ex.Ping(bg))
	started, err := ex.Stats()
	must(t, err)
	server.MustDo(t, "CLIENT", "PAUSE", "1000", "ALL")
	holder := make(chan error, 1)
	go func() { holder <- ex.Ping(bg) }() // blocks in C until the pause ends
	waitForCalls(t, ex, started.Calls+1)
	ctx, cancel := context.WithTimeout(bg, 100*time.Millisecond)
	defer cancel()
	begin := time.Now()
	_, err = ex.GetLinkedPod(ctx, "n", "u", "s")
	waited := time.Since(begin)
	if err != context.DeadlineExceeded {
		t.Fatalf("got %v, want context.DeadlineExceeded", err)
	}
	if waited > 450*time.Millisecond {
		t.Fatalf("the waiting call took %v: it did not honour its context", waited)
	}
	must(t, <-holder)
}

// Names that the Java and Go fleets wrote: CJK and emoji, ':' and '/' in service names, '/'
// in namespaces. Each maps to the documented key.
func TestNamesFromOtherFleets(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	for _, c := range []struct{ ns, svc, uid string }{
		{"prod/eu", "聊天", "用户-🎉"},
		{"default", "chat:v2", "room 7"},
		{"游戏", "game/room", "🎲"},
		{"default", "chat svc", "u:1/2"},
	} {
		_, err := ex.SetLinkedPod(bg, c.ns, c.uid, c.svc, 3, -1)
		must(t, err)
		eq(t, "raw link "+c.svc, server.MustDo(t, "GET", "sf:{"+c.ns+":lk:"+c.uid+"}"+c.svc), any("3"))
		must(t, ex.SetServiceState(bg, c.ns, c.svc, 1, "状态 ✅"))
		eq(t, "raw state "+c.svc, server.MustDo(t, "HGET", "sf:{"+c.ns+":state:"+c.svc+"}", "1"), any("状态 ✅"))
		must(t, ex.SetWorkloadState(bg, c.ns, c.svc, "可用"))
		eq(t, "workload "+c.svc, must1(ex.GetWorkloadState(bg, c.ns, c.svc)), "可用")
		eq(t, "links "+c.svc, must1(ex.GetLinkService(bg, c.ns, c.uid)), map[string]int{c.svc: 3})
	}
}

// waitForCalls waits until the library has started n calls in all (Stats counts a call when
// it starts), i.e. until the goroutine that makes the n-th is inside the library.
func waitForCalls(t *testing.T, ex *sfexec.Executor, n uint64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		stats, err := ex.Stats()
		must(t, err)
		if stats.Calls >= n {
			time.Sleep(20 * time.Millisecond) // past the start, into the wait for the reply
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the library started %d calls, want %d", stats.Calls, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// WithPipelining and WithPipeliningMinInFlight reach the library: 8 calls held up together by
// a server paused for writes (scripts included; new connections still open) each hold a pooled
// connection with pipelining off, and share one connection with every call pipelined.
// (ComputeLinkedPod: the Go package never batches it itself.)
func TestPipeliningOptions(t *testing.T) {
	server := redistest.Start(t)
	for _, c := range []struct {
		name     string
		opts     []sfexec.Option
		pipeline bool
	}{
		{"off", []sfexec.Option{sfexec.WithPipelining(false)}, false},
		{"every call", []sfexec.Option{sfexec.WithPipelining(true), sfexec.WithPipeliningMinInFlight(1)}, true},
	} {
		ex := open(t, server, c.opts...)
		before, err := ex.Stats()
		must(t, err)
		server.MustDo(t, "CLIENT", "PAUSE", "500", "WRITE")
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := 0; i < 8; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := ex.ComputeLinkedPod(bg, "n", c.name+strconv.Itoa(i), "s", -1, []sfexec.Candidate{{Pod: 1}})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			must(t, err)
		}
		after, err := ex.Stats()
		must(t, err)
		opened := after.Connects - before.Connects
		if c.pipeline && opened > 2 {
			t.Errorf("%s: %d connections opened for 8 pipelined calls, want at most 2", c.name, opened)
		}
		if !c.pipeline && opened < 7 {
			t.Errorf("%s: %d connections opened for 8 calls held up at once, want at least 7", c.name, opened)
		}
	}
	_, err := sfexec.Open(server.URL, sfexec.WithPipeliningMinInFlight(-1))
	if !errors.Is(err, sfexec.ErrInvalidArgument) {
		t.Fatalf("min in flight -1: got %v, want ErrInvalidArgument", err)
	}
}
