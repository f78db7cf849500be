// Command allmethods calls every exported function and method of package sfexec once against
// the Redis at $REDIS_URL and checks each answer, exiting non-zero at the first wrong one. The
// release check (make go-dist-check) builds it from the released module in a scratch module,
// with no Rust toolchain on the PATH, to show that the packaged library links and works.
//
// It writes only keys under the namespace "sfexec-allmethods-<pid>".
package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

func main() {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		fmt.Fprintln(os.Stderr, "allmethods: set REDIS_URL to a Redis that may be written to")
		os.Exit(2)
	}
	if err := run(url); err != nil {
		fmt.Fprintln(os.Stderr, "allmethods:", err)
		os.Exit(1)
	}
	fmt.Println("allmethods: every sfexec function and method answered as documented")
}

// expect compares a result with what the operation documents.
func expect(what string, got, want any) error {
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("%s: got %v, want %v", what, got, want)
	}
	return nil
}

func run(url string) error {
	// The release check compares this line with the version it packaged.
	fmt.Println("native library version", sfexec.Version())
	if parts := strings.Split(sfexec.Version(), "."); len(parts) < 3 {
		return fmt.Errorf("Version: %q is not MAJOR.MINOR.PATCH", sfexec.Version())
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if err := sfexec.SetLogger(logger); err != nil {
		return fmt.Errorf("SetLogger: %w", err)
	}
	// Every option once (the TLS and sentinel ones are refused for a plain single server, which
	// is itself a documented answer).
	ex, err := sfexec.Open(url,
		sfexec.WithPoolSize(4),
		sfexec.WithMinIdle(1),
		sfexec.WithConnectTimeout(2*time.Second),
		sfexec.WithCommandTimeout(2*time.Second),
		sfexec.WithPoolWaitTimeout(2*time.Second),
		sfexec.WithPipelining(true),
		sfexec.WithPipeliningMinInFlight(2),
		sfexec.WithLogger(logger),
	)
	if err != nil {
		return fmt.Errorf("Open: %w", err)
	}
	defer ex.Close()
	if _, err := sfexec.Open(url, sfexec.WithTLSCAFile("/nonexistent/ca.pem")); err == nil {
		return errors.New("Open with a CA file for a redis:// URL: no error")
	}
	if _, err := sfexec.Open(url, sfexec.WithTLSClientCert("/nonexistent/c.pem", "/nonexistent/k.pem")); err == nil {
		return errors.New("Open with a client certificate for a redis:// URL: no error")
	}
	if _, err := sfexec.OpenSentinel(nil, "mymaster", sfexec.WithSentinelMasterAuth("u", "p")); !errors.Is(err, sfexec.ErrConfig) {
		return fmt.Errorf("OpenSentinel without sentinels: got %v, want ErrConfig", err)
	}
	if _, err := sfexec.OpenCluster(nil); !errors.Is(err, sfexec.ErrConfig) {
		return fmt.Errorf("OpenCluster without seeds: got %v, want ErrConfig", err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns := "sfexec-allmethods-" + strconv.Itoa(os.Getpid())
	var executor sfexec.StatefulExecutor = ex

	if err := ex.Ping(ctx); err != nil {
		return fmt.Errorf("Ping: %w", err)
	}

	// Pod states and workload states.
	for pod, state := range map[int]string{0: "Running", 1: "Draining"} {
		if err := executor.SetServiceState(ctx, ns, "chat", pod, state); err != nil {
			return fmt.Errorf("SetServiceState: %w", err)
		}
	}
	states, err := executor.GetServiceState(ctx, ns, "chat")
	if err != nil {
		return fmt.Errorf("GetServiceState: %w", err)
	}
	if err := expect("GetServiceState", states, map[int]string{0: "Running", 1: "Draining"}); err != nil {
		return err
	}
	if err := executor.SetWorkloadState(ctx, ns, "chat", "Serving"); err != nil {
		return fmt.Errorf("SetWorkloadState: %w", err)
	}
	workload, err := executor.GetWorkloadState(ctx, ns, "chat")
	if err != nil {
		return fmt.Errorf("GetWorkloadState: %w", err)
	}
	if err := expect("GetWorkloadState", workload, "Serving"); err != nil {
		return err
	}
	workloads, err := executor.GetWorkloadStateBatch(ctx, ns, []string{"chat", "absent"})
	if err != nil {
		return fmt.Errorf("GetWorkloadStateBatch: %w", err)
	}
	if err := expect("GetWorkloadStateBatch", workloads, map[string]string{"chat": "Serving"}); err != nil {
		return err
	}

	// Links.
	previous, err := executor.SetLinkedPod(ctx, ns, "user-1", "chat", 0, -1)
	if err != nil {
		return fmt.Errorf("SetLinkedPod: %w", err)
	}
	if err := expect("SetLinkedPod (first link)", previous, sfexec.NoPod); err != nil {
		return err
	}
	linked, current, err := executor.TrySetLinkedPod(ctx, ns, "user-1", "chat", 1, -1)
	if err != nil {
		return fmt.Errorf("TrySetLinkedPod: %w", err)
	}
	if err := expect("TrySetLinkedPod over a persistent link", []any{linked, current}, []any{false, 0}); err != nil {
		return err
	}
	pod, err := executor.SetLinkedPodIfAbsent(ctx, ns, "user-2", "chat", 1, 60)
	if err != nil {
		return fmt.Errorf("SetLinkedPodIfAbsent: %w", err)
	}
	if err := expect("SetLinkedPodIfAbsent", pod, 1); err != nil {
		return err
	}
	if pod, err = executor.GetLinkedPod(ctx, ns, "user-2", "chat"); err != nil {
		return fmt.Errorf("GetLinkedPod: %w", err)
	}
	if err := expect("GetLinkedPod (temporary link)", pod, 1); err != nil {
		return err
	}
	if pod, err = executor.GetLinkedPodIfPersist(ctx, ns, "user-2", "chat"); err != nil {
		return fmt.Errorf("GetLinkedPodIfPersist: %w", err)
	}
	if err := expect("GetLinkedPodIfPersist (temporary link)", pod, sfexec.NoPod); err != nil {
		return err
	}
	byPod, err := executor.BatchGetLinkedPod(ctx, ns, []string{"user-1", "user-2", "user-3"}, "chat")
	if err != nil {
		return fmt.Errorf("BatchGetLinkedPod: %w", err)
	}
	if err := expect("BatchGetLinkedPod", byPod, map[int][]string{0: {"user-1"}, 1: {"user-2"}}); err != nil {
		return err
	}
	pods, err := ex.BatchGetLinkedPods(ctx, ns, "chat", []string{"user-1", "user-2", "user-3"})
	if err != nil {
		return fmt.Errorf("BatchGetLinkedPods: %w", err)
	}
	if err := expect("BatchGetLinkedPods", pods, []int{0, 1, sfexec.NoPod}); err != nil {
		return err
	}
	services, err := executor.GetLinkService(ctx, ns, "user-1")
	if err != nil {
		return fmt.Errorf("GetLinkService: %w", err)
	}
	if err := expect("GetLinkService", services, map[string]int{"chat": 0}); err != nil {
		return err
	}
	pod, err = ex.ComputeLinkedPod(ctx, ns, "user-3", "chat", -1,
		[]sfexec.Candidate{{Pod: 0, Load: 7}, {Pod: 1, Load: 3}})
	if err != nil {
		return fmt.Errorf("ComputeLinkedPod: %w", err)
	}
	if err := expect("ComputeLinkedPod (least loaded)", pod, 1); err != nil {
		return err
	}
	removed, err := executor.RemoveLinkedPodWithId(ctx, ns, "user-3", "chat", 0, 0)
	if err != nil {
		return fmt.Errorf("RemoveLinkedPodWithId: %w", err)
	}
	if err := expect("RemoveLinkedPodWithId (another pod)", removed, false); err != nil {
		return err
	}
	if removed, err = executor.RemoveLinkedPod(ctx, ns, "user-3", "chat", 0); err != nil {
		return fmt.Errorf("RemoveLinkedPod: %w", err)
	}
	if err := expect("RemoveLinkedPod", removed, true); err != nil {
		return err
	}

	// Errors: refused before anything is sent, with the status's name and sentinel.
	_, err = ex.GetLinkedPod(ctx, ns, "user\x00", "chat")
	var sfErr *sfexec.Error
	if !errors.Is(err, sfexec.ErrInvalidArgument) || !errors.As(err, &sfErr) ||
		sfErr.Status != sfexec.StatusInvalidArgument || sfErr.Status.String() != "SF_INVALID_ARGUMENT" {
		return fmt.Errorf("GetLinkedPod with a NUL byte: got %v, want an *Error of SF_INVALID_ARGUMENT", err)
	}

	stats, err := ex.Stats()
	if err != nil {
		return fmt.Errorf("Stats: %w", err)
	}
	if stats.Calls < 14 || stats.Connects == 0 {
		return fmt.Errorf("Stats: %+v counts fewer calls or connections than were made", stats)
	}
	if err := ex.Close(); err != nil {
		return fmt.Errorf("Close: %w", err)
	}
	if err := ex.Ping(ctx); !errors.Is(err, sfexec.ErrClosed) {
		return fmt.Errorf("Ping after Close: got %v, want ErrClosed", err)
	}
	return nil
}
