package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// report is the bench's JSON output (-json FILE): the comparison format every peer bench of
// the repository writes (`make charts` draws docs/perf/*.svg from it).
type report struct {
	Title   string      `json:"title"`
	Ours    string      `json:"ours"`
	Peer    string      `json:"peer"`
	Date    string      `json:"date"`
	Commit  string      `json:"commit"`
	Machine string      `json:"machine"`
	Command string      `json:"command"`
	Rows    []reportRow `json:"rows"`
}

type reportRow struct {
	Op        string  `json:"op"`
	Threads   int     `json:"threads"`
	Pairs     int     `json:"pairs"`
	Ratio     float64 `json:"ratio"`
	OursPerS  float64 `json:"ours_per_s"`
	PeerPerS  float64 `json:"peer_per_s"`
	OursCPUus float64 `json:"ours_cpu_us"`
	PeerCPUus float64 `json:"peer_cpu_us"`
}

// newReport fills in when, where and on what the bench ran.
func newReport(title, ours, peer string) *report {
	commit := "unknown"
	if out, err := exec.Command("git", "rev-parse", "--short=12", "HEAD").Output(); err == nil {
		commit = strings.TrimSpace(string(out))
		if exec.Command("git", "diff", "--quiet", "HEAD").Run() != nil {
			commit += "+changes"
		}
	}
	return &report{
		Title: title, Ours: ours, Peer: peer,
		Date:    time.Now().UTC().Format(time.RFC3339),
		Commit:  commit,
		Machine: strconv.Itoa(runtime.NumCPU()) + " cores, load average at start " + loadAverage(),
		Command: benchCommand(),
	}
}

// benchCommand is how to run this bench again: make go-bench, with the flags given beyond the
// JSON output's (which the Makefile adds itself).
func benchCommand() string {
	var args []string
	for i := 1; i < len(os.Args); i++ {
		if os.Args[i] == "-json" || os.Args[i] == "--json" {
			i++
			continue
		}
		if strings.HasPrefix(os.Args[i], "-json=") || strings.HasPrefix(os.Args[i], "--json=") {
			continue
		}
		args = append(args, os.Args[i])
	}
	if len(args) == 0 {
		return "make go-bench"
	}
	return "make go-bench GO_BENCH_ARGS=\"" + strings.Join(args, " ") + "\""
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	fields := strings.Fields(string(b))
	if len(fields) < 3 {
		return "unknown"
	}
	return strings.Join(fields[:3], " ")
}

func (r *report) write(path string) error {
	r.Machine += ", at end " + loadAverage()
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(path, append(b, '\n'), 0o644)
}
