package sfexec_test

import (
	"context"
	"errors"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

func osThreads(t *testing.T) int {
	status, err := os.ReadFile("/proc/self/status")
	must(t, err)
	for _, line := range strings.Split(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "Threads:"); ok {
			n, err := strconv.Atoi(strings.TrimSpace(v))
			must(t, err)
			return n
		}
	}
	t.Fatal("no Threads: line")
	return 0
}

// 3,000 goroutines on one executor under a 400-thread limit: calls wait for one of the pool's
// slots instead of each pinning an OS thread in C, so the process never runs out of threads.
func TestThreeThousandGoroutinesUnderAThreadLimit(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithPoolSize(16), sfexec.WithPoolWaitTimeout(5*time.Second),
		sfexec.WithCommandTimeout(5*time.Second))
	previous := debug.SetMaxThreads(400)
	defer debug.SetMaxThreads(previous)

	const goroutines, rounds = 3000, 5
	var wg sync.WaitGroup
	var failures atomic.Int64
	var maxThreads atomic.Int64
	errs := make(chan error, 10)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			uid := "user-" + strconv.Itoa(g)
			for r := 0; r < rounds; r++ {
				pod := g*rounds + r
				_, err := ex.SetLinkedPod(bg, "load", uid, "chat", pod, -1)
				if err == nil {
					var got int
					got, err = ex.GetLinkedPod(bg, "load", uid, "chat")
					if err == nil && got != pod {
						err = errors.New(uid + ": read back " + strconv.Itoa(got) + ", want " + strconv.Itoa(pod))
					}
				}
				if err != nil {
					failures.Add(1)
					select {
					case errs <- err:
					default:
					}
					return
				}
			}
			if g%100 == 0 {
				if n := int64(osThreads(t)); n > maxThreads.Load() {
					maxThreads.Store(n)
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if failures.Load() > 0 {
		t.Fatalf("%d goroutines failed", failures.Load())
	}
	t.Logf("at most %d OS threads seen (pool of 16)", maxThreads.Load())
	if maxThreads.Load() > 200 {
		t.Fatalf("%d OS threads for a pool of 16", maxThreads.Load())
	}
	pods, err := ex.BatchGetLinkedPods(bg, "load", "chat", []string{"user-0", "user-2999"})
	must(t, err)
	eq(t, "last writes", pods, []int{rounds - 1, 2999*rounds + rounds - 1})
}

// Close while 200 goroutines call: each call succeeds or gets ErrClosed (or its own context's
// error); nothing crashes; after Close every call gets ErrClosed.
func TestCloseUnderLoad(t *testing.T) {
	server := redistest.Start(t)
	ex, err := sfexec.Open(server.URL, sfexec.WithPoolSize(8))
	must(t, err)
	var wg sync.WaitGroup
	var ok, closed atomic.Int64
	start := make(chan struct{})
	bad := make(chan error, 1)
	for g := 0; g < 200; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-start
			uid := "u" + strconv.Itoa(g)
			for i := 0; ; i++ {
				var err error
				switch i % 4 {
				case 0:
					_, err = ex.SetLinkedPod(bg, "close", uid, "chat", i, -1)
				case 1:
					_, err = ex.GetWorkloadState(bg, "close", "chat")
				case 2:
					_, err = ex.BatchGetLinkedPods(bg, "close", "chat", []string{uid, "x"})
				case 3:
					_, err = ex.Stats()
				}
				switch {
				case err == nil:
					ok.Add(1)
				case errors.Is(err, sfexec.ErrClosed):
					closed.Add(1)
					return
				default:
					select {
					case bad <- err:
					default:
					}
					return
				}
			}
		}(g)
	}
	close(start)
	time.Sleep(300 * time.Millisecond)
	var closers sync.WaitGroup
	results := make([]error, 3)
	for i := range results {
		closers.Add(1)
		go func(i int) { defer closers.Done(); results[i] = ex.Close() }(i)
	}
	closers.Wait()
	wg.Wait()
	select {
	case err := <-bad:
		t.Fatalf("a call failed with %v", err)
	default:
	}
	nilCount := 0
	for _, err := range results {
		if err == nil {
			nilCount++
		} else if !errors.Is(err, sfexec.ErrClosed) {
			t.Fatalf("Close: %v", err)
		}
	}
	eq(t, "Close calls that closed", nilCount, 1)
	if ok.Load() == 0 || closed.Load() != 200 {
		t.Fatalf("%d calls succeeded, %d goroutines saw ErrClosed", ok.Load(), closed.Load())
	}
	t.Logf("%d calls before Close, %d batches", ok.Load(), sfexec.Batches(ex))
	if sfexec.Batches(ex) == 0 {
		t.Fatal("200 goroutines and not one batch")
	}
	if _, err := ex.GetLinkedPod(bg, "close", "u1", "chat"); !errors.Is(err, sfexec.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := ex.Ping(bg); !errors.Is(err, sfexec.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if _, err := ex.Stats(); !errors.Is(err, sfexec.ErrClosed) {
		t.Fatalf("after Close: %v", err)
	}
	if err := ex.Close(); !errors.Is(err, sfexec.ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	// A context that ends is still reported as such after Close (it is checked first).
	ctx, cancel := context.WithCancel(bg)
	cancel()
	if err := ex.Ping(ctx); err != context.Canceled {
		t.Fatalf("cancelled after Close: %v", err)
	}
}

// Among concurrent set-if-absent callers exactly one writes and all see its pod.
func TestSetIfAbsentRaceHasOneWinner(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const callers = 64
	pods := make([]int, callers)
	var wg sync.WaitGroup
	for i := 0; i < callers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			pod, err := ex.SetLinkedPodIfAbsent(bg, "race", "uid", "chat", i, -1)
			if err != nil {
				t.Error(err)
			}
			pods[i] = pod
		}(i)
	}
	wg.Wait()
	for i, pod := range pods {
		if pod != pods[0] {
			t.Fatalf("caller %d got %d, caller 0 got %d", i, pod, pods[0])
		}
	}
}
