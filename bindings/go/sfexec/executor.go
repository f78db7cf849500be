package sfexec

// #include "shim.h"
import "C"

import (
	"context"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// Executor keeps the routing state of stateful services in Redis through the native library.
// It is safe for concurrent use by any number of goroutines; share one per process.
//
// A lone call runs inside the library on the calling goroutine's OS thread; a single-key call
// that arrives while others are inside is batched (batch.go): it waits on a channel and a
// runner goroutine hands it to the library together with the others queued. At most as many
// calls or batches as the pool has connections are inside the library at once; the others wait
// without holding a thread, and give up when their context ends. A call that is already inside
// the library, alone or in a batch, cannot be interrupted by its context: it finishes within the
// configured bounds (pool wait + connect + command timeout, 3 s with the defaults).
type Executor struct {
	ex        *C.sf_executor // read only while holding a slot or closeMu
	slots     chan *slot
	all       []*slot
	closed    atomic.Bool
	closing   chan struct{}
	closeOnce sync.Once
	closeMu   sync.RWMutex // Stats reads ex under it; Close takes it to free ex
	batch     *batcher     // concurrent single-key calls, batched (batch.go)
	batchAll  bool         // tests: batch lone calls too
	// The client cache is on: the reads it serves go to the library one by one, where a hit
	// costs no round trip and a miss fills the cache (a batch would do neither).
	cached bool
}

// Open connects to one Redis server and loads the library's scripts. url is
// "redis://[user:password@]host:port[/db]", "rediss://..." for TLS, or "unix:///path".
// It blocks for at most about the connect timeout plus a few command timeouts.
func Open(url string, opts ...Option) (*Executor, error) {
	const op = "open"
	if err := checkText(op, "url", url); err != nil {
		return nil, err
	}
	o := collect(opts)
	curl := C.CString(url)
	defer C.free(unsafe.Pointer(curl))
	var cfg *C.sf_config
	var cerr C.sf_error
	if st := Status(C.sf_config_new(curl, &cfg, &cerr)); st != 0 {
		return nil, cError(st, &cerr, op)
	}
	return open(cfg, o)
}

// OpenCluster connects to a Redis Cluster through any reachable subset of its nodes
// ("redis://host:port" or "rediss://..."); the other nodes are discovered.
func OpenCluster(seedURLs []string, opts ...Option) (*Executor, error) {
	const op = "open cluster"
	urls, err := cStrings(op, "seed URL", seedURLs)
	if err != nil {
		return nil, err
	}
	defer freeCStrings(urls)
	var cfg *C.sf_config
	var cerr C.sf_error
	if st := Status(C.sf_config_new_cluster(urls.ptr, C.size_t(len(seedURLs)), &cfg, &cerr)); st != 0 {
		return nil, cError(st, &cerr, op)
	}
	o := collect(opts)
	o.cluster = true
	return open(cfg, o)
}

// OpenSentinel connects to the primary that the sentinels monitor under masterName, and
// follows failovers. The sentinels' credentials also log in to the primary unless
// WithSentinelMasterAuth says otherwise.
func OpenSentinel(sentinelURLs []string, masterName string, opts ...Option) (*Executor, error) {
	const op = "open sentinel"
	if err := checkText(op, "master name", masterName); err != nil {
		return nil, err
	}
	urls, err := cStrings(op, "sentinel URL", sentinelURLs)
	if err != nil {
		return nil, err
	}
	defer freeCStrings(urls)
	name := C.CString(masterName)
	defer C.free(unsafe.Pointer(name))
	var cfg *C.sf_config
	var cerr C.sf_error
	st := Status(C.sf_config_new_sentinel(urls.ptr, C.size_t(len(sentinelURLs)), name, &cfg, &cerr))
	if st != 0 {
		return nil, cError(st, &cerr, op)
	}
	return open(cfg, collect(opts))
}

// open applies the options to cfg (which it frees) and opens the executor.
func open(cfg *C.sf_config, o options) (*Executor, error) {
	const op = "open"
	defer C.sf_config_free(cfg)
	if err := checkLibraryVersion(); err != nil {
		return nil, err
	}
	if err := configure(cfg, o); err != nil {
		return nil, err
	}
	if o.loggerSet {
		if err := SetLogger(o.logger); err != nil && o.logger != nil {
			o.logger.Warn("stateful-executor: the library's records cannot reach this logger",
				"error", err)
		}
	} else {
		_ = installDefaultLogger() // fails only when another logger owns the process's records
	}
	var ex *C.sf_executor
	var cerr C.sf_error
	if st := Status(C.sf_executor_open(cfg, &ex, &cerr)); st != 0 {
		return nil, cError(st, &cerr, op)
	}
	e := &Executor{
		ex:      ex,
		slots:   make(chan *slot, o.poolSize),
		all:     make([]*slot, o.poolSize),
		closing: make(chan struct{}),
		cached:  o.cacheEntries > 0,
	}
	for i := range e.all {
		e.all[i] = &slot{}
		e.slots <- e.all[i]
	}
	// On a cluster too: the library splits a batch by node and writes each node's part at once.
	e.startBatching()
	return e, nil
}

func configure(cfg *C.sf_config, o options) error {
	const op = "open"
	var cerr C.sf_error
	check := func(st Status) error {
		if st != 0 {
			return cError(st, &cerr, op)
		}
		return nil
	}
	if o.poolSize < 0 || o.poolSize > math.MaxUint32 {
		return invalidArgument(op, "pool size "+strconv.Itoa(o.poolSize)+" is out of range")
	}
	// Always set, so that the number of slots and the pool size agree.
	if err := check(Status(C.sf_config_set_pool_max_size(cfg, C.uint32_t(o.poolSize), &cerr))); err != nil {
		return err
	}
	if o.minIdleSet {
		if o.minIdle < 0 || o.minIdle > math.MaxUint32 {
			return invalidArgument(op, "min idle "+strconv.Itoa(o.minIdle)+" is out of range")
		}
		if err := check(Status(C.sf_config_set_pool_min_idle(cfg, C.uint32_t(o.minIdle), &cerr))); err != nil {
			return err
		}
	}
	timeouts := []struct {
		what string
		d    time.Duration
		set  func(*C.sf_config, C.uint32_t, *C.sf_error) Status
	}{
		{"connect timeout", o.connectTimeout, func(c *C.sf_config, ms C.uint32_t, e *C.sf_error) Status {
			return Status(C.sf_config_set_connect_timeout_ms(c, ms, e))
		}},
		{"command timeout", o.commandTimeout, func(c *C.sf_config, ms C.uint32_t, e *C.sf_error) Status {
			return Status(C.sf_config_set_command_timeout_ms(c, ms, e))
		}},
		{"pool wait timeout", o.poolWaitTimeout, func(c *C.sf_config, ms C.uint32_t, e *C.sf_error) Status {
			return Status(C.sf_config_set_pool_wait_timeout_ms(c, ms, e))
		}},
	}
	for _, t := range timeouts {
		if t.d == 0 {
			continue // the library's default
		}
		ms := (t.d + time.Millisecond - 1) / time.Millisecond
		if t.d < 0 || ms > math.MaxUint32 {
			return invalidArgument(op, t.what+" "+t.d.String()+" is out of range")
		}
		if err := check(t.set(cfg, C.uint32_t(ms), &cerr)); err != nil {
			return err
		}
	}
	if o.pipelining != nil {
		if err := check(Status(C.sf_config_set_pipelining(cfg, C.bool(*o.pipelining), &cerr))); err != nil {
			return err
		}
	}
	if o.minInFlight != 0 {
		if o.minInFlight < 0 || o.minInFlight > math.MaxUint32 {
			return invalidArgument(op, "pipelining min in flight "+strconv.Itoa(o.minInFlight)+" is out of range")
		}
		if err := check(Status(C.sf_config_set_pipelining_min_in_flight(cfg, C.uint32_t(o.minInFlight), &cerr))); err != nil {
			return err
		}
	}
	if o.cacheEntries != 0 {
		ms := (o.cacheMaxAge + time.Millisecond - 1) / time.Millisecond
		if o.cacheEntries < 0 || o.cacheEntries > math.MaxUint32 {
			return invalidArgument(op, "client cache max entries "+strconv.Itoa(o.cacheEntries)+" is out of range")
		}
		if o.cacheMaxAge <= 0 || ms > math.MaxUint32 {
			return invalidArgument(op, "client cache max age "+o.cacheMaxAge.String()+" is out of range")
		}
		if err := check(Status(C.sf_config_set_client_cache(cfg, C.uint32_t(o.cacheEntries), C.uint32_t(ms), &cerr))); err != nil {
			return err
		}
	}
	if o.tlsCAFile != "" {
		if err := checkText(op, "TLS CA file", o.tlsCAFile); err != nil {
			return err
		}
		path := C.CString(o.tlsCAFile)
		defer C.free(unsafe.Pointer(path))
		if err := check(Status(C.sf_config_set_tls_ca_file(cfg, path, &cerr))); err != nil {
			return err
		}
	}
	if o.tlsCertFile != "" || o.tlsKeyFile != "" {
		if err := checkText(op, "TLS certificate file", o.tlsCertFile); err != nil {
			return err
		}
		if err := checkText(op, "TLS key file", o.tlsKeyFile); err != nil {
			return err
		}
		cert, key := C.CString(o.tlsCertFile), C.CString(o.tlsKeyFile)
		defer C.free(unsafe.Pointer(cert))
		defer C.free(unsafe.Pointer(key))
		if err := check(Status(C.sf_config_set_tls_client_cert(cfg, cert, key, &cerr))); err != nil {
			return err
		}
	}
	if o.masterAuth {
		var user, password *C.char
		if o.masterUser != nil {
			if err := checkText(op, "sentinel master username", *o.masterUser); err != nil {
				return err
			}
			user = C.CString(*o.masterUser)
			defer C.free(unsafe.Pointer(user))
		}
		if o.masterPassword != nil {
			if err := checkText(op, "sentinel master password", *o.masterPassword); err != nil {
				return err
			}
			password = C.CString(*o.masterPassword)
			defer C.free(unsafe.Pointer(password))
		}
		if err := check(Status(C.sf_config_set_sentinel_master_auth(cfg, user, password, &cerr))); err != nil {
			return err
		}
	}
	return nil
}

func cError(st Status, cerr *C.sf_error, op string) error {
	return &Error{Status: st, Op: op, Message: C.GoString(&cerr.message[0])}
}

// cArray is a C array of C strings (for the cluster and sentinel URLs).
type cArray struct {
	ptr   **C.char
	items []*C.char
}

func cStrings(op, what string, values []string) (cArray, error) {
	for _, v := range values {
		if err := checkText(op, what, v); err != nil {
			return cArray{}, err
		}
	}
	if len(values) == 0 {
		return cArray{}, nil
	}
	ptr := (**C.char)(C.malloc(C.size_t(len(values)) * C.size_t(unsafe.Sizeof((*C.char)(nil)))))
	items := unsafe.Slice(ptr, len(values))
	for i, v := range values {
		items[i] = C.CString(v)
	}
	return cArray{ptr: ptr, items: items}, nil
}

func freeCStrings(a cArray) {
	for _, p := range a.items {
		C.free(unsafe.Pointer(p))
	}
	if a.ptr != nil {
		C.free(unsafe.Pointer(a.ptr))
	}
}

// acquire waits for a slot: the permit to call into the library.
func (e *Executor) acquire(ctx context.Context) (*slot, error) {
	if e.closed.Load() {
		return nil, ErrClosed
	}
	var s *slot
	select {
	case s = <-e.slots:
	default:
		select {
		case s = <-e.slots:
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-e.closing:
			return nil, ErrClosed
		}
	}
	// Close sets closed before it collects the slots, so a slot taken after that goes back.
	if e.closed.Load() {
		e.slots <- s
		return nil, ErrClosed
	}
	s.init()
	return s, nil
}

func (e *Executor) release(s *slot) {
	e.slots <- s
}

// Close waits for the calls inside the library to finish (each within its time bounds), then
// closes the connections and frees the native executor. Calls waiting for a slot, and every
// call after Close, fail with ErrClosed. Close may be called from any goroutine, concurrently
// with calls; calling it again returns ErrClosed.
func (e *Executor) Close() error {
	first := false
	e.closeOnce.Do(func() {
		first = true
		e.closed.Store(true)
		close(e.closing)
		e.closeBatcher()
		for range e.all {
			<-e.slots
		}
		e.closeMu.Lock()
		C.sf_executor_close(e.ex)
		e.ex = nil
		e.closeMu.Unlock()
		for _, s := range e.all {
			s.free()
		}
	})
	if !first {
		return ErrClosed
	}
	return nil
}

// Ping checks that the server answers.
func (e *Executor) Ping(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	err = s.status(Status(C.sf_ping(e.ex, &s.hdr.err)), "ping")
	e.release(s)
	return err
}

// Stats are the executor's counters (monotonic since Open) and its pool's connections now.
type Stats struct {
	Connections     uint32 // open pooled connections
	IdleConnections uint32 // of which idle
	Calls           uint64 // operations started
	FailedCalls     uint64 // operations that failed
	Retries         uint64 // operations retried once
	PoolTimeouts    uint64 // ErrPoolTimeout returned
	Connects        uint64 // connections opened
	ConnectFailures uint64 // connection attempts that failed
	ScriptReloads   uint64 // NOSCRIPT answered by sending the script
	PipelinedCalls  uint64 // operations carried by the shared connections of auto-pipelining

	// The client cache's figures (WithClientCache; 0 without it).
	CacheHits          uint64 // reads (keys, for batch reads) answered from the cache
	CacheMisses        uint64 // reads (keys) read from Redis: not cached, expired, or bypassed
	CacheInvalidations uint64 // keys named by Redis's invalidations (any client's changes under sf:)
	CacheFlushes       uint64 // times the whole cache was emptied (lost invalidations, failover, FLUSHALL)
	CacheEvictions     uint64 // entries evicted to stay within maxEntries
}

// Stats reads the counters without waiting for a slot or blocking callers (cheap enough to
// poll every second).
func (e *Executor) Stats() (Stats, error) {
	e.closeMu.RLock()
	defer e.closeMu.RUnlock()
	if e.ex == nil {
		return Stats{}, ErrClosed
	}
	var ext C.sf_stats_ext
	ext.size = C.uint32_t(unsafe.Sizeof(ext))
	var cerr C.sf_error
	if st := Status(C.sf_executor_stats_ext(e.ex, &ext, &cerr)); st != 0 {
		return Stats{}, cError(st, &cerr, "stats")
	}
	out := ext.base
	return Stats{
		Connections:        uint32(out.connections),
		IdleConnections:    uint32(out.idle_connections),
		Calls:              uint64(out.calls),
		FailedCalls:        uint64(out.failed_calls),
		Retries:            uint64(out.retries),
		PoolTimeouts:       uint64(out.pool_timeouts),
		Connects:           uint64(out.connects),
		ConnectFailures:    uint64(out.connect_failures),
		ScriptReloads:      uint64(out.script_reloads),
		PipelinedCalls:     uint64(ext.pipelined_calls),
		CacheHits:          uint64(ext.cache_hits),
		CacheMisses:        uint64(ext.cache_misses),
		CacheInvalidations: uint64(ext.cache_invalidations),
		CacheFlushes:       uint64(ext.cache_flushes),
		CacheEvictions:     uint64(ext.cache_evictions),
	}, nil
}
