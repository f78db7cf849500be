// Package redistest starts throwaway redis-server processes on free loopback ports, in
// temporary directories, for the tests and benchmarks of this module, and talks to them with a
// minimal RESP client (so that tests see Redis without going through the library).
package redistest

import (
	"bufio"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Server is one redis-server child process.
type Server struct {
	Port int
	Dir  string
	URL  string // redis://127.0.0.1:PORT (with the password when started with --requirepass)

	cmd      *exec.Cmd
	exited   chan struct{}
	password string
	conf     string      // a config file given as the first argument (sentinels)
	tls      *tls.Config // set when the server listens with TLS only
	mu       sync.Mutex
	conn     *Conn
}

// Start starts a server with extra arguments ("--requirepass", "x", ...) and stops it when the
// test ends.
func Start(tb testing.TB, args ...string) *Server {
	tb.Helper()
	s, err := StartProcess(tb.TempDir(), args...)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// StartProcess starts a server in dir; the caller stops it.
func StartProcess(dir string, args ...string) (*Server, error) {
	return startServer(dir, "", nil, args)
}

// StartSentinel starts a sentinel monitoring the primary at 127.0.0.1:primaryPort under
// masterName (quorum 1), and stops it when the test ends.
func StartSentinel(tb testing.TB, masterName string, primaryPort int) *Server {
	tb.Helper()
	conf := fmt.Sprintf("port {port}\nbind 127.0.0.1\ndir {dir}\nsentinel monitor %s 127.0.0.1 %d 1\n",
		masterName, primaryPort)
	s, err := startServer(tb.TempDir(), conf, nil, []string{"--sentinel"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

// StartTLS starts a server that listens with TLS only, with the server certificate of certs,
// requiring clients to present a certificate signed by its CA; URL is rediss://.
func StartTLS(tb testing.TB, certs *Certs) *Server {
	tb.Helper()
	args := []string{"--tls-cert-file", certs.ServerCert, "--tls-key-file", certs.ServerKey,
		"--tls-ca-cert-file", certs.CA, "--tls-auth-clients", "yes"}
	s, err := startServer(tb.TempDir(), "", certs.ClientConfig(), args)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(s.Stop)
	return s
}

func startServer(dir, conf string, tlsConfig *tls.Config, args []string) (*Server, error) {
	binary := os.Getenv("REDIS_SERVER")
	if binary == "" {
		// SF_TEST_SERVER=valkey: the one switch for running the suite against Valkey.
		binary = "redis-server"
		if os.Getenv("SF_TEST_SERVER") == "valkey" {
			binary = "valkey-server"
		}
	}
	if _, err := exec.LookPath(binary); err != nil {
		return nil, fmt.Errorf("cannot find %s: install redis-server (make go-test does it as root)", binary)
	}
	password := ""
	for i, a := range args {
		if a == "--requirepass" && i+1 < len(args) {
			password = args[i+1]
		}
	}
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := FreePort()
		if err != nil {
			return nil, err
		}
		s := &Server{Port: port, Dir: dir, password: password, conf: conf, tls: tlsConfig}
		s.URL = fmt.Sprintf("redis://127.0.0.1:%d", port)
		if s.tls != nil {
			s.URL = fmt.Sprintf("rediss://127.0.0.1:%d", port)
		}
		if password != "" {
			s.URL = fmt.Sprintf("redis://:%s@127.0.0.1:%d", password, port)
		}
		if lastErr = s.spawn(binary, args); lastErr == nil {
			return s, nil
		}
	}
	return nil, lastErr
}

// FreePort is a TCP port on 127.0.0.1 that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) spawn(binary string, args []string) error {
	var full []string
	if s.conf != "" {
		conf := filepath.Join(s.Dir, fmt.Sprintf("conf-%d.conf", s.Port))
		text := strings.ReplaceAll(strings.ReplaceAll(s.conf, "{port}", strconv.Itoa(s.Port)), "{dir}", s.Dir)
		if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
			return err
		}
		full = append(full, conf)
	}
	portFlag := "--port"
	if s.tls != nil {
		full = append(full, "--port", "0")
		portFlag = "--tls-port"
	}
	full = append(full, []string{
		portFlag, strconv.Itoa(s.Port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
		"--daemonize", "no", "--dir", s.Dir,
		"--logfile", filepath.Join(s.Dir, fmt.Sprintf("redis-%d.log", s.Port)),
	}...)
	full = append(full, args...)
	s.cmd = exec.Command(binary, full...)
	if err := s.cmd.Start(); err != nil {
		return err
	}
	exited := make(chan struct{})
	s.exited = exited
	go func() { _ = s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %d exited (port taken?); log in %s", s.Port, s.Dir)
		default:
		}
		if c, err := s.Dial(); err == nil {
			_, err = c.Do("PING")
			c.Close()
			if err == nil {
				return nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.Stop()
	return fmt.Errorf("redis-server on port %d did not answer; log in %s", s.Port, s.Dir)
}

// Stop kills the server and waits for it.
func (s *Server) Stop() {
	s.mu.Lock()
	if s.conn != nil {
		s.conn.Close()
		s.conn = nil
	}
	s.mu.Unlock()
	if s.cmd != nil && s.cmd.Process != nil {
		_ = s.cmd.Process.Signal(syscall.SIGCONT) // in case a test froze it
		_ = s.cmd.Process.Kill()
		select {
		case <-s.exited:
		case <-time.After(5 * time.Second):
		}
	}
}

// Signal sends sig to the server process (SIGSTOP / SIGCONT to freeze it).
func (s *Server) Signal(sig os.Signal) error { return s.cmd.Process.Signal(sig) }

// Do sends one command on the server's shared admin connection.
func (s *Server) Do(args ...string) (any, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		c, err := s.Dial()
		if err != nil {
			return nil, err
		}
		s.conn = c
	}
	reply, err := s.conn.Do(args...)
	var redisErr RedisError
	if err != nil && !errors.As(err, &redisErr) {
		s.conn.Close()
		s.conn = nil
	}
	return reply, err
}

// MustDo is Do that fails the test on an error.
func (s *Server) MustDo(tb testing.TB, args ...string) any {
	tb.Helper()
	reply, err := s.Do(args...)
	if err != nil {
		tb.Fatalf("%s: %v", strings.Join(args, " "), err)
	}
	return reply
}

// Dial opens a new connection (logged in when the server has a password).
func (s *Server) Dial() (*Conn, error) {
	addr := fmt.Sprintf("127.0.0.1:%d", s.Port)
	var nc net.Conn
	var err error
	if s.tls != nil {
		nc, err = tls.DialWithDialer(&net.Dialer{Timeout: 2 * time.Second}, "tcp", addr, s.tls)
	} else {
		nc, err = net.DialTimeout("tcp", addr, 2*time.Second)
	}
	if err != nil {
		return nil, err
	}
	c := &Conn{nc: nc, r: bufio.NewReader(nc)}
	if s.password != "" {
		if _, err := c.Do("AUTH", s.password); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, nil
}

// Conn is a minimal RESP2 connection.
type Conn struct {
	nc net.Conn
	r  *bufio.Reader
}

// RedisError is an error reply.
type RedisError string

func (e RedisError) Error() string { return string(e) }

// Close closes the connection.
func (c *Conn) Close() { _ = c.nc.Close() }

// Do sends a command and reads its reply: string, int64, nil, []any, or RedisError.
func (c *Conn) Do(args ...string) (any, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	_ = c.nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.nc.Write([]byte(b.String())); err != nil {
		return nil, err
	}
	return c.read()
}

func (c *Conn) read() (any, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		return nil, err
	}
	if len(line) < 3 {
		return nil, fmt.Errorf("short reply %q", line)
	}
	body := line[1 : len(line)-2]
	switch line[0] {
	case '+':
		return body, nil
	case '-':
		return nil, RedisError(body)
	case ':':
		return strconv.ParseInt(body, 10, 64)
	case '$':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		buf := make([]byte, n+2)
		if _, err := ioReadFull(c.r, buf); err != nil {
			return nil, err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(body)
		if err != nil || n < 0 {
			return nil, err
		}
		items := make([]any, n)
		for i := range items {
			if items[i], err = c.read(); err != nil {
				var redisErr RedisError
				if !errors.As(err, &redisErr) {
					return nil, err
				}
				items[i] = redisErr
			}
		}
		return items, nil
	}
	return nil, fmt.Errorf("unknown reply %q", line)
}

func ioReadFull(r *bufio.Reader, buf []byte) (int, error) {
	n := 0
	for n < len(buf) {
		m, err := r.Read(buf[n:])
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}
