package sfexec_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// The single-key operations allocate nothing on the Go heap: names are copied into the slot's
// C memory, results come back through it, and the workload state is reused when unchanged.
func TestSingleKeyCallsDoNotAllocate(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const ns, uid, svc = "alloc", "用户-🎉", "聊天"
	must(t, ex.SetWorkloadState(bg, ns, svc, "Available"))
	candidates := []sfexec.Candidate{{Pod: 1, Load: 5}, {Pod: 2, Load: 3}}
	ops := map[string]func(){
		"Ping":                  func() { _ = ex.Ping(bg) },
		"SetServiceState":       func() { _ = ex.SetServiceState(bg, ns, svc, 3, "Running") },
		"SetWorkloadState":      func() { _ = ex.SetWorkloadState(bg, ns, svc, "Available") },
		"GetWorkloadState":      func() { _, _ = ex.GetWorkloadState(bg, ns, svc) },
		"GetWorkloadState none": func() { _, _ = ex.GetWorkloadState(bg, ns, "nobody") },
		"SetLinkedPod":          func() { _, _ = ex.SetLinkedPod(bg, ns, uid, svc, 2, -1) },
		"TrySetLinkedPod":       func() { _, _, _ = ex.TrySetLinkedPod(bg, ns, uid, svc, 2, -1) },
		"SetLinkedPodIfAbsent":  func() { _, _ = ex.SetLinkedPodIfAbsent(bg, ns, uid, svc, 2, -1) },
		"GetLinkedPod":          func() { _, _ = ex.GetLinkedPod(bg, ns, uid, svc) },
		"GetLinkedPodIfPersist": func() { _, _ = ex.GetLinkedPodIfPersist(bg, ns, uid, svc) },
		"RemoveLinkedPod":       func() { _, _ = ex.RemoveLinkedPod(bg, ns, "other", svc, 30) },
		"RemoveLinkedPodWithId": func() { _, _ = ex.RemoveLinkedPodWithId(bg, ns, "other", svc, -1, 9) },
		"TouchLinkedPod":        func() { _, _ = ex.TouchLinkedPod(bg, ns, uid, svc, 2, 60) },
		"ComputeLinkedPod":      func() { _, _ = ex.ComputeLinkedPod(bg, ns, uid, svc, -1, candidates) },
	}
	ctx, cancel := context.WithCancel(bg)
	defer cancel()
	ops["GetLinkedPod with a cancelable context"] = func() { _, _ = ex.GetLinkedPod(ctx, ns, uid, svc) }
	for name, op := range ops {
		op()
		if got := testing.AllocsPerRun(200, op); got != 0 {
			t.Errorf("%s: %v allocations per call", name, got)
		}
	}
	// And they did their work.
	eq(t, "workload", must1(ex.GetWorkloadState(bg, ns, svc)), "Available")
	eq(t, "link", must1(ex.GetLinkedPod(bg, ns, uid, svc)), 2)
}

// The library's records reach the slog.Logger, from the library's threads too; a logger that
// is not enabled at debug level is not called for every operation.
func TestLoggerReceivesTheLibrarysRecords(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	handler := slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})
	must(t, sfexec.SetLogger(slog.New(handler)))
	defer func() { must(t, sfexec.SetLogger(nil)) }()

	server := redistest.Start(t)
	ex, err := sfexec.Open(server.URL)
	must(t, err)
	_, err = ex.GetLinkedPod(bg, "log", "u", "chat")
	must(t, err)
	must(t, ex.Close())
	mu.Lock()
	text := buf.String()
	mu.Unlock()
	if !strings.Contains(text, `level=DEBUG msg="get linked pod" target=stateful_executor::`) ||
		!strings.Contains(text, "level=INFO") {
		t.Fatalf("records:\n%s", text)
	}
	if strings.Contains(text, "password") && strings.Contains(text, server.URL) {
		t.Fatalf("a credential in the records:\n%s", text)
	}

	// Info level: no record per call.
	buf.Reset()
	infoHandler := slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelInfo})
	ex2, err := sfexec.Open(server.URL, sfexec.WithLogger(slog.New(infoHandler)))
	must(t, err)
	defer ex2.Close()
	mu.Lock()
	buf.Reset()
	mu.Unlock()
	for i := 0; i < 50; i++ {
		_, err = ex2.GetLinkedPod(bg, "log", "u", "chat")
		must(t, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if strings.Count(buf.String(), "\n") > 2 {
		t.Fatalf("records per call at info level:\n%s", buf.String())
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// The default is slog.Default(), looked up for each record; replacing the logger while records
// flow from many goroutines is safe.
func TestDefaultLoggerAndReplacingItUnderLoad(t *testing.T) {
	var mu sync.Mutex
	var buf bytes.Buffer
	previous := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &buf}, &slog.HandlerOptions{Level: slog.LevelDebug})))
	defer slog.SetDefault(previous)
	must(t, sfexec.SetLogger(nil))
	defer func() { must(t, sfexec.SetLogger(nil)) }()

	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithPoolSize(8))
	_, err := ex.GetLinkedPod(bg, "log", "u", "chat")
	must(t, err)
	mu.Lock()
	got := buf.String()
	mu.Unlock()
	if !strings.Contains(got, `msg="get linked pod"`) {
		t.Fatalf("slog.Default() did not get the records:\n%s", got)
	}

	var other bytes.Buffer
	loggers := []*slog.Logger{
		slog.New(slog.NewTextHandler(&lockedWriter{mu: &mu, w: &other}, &slog.HandlerOptions{Level: slog.LevelDebug})),
		slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelError + 1})), // logging off
		nil,
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := ex.GetLinkedPod(bg, "log", "u", "chat"); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	for i := 0; i < 300; i++ {
		must(t, sfexec.SetLogger(loggers[i%len(loggers)]))
	}
	close(stop)
	wg.Wait()
	must(t, sfexec.SetLogger(loggers[0]))
	mu.Lock()
	other.Reset()
	mu.Unlock()
	_, err = ex.GetLinkedPod(bg, "log", "u", "chat")
	must(t, err)
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(other.String(), `msg="get linked pod"`) {
		t.Fatalf("the replacing logger got no record:\n%s", other.String())
	}
}
