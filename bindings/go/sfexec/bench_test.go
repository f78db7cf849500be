package sfexec_test

import (
	"strconv"
	"testing"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// go test -bench . -run '^$' ./sfexec: calls through the package against a throwaway
// redis-server (the comparison with go-redis is `make go-bench`).
func BenchmarkCalls(b *testing.B) {
	server := redistest.Start(b)
	ex, err := sfexec.Open(server.URL)
	if err != nil {
		b.Fatal(err)
	}
	defer ex.Close()
	uids := make([]string, 100)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
		if _, err := ex.SetLinkedPod(bg, "bench", uids[i], "chat", i%8, -1); err != nil {
			b.Fatal(err)
		}
	}
	calls := map[string]func(i int) error{
		"GetLinkedPod": func(i int) error {
			_, err := ex.GetLinkedPod(bg, "bench", uids[i%100], "chat")
			return err
		},
		"SetLinkedPodIfAbsent": func(i int) error {
			_, err := ex.SetLinkedPodIfAbsent(bg, "bench", uids[i%100], "chat", 1, -1)
			return err
		},
		"BatchGetLinkedPods100": func(int) error {
			_, err := ex.BatchGetLinkedPods(bg, "bench", "chat", uids)
			return err
		},
	}
	for name, call := range calls {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if err := call(i); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for i := 0; pb.Next(); i++ {
					if err := call(i); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
