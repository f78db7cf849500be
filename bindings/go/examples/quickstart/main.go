// Command quickstart is the README's "Using it from Go" program: a seed service's code that
// keeps its StatefulExecutor interface and only changes the constructor. It runs against the
// Redis at $REDIS_URL.
package main

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"os"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// StatefulExecutor is the seed's interface (route.StatefulExecutor), unchanged.
type StatefulExecutor interface {
	SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) error
	GetServiceState(ctx context.Context, namespace, serviceName string) (map[int]string, error)
	SetLinkedPodIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error)
	GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error)
	RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (bool, error)
}

func main() {
	url := os.Getenv("REDIS_URL")
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	// Was: route.NewStatefulExecutor(redisClient). Now:
	ex, err := sfexec.Open(url,
		sfexec.WithPoolSize(32),                         // also the most calls inside the library at once
		sfexec.WithCommandTimeout(500*time.Millisecond), // each call: at most pool wait + connect + command
		sfexec.WithLogger(slog.Default()),               // the library's warnings, process-wide
	)
	if err != nil {
		log.Fatal(err)
	}
	defer ex.Close()
	var executor StatefulExecutor = ex

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for pod := 0; pod < 3; pod++ {
		if err := executor.SetServiceState(ctx, "prod", "chat", pod, "Running"); err != nil {
			log.Fatal(err)
		}
	}
	states, err := executor.GetServiceState(ctx, "prod", "chat")
	if err != nil {
		log.Fatal(err)
	}
	pod, err := executor.SetLinkedPodIfAbsent(ctx, "prod", "user-42", "chat", 1, -1) // -1: persistent
	if err != nil {
		log.Fatal(err)
	}
	again, err := executor.GetLinkedPod(ctx, "prod", "user-42", "chat")
	if err != nil {
		log.Fatal(err)
	}
	removed, err := executor.RemoveLinkedPod(ctx, "prod", "user-42", "chat", 30) // keep 30 s
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("pods %v; user-42 -> pod %d (read back %d); removed with a 30 s grace: %v\n",
		states, pod, again, removed)
	if _, err := ex.GetLinkedPod(ctx, "prod", "user\x00", "chat"); err != nil {
		fmt.Println("refused before anything was sent:", err)
	}
}
