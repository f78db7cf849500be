package sfexec

import (
	"log/slog"
	"time"
)

// DefaultPoolSize is the pool size when WithPoolSize is not given (the library's default).
const DefaultPoolSize = 16

// Option adjusts how Open, OpenCluster and OpenSentinel connect.
type Option func(*options)

type options struct {
	cluster         bool // set by OpenCluster
	poolSize        int
	minIdle         int
	minIdleSet      bool
	connectTimeout  time.Duration
	commandTimeout  time.Duration
	poolWaitTimeout time.Duration
	tlsCAFile       string
	tlsCertFile     string
	tlsKeyFile      string
	masterAuth      bool
	masterUser      *string
	masterPassword  *string
	logger          *slog.Logger
	loggerSet       bool
	pipelining      *bool
	minInFlight     int // 0: the library's default
	cacheEntries    int // 0: no client cache
	cacheMaxAge     time.Duration
}

func collect(opts []Option) options {
	o := options{poolSize: DefaultPoolSize}
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	return o
}

// WithPoolSize sets the largest number of connections (default 16, at most 10000). It also
// bounds how many calls of this Executor are inside the library at once: further calls wait
// for a free slot, honouring their context, so they hold no OS thread meanwhile.
func WithPoolSize(n int) Option { return func(o *options) { o.poolSize = n } }

// WithMinIdle sets how many idle connections the pool keeps open in advance (default 0).
func WithMinIdle(n int) Option { return func(o *options) { o.minIdle, o.minIdleSet = n, true } }

// WithConnectTimeout bounds each attempt to open a connection (default 1 s; rounded up to
// whole milliseconds).
func WithConnectTimeout(d time.Duration) Option {
	return func(o *options) { o.connectTimeout = d }
}

// WithCommandTimeout bounds the wait for each command's reply (default 1 s; rounded up to
// whole milliseconds). A call that exceeds it fails with ErrTimeout.
func WithCommandTimeout(d time.Duration) Option {
	return func(o *options) { o.commandTimeout = d }
}

// WithPoolWaitTimeout bounds the wait for a pooled connection inside the library (default
// 1 s; rounded up to whole milliseconds). A call that exceeds it fails with ErrPoolTimeout.
func WithPoolWaitTimeout(d time.Duration) Option {
	return func(o *options) { o.poolWaitTimeout = d }
}

// WithTLSCAFile trusts only the CA certificates in this PEM file (instead of the system's)
// when verifying servers of rediss:// URLs.
func WithTLSCAFile(path string) Option { return func(o *options) { o.tlsCAFile = path } }

// WithTLSClientCert presents this client certificate chain and key (PEM files) to servers
// that verify clients.
func WithTLSClientCert(certFile, keyFile string) Option {
	return func(o *options) { o.tlsCertFile, o.tlsKeyFile = certFile, keyFile }
}

// WithSentinelMasterAuth (OpenSentinel only) logs in to the primary with these credentials
// when they differ from the sentinels'. An empty username means the default user, an empty
// password logs in without one.
func WithSentinelMasterAuth(username, password string) Option {
	return func(o *options) {
		o.masterAuth = true
		o.masterUser, o.masterPassword = nil, nil
		if username != "" {
			o.masterUser = &username
		}
		if password != "" {
			o.masterPassword = &password
		}
	}
}

// WithPipelining turns the library's auto-pipelining on (the default, adaptive) or off. On:
// while enough calls of this Executor are in flight at once (WithPipeliningMinInFlight), their
// commands share one connection per Redis node and go out together; off: every call holds a
// pooled connection for its round trip. The environment variable SF_PIPELINING (off, on,
// always) sets the default for the whole process. (Independent of the Go package's own
// batching of concurrent calls, which hands them to the library together.)
func WithPipelining(enabled bool) Option {
	return func(o *options) { o.pipelining = &enabled }
}

// WithPipeliningMinInFlight sets how many calls must be in flight at once, the call itself
// included, for a call to take the shared connection (default 12; 1: every call, even a lone
// caller's). Only with pipelining on.
func WithPipeliningMinInFlight(calls int) Option {
	return func(o *options) { o.minInFlight = calls }
}

// WithClientCache turns on the client-side cache of reads (default off; maxEntries 0 turns it
// off): up to maxEntries answers of GetLinkedPod, GetLinkedPodIfPersist, BatchGetLinkedPods,
// GetServiceState, GetWorkloadState(s) and GetLinkServices (and their packed forms) are kept
// in the Executor, each for at most maxAge (rounded up to whole milliseconds) and never past
// its key's own TTL, and answered without a round trip while Redis's invalidations (CLIENT
// TRACKING: Redis >= 6 or Valkey) say they are current. A cached answer was the key's value at
// some moment at most min(maxAge, 1 s) before the call began; when that cannot be guaranteed
// (an invalidation connection lost or silent, a failover under way) calls read from Redis.
// The Executor's own writes drop their entries before they return. Open fails with ErrConfig
// when the server has no CLIENT TRACKING and with ErrAuth when the ACL user may not use it.
// Stats reports hits, misses, invalidations and flushes.
func WithClientCache(maxEntries int, maxAge time.Duration) Option {
	return func(o *options) { o.cacheEntries, o.cacheMaxAge = maxEntries, maxAge }
}

// WithLogger routes the library's log records (warnings about retries, reloaded scripts,
// dropped connections and topology changes; open and close at info; each operation at debug)
// to logger. The library has one logger per process, not per Executor: this sets it for
// every Executor, like SetLogger. Without WithLogger, the first Open installs slog.Default().
func WithLogger(logger *slog.Logger) Option {
	return func(o *options) { o.logger, o.loggerSet = logger, true }
}
