package sfexec_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// The client cache from Go: hits without round trips (also from many goroutines, which the
// package would otherwise batch), another client's write invalidating, the Executor's own
// writes read back at once, and the option's checks.
func TestClientCache(t *testing.T) {
	server := redistest.Start(t)
	server.MustDo(t, "SET", "sf:{ns:lk:u}chat", "3")
	ex := open(t, server, sfexec.WithClientCache(1000, time.Minute))
	for i := 0; i < 10; i++ {
		eq(t, "pod", must1(ex.GetLinkedPod(bg, "ns", "u", "chat")), 3)
	}
	var wg sync.WaitGroup
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				if pod, err := ex.GetLinkedPod(bg, "ns", "u", "chat"); err != nil || pod != 3 {
					t.Errorf("pod %d, %v", pod, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	stats := must1(ex.Stats())
	eq(t, "misses", stats.CacheMisses, uint64(1))
	eq(t, "hits", stats.CacheHits, uint64(9+16*200))

	server.MustDo(t, "SET", "sf:{ns:lk:u}chat", "5")
	deadline := time.Now().Add(2 * time.Second)
	for must1(ex.GetLinkedPod(bg, "ns", "u", "chat")) != 5 {
		if time.Now().After(deadline) {
			t.Fatal("another client's write never reached the cache")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if must1(ex.Stats()).CacheInvalidations == 0 {
		t.Fatal("no invalidation counted")
	}
	_, err := ex.SetLinkedPod(bg, "ns", "u", "chat", 7, -1)
	must(t, err)
	eq(t, "own write", must1(ex.GetLinkedPod(bg, "ns", "u", "chat")), 7)
	must(t, ex.SetWorkloadState(bg, "ns", "chat", "Up"))
	eq(t, "workload", must1(ex.GetWorkloadState(bg, "ns", "chat")), "Up")
	must(t, ex.SetWorkloadState(bg, "ns", "chat", "Down"))
	eq(t, "workload", must1(ex.GetWorkloadState(bg, "ns", "chat")), "Down")

	for _, opt := range []sfexec.Option{
		sfexec.WithClientCache(-1, time.Minute),
		sfexec.WithClientCache(10, 0),
		sfexec.WithClientCache(10, -time.Second),
	} {
		if _, err := sfexec.Open(server.URL, opt); !errors.Is(err, sfexec.ErrInvalidArgument) {
			t.Fatalf("got %v", err)
		}
	}
	// Off: no cache figures.
	plain := open(t, server, sfexec.WithClientCache(0, 0))
	_ = must1(plain.GetLinkedPod(bg, "ns", "u", "chat"))
	eq(t, "no cache", must1(plain.Stats()).CacheMisses, uint64(0))
}
