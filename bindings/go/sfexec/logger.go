package sfexec

// #include <stdint.h>
import "C"

import (
	"context"
	"log/slog"
	"sync"
	"sync/atomic"
	"unsafe"
)

// The library's log levels (SF_LOG_*), most severe first.
const (
	logError = 1
	logWarn  = 2
	logInfo  = 3
	logDebug = 4
	logTrace = 5
)

// LevelTrace is the slog level of the library's trace records (below slog.LevelDebug).
const LevelTrace = slog.LevelDebug - 4

func slogLevel(level int32) slog.Level {
	switch level {
	case logError:
		return slog.LevelError
	case logWarn:
		return slog.LevelWarn
	case logInfo:
		return slog.LevelInfo
	case logDebug:
		return slog.LevelDebug
	default:
		return LevelTrace
	}
}

// The process-wide logger: the C library keeps one callback for the whole process.
var logging struct {
	mu        sync.Mutex
	installed bool
	logger    atomic.Pointer[slog.Logger] // nil: slog.Default() at the time of each record
}

// SetLogger makes logger receive the library's log records, for every Executor of the process
// (the native library has one logger per process). nil means slog.Default(), looked up for
// each record. Records arrive from any goroutine or thread, including the library's own pool
// threads, with the library's module path in the "target" attribute.
//
// Which levels the library formats and hands over is decided now, from logger.Enabled:
// after raising or lowering the logger's level, call SetLogger again. A logger whose handler
// is enabled at no level of the library (such as slog.DiscardHandler) turns its logging off.
// A handler must not call SetLogger itself (the library waits for running records to finish).
func SetLogger(logger *slog.Logger) error {
	logging.mu.Lock()
	defer logging.mu.Unlock()
	return installLogger(logger)
}

// installDefaultLogger installs slog.Default() unless a logger was installed before.
func installDefaultLogger() error {
	logging.mu.Lock()
	defer logging.mu.Unlock()
	if logging.installed {
		return nil
	}
	return installLogger(nil)
}

func installLogger(logger *slog.Logger) error {
	effective := logger
	if effective == nil {
		effective = slog.Default()
	}
	maxLevel := int32(0)
	for level := int32(logTrace); level >= logError; level-- {
		if effective.Enabled(context.Background(), slogLevel(level)) {
			maxLevel = level
			break
		}
	}
	logging.logger.Store(logger)
	if err := setNativeLogger(maxLevel); err != nil {
		return err
	}
	logging.installed = true
	return nil
}

//export sfgoLogRecord
func sfgoLogRecord(_ unsafe.Pointer, level C.int32_t, target, message *C.char) {
	// A panicking handler must not unwind into the library's frames.
	defer func() { _ = recover() }()
	logger := logging.logger.Load()
	if logger == nil {
		logger = slog.Default()
	}
	ctx := context.Background()
	lvl := slogLevel(int32(level))
	if !logger.Enabled(ctx, lvl) {
		return
	}
	logger.LogAttrs(ctx, lvl, C.GoString(message), slog.String("target", C.GoString(target)))
}
