// Package interop checks that data written through the Go package reads the same through the C
// API and the Rust API, and the reverse: each of the three writes the interop data set (uids and
// states in CJK and emoji, persistent and temporary links) and each of the three reads every
// writer's data back, printing the same canonical lines.
package interop

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

const uidA = "用户-🎉"

// What every reader prints for the data set.
var expected = strings.Join([]string{
	"state 聊天 0 Running",
	"state 聊天 1 排空中 🚧",
	"workload 聊天 Available ✅",
	"workload game/room READY",
	"workload nobody -",
	"link " + uidA + " 聊天 1 persistent",
	"link user-2 聊天 0 temporary",
	"link " + uidA + " game/room 7 persistent",
	"link nobody 聊天 -1 none",
	"services " + uidA + " game/room=7 聊天=1",
	"services user-2",
	"batch 聊天 1 0 -1",
}, "\n") + "\n"

var ctx = context.Background()

func goWrite(url, ns string) error {
	ex, err := sfexec.Open(url)
	if err != nil {
		return err
	}
	defer ex.Close()
	for _, err := range []error{
		ex.SetServiceState(ctx, ns, "聊天", 0, "Running"),
		ex.SetServiceState(ctx, ns, "聊天", 1, "排空中 🚧"),
		ex.SetWorkloadState(ctx, ns, "聊天", "Available ✅"),
		ex.SetWorkloadState(ctx, ns, "game/room", "READY"),
		second(ex.SetLinkedPod(ctx, ns, uidA, "聊天", 1, -1)),
		second(ex.SetLinkedPod(ctx, ns, "user-2", "聊天", 0, 3600)),
		second(ex.SetLinkedPod(ctx, ns, uidA, "game/room", 7, -1)),
	} {
		if err != nil {
			return err
		}
	}
	return nil
}

func second[T any](_ T, err error) error { return err }

func goRead(url, ns string) (string, error) {
	ex, err := sfexec.Open(url)
	if err != nil {
		return "", err
	}
	defer ex.Close()
	var b strings.Builder
	states, err := ex.GetServiceState(ctx, ns, "聊天")
	if err != nil {
		return "", err
	}
	pods := make([]int, 0, len(states))
	for pod := range states {
		pods = append(pods, pod)
	}
	sort.Ints(pods)
	for _, pod := range pods {
		fmt.Fprintf(&b, "state 聊天 %d %s\n", pod, states[pod])
	}
	services := []string{"聊天", "game/room", "nobody"}
	workloads, err := ex.GetWorkloadStateBatch(ctx, ns, services)
	if err != nil {
		return "", err
	}
	for _, svc := range services {
		state, ok := workloads[svc]
		if !ok {
			state = "-"
		}
		fmt.Fprintf(&b, "workload %s %s\n", svc, state)
	}
	for _, l := range [][2]string{{uidA, "聊天"}, {"user-2", "聊天"}, {uidA, "game/room"}, {"nobody", "聊天"}} {
		pod, err := ex.GetLinkedPod(ctx, ns, l[0], l[1])
		if err != nil {
			return "", err
		}
		persistent, err := ex.GetLinkedPodIfPersist(ctx, ns, l[0], l[1])
		if err != nil {
			return "", err
		}
		kind := "temporary"
		if pod == sfexec.NoPod {
			kind = "none"
		} else if persistent == pod {
			kind = "persistent"
		}
		fmt.Fprintf(&b, "link %s %s %d %s\n", l[0], l[1], pod, kind)
	}
	for _, uid := range []string{uidA, "user-2"} {
		links, err := ex.GetLinkService(ctx, ns, uid)
		if err != nil {
			return "", err
		}
		names := make([]string, 0, len(links))
		for svc := range links {
			names = append(names, svc)
		}
		sort.Strings(names)
		fmt.Fprintf(&b, "services %s", uid)
		for _, svc := range names {
			fmt.Fprintf(&b, " %s=%d", svc, links[svc])
		}
		b.WriteString("\n")
	}
	batch, err := ex.BatchGetLinkedPods(ctx, ns, "聊天", []string{uidA, "user-2", "nobody"})
	if err != nil {
		return "", err
	}
	fmt.Fprintf(&b, "batch 聊天 %d %d %d\n", batch[0], batch[1], batch[2])
	return b.String(), nil
}

