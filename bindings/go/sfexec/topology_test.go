package sfexec_test

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stateful-executor/stateful-executor/bindings/go/internal/redistest"
	"github.com/stateful-executor/stateful-executor/bindings/go/sfexec"
)

// TLS with a private CA (WithTLSCAFile) to a server that requires a client certificate
// (WithTLSClientCert); without the certificate the server refuses.
func TestTLSWithCAAndClientCertificate(t *testing.T) {
	certs := redistest.NewCerts(t)
	server := redistest.StartTLS(t, certs)
	ex := open(t, server, sfexec.WithTLSCAFile(certs.CA), sfexec.WithTLSClientCert(certs.ClientCert, certs.ClientKey))
	_, err := ex.SetLinkedPod(bg, "tls", "用户", "聊天", 4, -1)
	must(t, err)
	eq(t, "raw link", server.MustDo(t, "GET", "sf:{tls:lk:用户}聊天"), any("4"))
	eq(t, "read back", must1(ex.GetLinkedPod(bg, "tls", "用户", "聊天")), 4)

	_, err = sfexec.Open(server.URL, sfexec.WithTLSCAFile(certs.CA), sfexec.WithConnectTimeout(time.Second))
	if err == nil {
		t.Fatal("opened without a client certificate")
	}
	_, err = sfexec.Open(server.URL, sfexec.WithTLSClientCert(certs.ClientCert, "/nonexistent.key"))
	expectStatus(t, "missing key file", err, sfexec.StatusConfig)
}

// A one-node Redis Cluster holding every slot: OpenCluster discovers it from its seed, and
// keys keep their hash tags.
func TestClusterOfOneNode(t *testing.T) {
	node := redistest.Start(t, "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf")
	node.MustDo(t, "CLUSTER", "ADDSLOTSRANGE", "0", "16383")
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(node.MustDo(t, "CLUSTER", "INFO").(string), "cluster_state:ok") {
		if time.Now().After(deadline) {
			t.Fatal("the cluster did not become ready")
		}
		time.Sleep(50 * time.Millisecond)
	}
	ex, err := sfexec.OpenCluster([]string{node.URL}, sfexec.WithPoolSize(4))
	must(t, err)
	defer ex.Close()
	uids := make([]string, 50)
	for i := range uids {
		uids[i] = "user-" + strconv.Itoa(i)
		_, err := ex.SetLinkedPod(bg, "cl", uids[i], "chat", i, -1)
		must(t, err)
	}
	pods, err := ex.BatchGetLinkedPods(bg, "cl", "chat", uids)
	must(t, err)
	for i, pod := range pods {
		eq(t, uids[i], pod, i)
	}
	must(t, ex.SetWorkloadState(bg, "cl", "chat", "Available"))
	eq(t, "workload", must1(ex.GetWorkloadStateBatch(bg, "cl", []string{"chat", "none"})), map[string]string{"chat": "Available"})
	eq(t, "raw link", node.MustDo(t, "GET", "sf:{cl:lk:user-7}chat"), any("7"))

	// Concurrent single-key calls are batched on a cluster too, each with its own outcome.
	var wg sync.WaitGroup
	failures := make(chan error, 16)
	for g := 0; g < 16; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				uid := uids[(g+i)%len(uids)]
				if pod, err := ex.GetLinkedPod(bg, "cl", uid, "chat"); err != nil || uid != "user-"+strconv.Itoa(pod) {
					failures <- fmt.Errorf("get %s: %d, %v", uid, pod, err)
					return
				}
				fresh := "g-" + strconv.Itoa(g) + "-" + strconv.Itoa(i)
				if prev, err := ex.SetLinkedPod(bg, "cl", fresh, "chat", g, 60); err != nil || prev != sfexec.NoPod {
					failures <- fmt.Errorf("set %s: %d, %v", fresh, prev, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(failures)
	for err := range failures {
		t.Error(err)
	}
	if sfexec.Batches(ex) == 0 {
		t.Fatal("16 goroutines on a cluster and not one batch")
	}
}

// OpenSentinel asks the sentinel for the primary and writes there, logging in to the primary
// with WithSentinelMasterAuth (the sentinel itself has no password).
func TestSentinel(t *testing.T) {
	primary := redistest.Start(t, "--requirepass", "primary-pw")
	sentinel := redistest.StartSentinel(t, "mymaster", primary.Port)
	_, err := sfexec.OpenSentinel([]string{sentinel.URL}, "mymaster", sfexec.WithConnectTimeout(time.Second))
	expectStatus(t, "primary without its password", err, sfexec.StatusAuth)

	ex, err := sfexec.OpenSentinel([]string{sentinel.URL}, "mymaster", sfexec.WithPoolSize(2),
		sfexec.WithSentinelMasterAuth("", "primary-pw"))
	must(t, err)
	defer ex.Close()
	_, err = ex.SetLinkedPodIfAbsent(bg, "sn", "u", "chat", 3, -1)
	must(t, err)
	eq(t, "raw link on the primary", primary.MustDo(t, "GET", "sf:{sn:lk:u}chat"), any("3"))
	eq(t, "links", must1(ex.GetLinkService(bg, "sn", "u")), map[string]int{"chat": 3})

	_, err = sfexec.Open(sentinel.URL, sfexec.WithSentinelMasterAuth("", "x"))
	expectStatus(t, "master auth without sentinels", err, sfexec.StatusConfig)
}
