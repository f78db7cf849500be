package sfexec_test

import (
	"errors"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

var sentinels = map[sfexec.Status]error{
	sfexec.StatusInvalidArgument: sfexec.ErrInvalidArgument,
	sfexec.StatusConnection:      sfexec.ErrConnection,
	sfexec.StatusTimeout:         sfexec.ErrTimeout,
	sfexec.StatusPoolTimeout:     sfexec.ErrPoolTimeout,
	sfexec.StatusAuth:            sfexec.ErrAuth,
	sfexec.StatusRedis:           sfexec.ErrRedis,
	sfexec.StatusUnexpectedReply: sfexec.ErrUnexpectedReply,
	sfexec.StatusConfig:          sfexec.ErrConfig,
	sfexec.StatusInternal:        sfexec.ErrInternal,
}

// expectStatus checks that err is an *Error of this status, matching its sentinel and no other,
// with a message from the library.
func expectStatus(t *testing.T, what string, err error, status sfexec.Status) *sfexec.Error {
	t.Helper()
	var sfErr *sfexec.Error
	if !errors.As(err, &sfErr) {
		t.Fatalf("%s: got %v, want an *sfexec.Error with %v", what, err, status)
	}
	if sfErr.Status != status || sfErr.Message == "" {
		t.Fatalf("%s: got %v (status %v), want %v", what, err, sfErr.Status, status)
	}
	for s, sentinel := range sentinels {
		if errors.Is(err, sentinel) != (s == status) {
			t.Fatalf("%s: errors.Is(%v, %v) = %v", what, err, sentinel, !(s == status))
		}
	}
	if errors.Is(err, sfexec.ErrClosed) || !strings.Contains(err.Error(), status.String()) {
		t.Fatalf("%s: %q", what, err.Error())
	}
	return sfErr
}

func TestEveryStatusHasItsSentinel(t *testing.T) {
	for status := range sentinels {
		err := error(&sfexec.Error{Status: status, Op: "op", Message: "detail"})
		expectStatus(t, status.String(), err, status)
	}
	if got := sfexec.Status(42).String(); got != "SF_UNKNOWN(42)" {
		t.Fatal(got)
	}
}

func TestConfigAndConnectionErrors(t *testing.T) {
	_, err := sfexec.Open("http://user:hunter2@127.0.0.1:1")
	e := expectStatus(t, "bad scheme", err, sfexec.StatusConfig)
	if strings.Contains(e.Message, "hunter2") {
		t.Fatalf("the password shows: %q", e.Message)
	}
	_, err = sfexec.Open("redis://127.0.0.1:1\x00")
	expectStatus(t, "NUL in URL", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("redis://127.0.0.1:6380", sfexec.WithPoolSize(0))
	expectStatus(t, "pool size 0", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("redis://127.0.0.1:6380", sfexec.WithPoolSize(-3))
	expectStatus(t, "pool size -3", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("redis://127.0.0.1:6380", sfexec.WithMinIdle(-1))
	expectStatus(t, "min idle -1", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("redis://127.0.0.1:6380", sfexec.WithPoolSize(4), sfexec.WithMinIdle(5))
	expectStatus(t, "min idle above the pool size", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("redis://127.0.0.1:6380", sfexec.WithCommandTimeout(-time.Second))
	expectStatus(t, "negative timeout", err, sfexec.StatusInvalidArgument)
	_, err = sfexec.Open("rediss://127.0.0.1:6380", sfexec.WithTLSCAFile("/nonexistent/ca.pem"))
	expectStatus(t, "missing CA file", err, sfexec.StatusConfig)
	_, err = sfexec.OpenCluster(nil)
	expectStatus(t, "no cluster seeds", err, sfexec.StatusConfig)
	_, err = sfexec.OpenSentinel([]string{"redis://127.0.0.1:1"}, "my master")
	expectStatus(t, "bad master name", err, sfexec.StatusConfig)

	port, err := redistest.FreePort()
	must(t, err)
	_, err = sfexec.Open("redis://127.0.0.1:"+strconv.Itoa(port), sfexec.WithConnectTimeout(300*time.Millisecond))
	expectStatus(t, "nobody listening", err, sfexec.StatusConnection)
}

func TestAuthError(t *testing.T) {
	server := redistest.Start(t, "--requirepass", "s3cret")
	ex := open(t, server) // the URL carries the password
	must(t, ex.Ping(bg))
	_, err := sfexec.Open("redis://:wrong@127.0.0.1:" + strconv.Itoa(server.Port))
	e := expectStatus(t, "wrong password", err, sfexec.StatusAuth)
	if strings.Contains(e.Message, "wrong") {
		t.Fatalf("the password shows: %q", e.Message)
	}
}

func TestTimeoutError(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithCommandTimeout(150*time.Millisecond))
	must(t, ex.Ping(bg))
	server.MustDo(t, "CLIENT", "PAUSE", "1000", "ALL")
	started := time.Now()
	_, err := ex.GetLinkedPod(bg, "n", "u", "s")
	expectStatus(t, "paused server", err, sfexec.StatusTimeout)
	if d := time.Since(started); d > 900*time.Millisecond {
		t.Fatalf("took %v with a 150 ms command timeout", d)
	}
}

func TestRedisErrorFromAReadOnlyReplica(t *testing.T) {
	primary := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.Port))
	ex := open(t, replica)
	err := ex.SetWorkloadState(bg, "ro", "chat", "Down")
	e := expectStatus(t, "write to a replica", err, sfexec.StatusRedis)
	if !strings.Contains(strings.ToLower(e.Message), "read only") {
		t.Fatalf("message %q", e.Message)
	}
	_, err = ex.SetLinkedPod(bg, "ro", "u", "chat", 1, -1)
	expectStatus(t, "script on a replica", err, sfexec.StatusRedis)
}

func TestUnexpectedReplyOnCorruptData(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server)
	server.MustDo(t, "SET", "sf:{ns:lk:u}chat", "03")
	_, err := ex.GetLinkedPod(bg, "ns", "u", "chat")
	expectStatus(t, "pod 03", err, sfexec.StatusUnexpectedReply)
	_, err = ex.SetLinkedPod(bg, "ns", "u", "chat", 1, -1)
	expectStatus(t, "script on pod 03", err, sfexec.StatusUnexpectedReply)
	eq(t, "left alone", server.MustDo(t, "GET", "sf:{ns:lk:u}chat"), any("03"))
	server.MustDo(t, "SET", "sf:{ns:state:chat}", "not a hash")
	_, err = ex.GetServiceState(bg, "ns", "chat")
	expectStatus(t, "wrong type", err, sfexec.StatusUnexpectedReply)
}

// An executor whose server went away reports ErrConnection.
func TestConnectionErrorAfterTheServerStops(t *testing.T) {
	server := redistest.Start(t)
	ex := open(t, server, sfexec.WithPoolWaitTimeout(300*time.Millisecond),
		sfexec.WithConnectTimeout(300*time.Millisecond))
	must(t, ex.Ping(bg))
	server.Stop()
	// A listener that accepts nothing would be a different failure; make sure the port is dead.
	if c, err := net.DialTimeout("tcp", "127.0.0.1:"+strconv.Itoa(server.Port), time.Second); err == nil {
		c.Close()
		t.Skip("the port was taken again")
	}
	err := ex.SetWorkloadState(bg, "n", "s", "x")
	var sfErr *sfexec.Error
	if !errors.As(err, &sfErr) || (sfErr.Status != sfexec.StatusConnection && sfErr.Status != sfexec.StatusPoolTimeout) {
		t.Fatalf("got %v", err)
	}
	if sfErr.Status == sfexec.StatusConnection {
		expectStatus(t, "stopped server", err, sfexec.StatusConnection)
	}
}
