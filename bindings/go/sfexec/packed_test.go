package sfexec_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
)

// The multi-entry reads decode the library's packed result: from the slot's C memory when it
// fits, else from the block the library allocates. Sizes from a few bytes to well past the
// largest arena a slot keeps, with emoji and CJK texts, read twice (the second read of a
// result that overflowed once may fit in the grown arena).
func TestMultiEntryReadsOfEverySize(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const ns = "packed/🎉"
	for _, n := range []int{1, 7, 32, 300, 3000} {
		for _, textLen := range []int{1, 40} {
			text := func(i int) string {
				return fmt.Sprintf("%d-%s", i, strings.Repeat("运行中✅", textLen))
			}
			svc := fmt.Sprintf("聊天-%d-%d", n, textLen)
			want := make(map[int]string, n)
			for pod := 0; pod < n; pod++ {
				want[pod] = text(pod % 5) // repeated states, as in a real fleet
				must(t, ex.SetServiceState(bg, ns, svc, pod, want[pod]))
			}
			for round := 0; round < 2; round++ {
				eq(t, fmt.Sprintf("%s round %d", svc, round), must1(ex.GetServiceState(bg, ns, svc)), want)
			}

			services := make([]string, n)
			workloads := make(map[string]string, n)
			for i := range services {
				services[i] = fmt.Sprintf("服务-%d-%d-🎲-%d", n, textLen, i)
				if i%3 != 1 { // every third service has no state and is left out
					workloads[services[i]] = text(i)
					must(t, ex.SetWorkloadState(bg, ns, services[i], workloads[services[i]]))
				}
			}
			for round := 0; round < 2; round++ {
				eq(t, fmt.Sprintf("workloads %d/%d round %d", n, textLen, round),
					must1(ex.GetWorkloadStateBatch(bg, ns, services)), workloads)
			}

			uid := fmt.Sprintf("用户-%d-%d", n, textLen)
			links := make(map[string]int, n)
			for i := 0; i < n; i++ {
				name := fmt.Sprintf("%s/%d", strings.Repeat("游戏🎮", min(textLen, 20)), i) // names: at most 253 bytes
				links[name] = i % 97
				_, err := ex.SetLinkedPod(bg, ns, uid, name, links[name], -1)
				must(t, err)
			}
			for round := 0; round < 2; round++ {
				eq(t, fmt.Sprintf("links of %s round %d", uid, round), must1(ex.GetLinkService(bg, ns, uid)), links)
			}
		}
	}
	// Absent everything: empty maps, not nil.
	eq(t, "no states", must1(ex.GetServiceState(bg, ns, "nobody")), map[int]string{})
	eq(t, "no workloads", must1(ex.GetWorkloadStateBatch(bg, ns, []string{"a", "b"})), map[string]string{})
	eq(t, "no workloads asked", must1(ex.GetWorkloadStateBatch(bg, ns, nil)), map[string]string{})
	eq(t, "no links", must1(ex.GetLinkService(bg, ns, "nobody")), map[string]int{})
}

// A repeated service name in a workload batch is answered like the others.
func TestWorkloadBatchWithRepeatedNames(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	must(t, ex.SetWorkloadState(bg, "ns", "聊天", "可用 ✅"))
	eq(t, "states", must1(ex.GetWorkloadStateBatch(bg, "ns", []string{"聊天", "none", "聊天"})),
		map[string]string{"聊天": "可用 ✅"})
}

// Decoding allocates the result map and its Go strings, nothing per entry beyond them: repeated
// states share one string, and each service name of a uid's links is one allocation. (The
// bounds allow one allocation of slack: the map built inside the call lives on the heap.)
func TestMultiEntryReadsAllocateOnlyTheResult(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	const ns, svc, uid, n = "alloc", "聊天", "用户", 32
	for i := 0; i < n; i++ {
		must(t, ex.SetServiceState(bg, ns, svc, i, "Running"))
		_, err := ex.SetLinkedPod(bg, ns, uid, fmt.Sprintf("svc-%d", i), i, -1)
		must(t, err)
	}
	emptyMap := testing.AllocsPerRun(100, func() { _ = make(map[int]string, n) })
	states := testing.AllocsPerRun(100, func() { _, _ = ex.GetServiceState(bg, ns, svc) })
	if states > emptyMap+2 {
		t.Errorf("GetServiceState: %v allocations for %d entries (the map alone: %v)", states, n, emptyMap)
	}
	linkMap := testing.AllocsPerRun(100, func() { _ = make(map[string]int, n) })
	links := testing.AllocsPerRun(100, func() { _, _ = ex.GetLinkService(bg, ns, uid) })
	if links > linkMap+n+1 {
		t.Errorf("GetLinkService: %v allocations for %d entries (the map alone: %v)", links, n, linkMap)
	}
}
