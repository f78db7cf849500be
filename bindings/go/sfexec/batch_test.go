package sfexec_test

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// A lone caller goes straight into the library: no batch, no hand-off to another goroutine.
func TestALoneCallerIsNotBatched(t *testing.T) {
	server := redistest.Start(t)
	ex, err := sfexec.Open(server.URL)
	must(t, err)
	defer ex.Close()
	for i := 0; i < 100; i++ {
		_, err := ex.SetLinkedPod(bg, "lone", "u"+strconv.Itoa(i), "chat", i, -1)
		must(t, err)
		eq(t, "pod", must1(ex.GetLinkedPod(bg, "lone", "u"+strconv.Itoa(i), "chat")), i)
	}
	eq(t, "batches", sfexec.Batches(ex), int64(0))
}

// Concurrent single-key calls of every kind are batched, and each caller gets its own result
// and its own typed error.
func TestConcurrentCallsAreBatchedEachWithItsOwnOutcome(t *testing.T) {
	server := redistest.Start(t)
	ex, err := sfexec.Open(server.URL, sfexec.WithPoolSize(4))
	must(t, err)
	defer ex.Close()
	server.MustDo(t, "SET", "sf:{mix:lk:corrupt}chat", "not-a-pod")
	must(t, ex.SetServiceState(bg, "mix", "chat", 1, "Running"))
	var wg sync.WaitGroup
	failures := make(chan string, 32)
	fail := func(what string, got ...any) {
		select {
		case failures <- fmt.Sprint(what, got):
		default:
		}
	}
	for g := 0; g < 32; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			svc := "svc-" + strconv.Itoa(g)
			for i := 0; i < 60; i++ {
				uid := "u-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if prev, err := ex.SetLinkedPod(bg, "mix", uid, "chat", g, -1); err != nil || prev != sfexec.NoPod {
					fail("set", prev, err)
				}
				if linked, pod, err := ex.TrySetLinkedPod(bg, "mix", uid, "chat", g+1, -1); err != nil || linked || pod != g {
					fail("try set", linked, pod, err)
				}
				if pod, err := ex.GetLinkedPod(bg, "mix", uid, "chat"); err != nil || pod != g {
					fail("get", pod, err)
				}
				if pod, err := ex.GetLinkedPodIfPersist(bg, "mix", uid, "chat"); err != nil || pod != g {
					fail("get if persist", pod, err)
				}
				if pod, err := ex.SetLinkedPodIfAbsent(bg, "mix", uid, "other", g+2, 60); err != nil || pod != g+2 {
					fail("if absent", pod, err)
				}
				if links, err := ex.GetLinkService(bg, "mix", uid); err != nil || len(links) != 1 || links["chat"] != g {
					fail("link service", links, err)
				}
				if removed, err := ex.RemoveLinkedPodWithId(bg, "mix", uid, "chat", -1, g+5); err != nil || removed {
					fail("remove with id", removed, err)
				}
				if touched, err := ex.TouchLinkedPod(bg, "mix", uid, "other", g+2, 90); err != nil || !touched {
					fail("touch", touched, err)
				}
				if touched, err := ex.TouchLinkedPod(bg, "mix", uid, "other", g+3, 90); err != nil || touched {
					fail("touch another pod", touched, err)
				}
				if removed, err := ex.RemoveLinkedPod(bg, "mix", uid, "chat", -1); err != nil || !removed {
					fail("remove", removed, err)
				}
				state := "S" + strconv.Itoa(i)
				if err := ex.SetWorkloadState(bg, "mix", svc, state); err != nil {
					fail("set workload", err)
				}
				if got, err := ex.GetWorkloadState(bg, "mix", svc); err != nil || got != state {
					fail("get workload", got, err)
				}
				if err := ex.SetServiceState(bg, "mix", svc, i, "Running"); err != nil {
					fail("set service state", err)
				}
				if states, err := ex.GetServiceState(bg, "mix", "chat"); err != nil || states[1] != "Running" {
					fail("get service state", states, err)
				}
				_, err := ex.GetLinkedPod(bg, "mix", "corrupt", "chat")
				var e *sfexec.Error
				if !errors.Is(err, sfexec.ErrUnexpectedReply) || !errors.As(err, &e) ||
					!strings.Contains(e.Message, "not-a-pod") || e.Op != "get linked pod" {
					fail("corrupt", err)
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for f := range failures {
		t.Error(f)
	}
	if sfexec.Batches(ex) == 0 {
		t.Fatal("32 goroutines and not one batch")
	}
	t.Logf("%d batches", sfexec.Batches(ex))
}

// A call queued behind a busy library gives up with its context (nothing of it is sent), and
// one already inside the library finishes; Close fails what is still queued.
func TestQueuedCallsGiveUpWithTheirContextAndOnClose(t *testing.T) {
	server := redistest.Start(t)
	ex, err := sfexec.Open(server.URL, sfexec.WithPoolSize(1), sfexec.WithCommandTimeout(5*time.Second))
	must(t, err)
	must(t, ex.Ping(bg))
	started, err := ex.Stats()
	must(t, err)
	server.MustDo(t, "CLIENT", "PAUSE", "700", "WRITE")
	holder := make(chan error, 1)
	go func() { _, err := ex.SetLinkedPod(bg, "q", "held", "chat", 1, -1); holder <- err }()
	waitForCalls(t, ex, started.Calls+1)
	// Queued (the one slot is taken): each gives up at its deadline.
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
			defer cancel()
			_, err := ex.SetLinkedPod(ctx, "q", "gave-up-"+strconv.Itoa(i), "chat", 2, -1)
			if err != context.DeadlineExceeded {
				t.Errorf("queued call: %v, want context.DeadlineExceeded", err)
			}
		}(i)
	}
	wg.Wait()
	must(t, <-holder)
	// None of the calls that gave up was sent.
	for i := 0; i < 20; i++ {
		eq(t, "link of a call that gave up", must1(ex.GetLinkedPod(bg, "q", "gave-up-"+strconv.Itoa(i), "chat")), sfexec.NoPod)
	}
	eq(t, "the held call's link", must1(ex.GetLinkedPod(bg, "q", "held", "chat")), 1)

	// Close while calls are queued behind a paused server: each gets its result or ErrClosed.
	server.MustDo(t, "CLIENT", "PAUSE", "500", "ALL")
	results := make(chan error, 30)
	for i := 0; i < 30; i++ {
		go func(i int) { _, err := ex.GetLinkedPod(bg, "q", "held", "chat"); results <- err }(i)
	}
	time.Sleep(100 * time.Millisecond)
	must(t, ex.Close())
	for i := 0; i < 30; i++ {
		if err := <-results; err != nil && !errors.Is(err, sfexec.ErrClosed) {
			t.Fatalf("call during Close: %v", err)
		}
	}
}