var repoRoot = filepath.Join("..", "..", "..")

// buildC compiles interop.c against the checkout's header and shared library.
func buildC(t *testing.T) string {
	t.Helper()
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "cc"
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	lib := filepath.Join(targetDir(root), "release")
	bin := filepath.Join(t.TempDir(), "interop-c")
	cmd := exec.Command(cc, "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
		"-I"+filepath.Join(root, "include"), "-o", bin, filepath.Join("c", "interop.c"),
		"-L"+lib, "-Wl,-rpath,"+lib, "-lstateful_executor")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return bin
}

// buildRust builds the Rust program, a member of the repository's Cargo workspace, with its
// Cargo.lock and target directory, so that the library's compiled dependencies are reused.
func buildRust(t *testing.T) string {
	t.Helper()
	cargo := os.Getenv("CARGO")
	if cargo == "" {
		cargo = "cargo"
	}
	if _, err := exec.LookPath(cargo); err != nil {
		t.Skip("cargo is not installed: the Rust side of the interop check is skipped")
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	target := targetDir(root)
	// A workspace member: built with the repository's Cargo.lock, never a newer resolution.
	cmd := exec.Command(cargo, "build", "--locked", "--release", "--quiet",
		"--manifest-path", filepath.Join(root, "Cargo.toml"), "-p", "sfexec-interop")
	cmd.Env = append(os.Environ(), "CARGO_TARGET_DIR="+target)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v\n%s", cmd, err, out)
	}
	return filepath.Join(target, "release", "sfexec-interop")
}

// targetDir is cargo's target directory: $CARGO_TARGET_DIR (relative to the repository when
// not absolute), else the repository's target/.
func targetDir(root string) string {
	dir := os.Getenv("CARGO_TARGET_DIR")
	if dir == "" {
		return filepath.Join(root, "target")
	}
	if !filepath.IsAbs(dir) {
		dir = filepath.Join(root, dir)
	}
	return dir
}

func run(t *testing.T, bin string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin, args...).Output()
	if err != nil {
		var stderr []byte
		if exitErr, ok := err.(*exec.ExitError); ok {
			stderr = exitErr.Stderr
		}
		t.Fatalf("%s %v: %v\n%s", bin, args, err, stderr)
	}
	return string(out)
}

func TestDataWrittenByEachLanguageReadsTheSameInEvery(t *testing.T) {
	server := redistest.Start(t)
	cBin, rustBin := buildC(t), buildRust(t)
	writers := map[string]func(ns string){
		"go":   func(ns string) { must(t, goWrite(server.URL, ns)) },
		"c":    func(ns string) { run(t, cBin, server.URL, "write", ns) },
		"rust": func(ns string) { run(t, rustBin, server.URL, "write", ns) },
	}
	readers := map[string]func(ns string) string{
		"go": func(ns string) string {
			out, err := goRead(server.URL, ns)
			must(t, err)
			return out
		},
		"c":    func(ns string) string { return run(t, cBin, server.URL, "read", ns) },
		"rust": func(ns string) string { return run(t, rustBin, server.URL, "read", ns) },
	}
	for writer, write := range writers {
		ns := "interop-" + writer
		write(ns)
		// The keys are the documented ones, whoever wrote them.
		if v, _ := server.Do("HGET", "sf:{"+ns+":lk:"+uidA+"}", "game/room"); v != "7" {
			t.Fatalf("%s: uid hash field: %v", writer, v)
		}
		if ttl, _ := server.Do("TTL", "sf:{"+ns+":lk:user-2}聊天"); ttl.(int64) <= 0 {
			t.Fatalf("%s: the temporary link has TTL %v", writer, ttl)
		}
		for reader, read := range readers {
			if got := read(ns); got != expected {
				t.Errorf("written by %s, read by %s:\n%s\nwant:\n%s", writer, reader, got, expected)
			}
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
