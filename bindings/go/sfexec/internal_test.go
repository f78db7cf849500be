package sfexec

import (
	"context"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
)

func TestLibraryMatchesTheHeader(t *testing.T) {
	if Version() != headerVersion {
		t.Fatalf("library %s, header %s", Version(), headerVersion)
	}
	if err := checkLibraryVersion(); err != nil {
		t.Fatal(err)
	}
}

func TestStatusNamesMatchTheLibrary(t *testing.T) {
	for s := StatusOK; s <= StatusInternal; s++ {
		if got := statusName(s); got != s.String() {
			t.Fatalf("status %d: library %q, Go %q", s, got, s.String())
		}
	}
	if got := statusName(10); got != "SF_UNKNOWN" {
		t.Fatalf("status 10: %q", got)
	}
}

// A batch makes at most one C allocation: small ones use the slot's memory, medium ones grow
// it once, large ones get one buffer of their own.
func TestBatchesMakeAtMostOneCAllocation(t *testing.T) {
	server := redistest.Start(t)
	ex, err := Open(server.URL, WithPoolSize(1))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	ctx := context.Background()
	if err := ex.Ping(ctx); err != nil { // the slot's own memory
		t.Fatal(err)
	}
	uids := func(n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = "user-" + strconv.Itoa(i)
		}
		return out
	}
	calls := map[string]func([]string) error{
		"BatchGetLinkedPods": func(b []string) error {
			_, err := ex.BatchGetLinkedPods(ctx, "ns", "svc", b)
			return err
		},
		"GetWorkloadStateBatch": func(b []string) error {
			_, err := ex.GetWorkloadStateBatch(ctx, "ns", b)
			return err
		},
	}
	for _, c := range []struct {
		n      int
		steady int64 // once the slot's memory has grown
	}{{10, 0}, {1000, 0}, {20000, 1}} {
		batch := uids(c.n)
		for name, call := range calls {
			for round := 0; round < 3; round++ {
				before := cAllocations.Load()
				if err := call(batch); err != nil {
					t.Fatal(err)
				}
				got := cAllocations.Load() - before
				if got > 1 || (round > 0 && got != c.steady) {
					t.Fatalf("%s of %d, round %d: %d C allocations", name, c.n, round, got)
				}
			}
		}
	}
}

// The slots keep callers from waiting in the library's pool, so ErrPoolTimeout needs more
// slots than connections: here one extra slot, and a paused server holding the only connection.
func TestPoolTimeoutFromTheLibrary(t *testing.T) {
	server := redistest.Start(t)
	ex, err := Open(server.URL, WithPoolSize(1), WithPoolWaitTimeout(100*time.Millisecond),
		WithCommandTimeout(5*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	defer ex.Close()
	extra := &slot{}
	ex.all = append(ex.all, extra)
	ex.slots = make(chan *slot, 2)
	ex.slots <- ex.all[0]
	ex.slots <- extra
	ctx := context.Background()
	if err := ex.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	before, err := ex.Stats()
	if err != nil {
		t.Fatal(err)
	}
	server.MustDo(t, "CLIENT", "PAUSE", "1000", "ALL")
	holder := make(chan error, 1)
	go func() { holder <- ex.Ping(ctx) }()
	// Until the holder is inside the library (Stats counts a call when it starts).
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if stats, err := ex.Stats(); err != nil || stats.Calls > before.Calls || time.Now().After(deadline) {
			break
		}
	}
	time.Sleep(20 * time.Millisecond)
	_, err = ex.GetLinkedPod(ctx, "n", "u", "s")
	var sfErr *Error
	if !errors.Is(err, ErrPoolTimeout) || !errors.As(err, &sfErr) || sfErr.Message == "" {
		t.Fatalf("got %v, want ErrPoolTimeout", err)
	}
	if err := <-holder; err != nil {
		t.Fatal(err)
	}
	stats, err := ex.Stats()
	if err != nil || stats.PoolTimeouts != 1 {
		t.Fatalf("stats %+v, %v", stats, err)
	}
}
