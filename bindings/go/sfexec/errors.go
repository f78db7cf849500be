package sfexec

import (
	"errors"
	"strconv"
	"strings"
)

// Status is the library's status code (the C API's sf_status); the numeric values are fixed.
type Status int32

// The status codes, equal to the C API's SF_* constants.
const (
	StatusOK              Status = 0
	StatusInvalidArgument Status = 1
	StatusConnection      Status = 2
	StatusTimeout         Status = 3
	StatusPoolTimeout     Status = 4
	StatusAuth            Status = 5
	StatusRedis           Status = 6
	StatusUnexpectedReply Status = 7
	StatusConfig          Status = 8
	StatusInternal        Status = 9
)

var statusNames = [...]string{
	"SF_OK", "SF_INVALID_ARGUMENT", "SF_CONNECTION", "SF_TIMEOUT", "SF_POOL_TIMEOUT",
	"SF_AUTH", "SF_REDIS", "SF_UNEXPECTED_REPLY", "SF_CONFIG", "SF_INTERNAL",
}

// String gives the C name of the code ("SF_TIMEOUT"), or "SF_UNKNOWN(n)".
func (s Status) String() string {
	if s >= 0 && int(s) < len(statusNames) {
		return statusNames[s]
	}
	return "SF_UNKNOWN(" + strconv.Itoa(int(s)) + ")"
}

// One sentinel per status code, for errors.Is. Every error the library reports is an *Error
// that matches exactly one of them; errors.As gives its Status and the library's Message.
var (
	// ErrInvalidArgument: a bad name or number (also a NUL byte in a string, or a number outside
	// int32, found by this package); nothing was sent to Redis.
	ErrInvalidArgument = errors.New("stateful-executor: invalid argument")
	// ErrConnection: cannot connect, the connection was lost, or another I/O error. For a write
	// the outcome is then unknown.
	ErrConnection = errors.New("stateful-executor: connection error")
	// ErrTimeout: the command did not complete within the command timeout.
	ErrTimeout = errors.New("stateful-executor: timeout")
	// ErrPoolTimeout: no pooled connection became free within the pool wait timeout.
	ErrPoolTimeout = errors.New("stateful-executor: pool timeout")
	// ErrAuth: authentication or authorization refused by the server.
	ErrAuth = errors.New("stateful-executor: authentication refused")
	// ErrRedis: the server answered with an error (READONLY, OOM, CROSSSLOT, a script error...).
	ErrRedis = errors.New("stateful-executor: redis error")
	// ErrUnexpectedReply: data in Redis is not in the documented format.
	ErrUnexpectedReply = errors.New("stateful-executor: unexpected reply")
	// ErrConfig: an invalid URL or configuration.
	ErrConfig = errors.New("stateful-executor: invalid configuration")
	// ErrInternal: a bug in the library (a caught panic or a broken invariant).
	ErrInternal = errors.New("stateful-executor: internal error")
	// ErrClosed: the Executor was closed (before the call, or while it waited for a slot).
	ErrClosed = errors.New("stateful-executor: executor is closed")
)

var sentinels = [...]error{
	nil, ErrInvalidArgument, ErrConnection, ErrTimeout, ErrPoolTimeout,
	ErrAuth, ErrRedis, ErrUnexpectedReply, ErrConfig, ErrInternal,
}

// Error is a failure reported by the library (or by this package's argument checks, with
// StatusInvalidArgument). errors.Is(err, ErrTimeout) and the like match on Status.
type Error struct {
	Status  Status
	Op      string // the operation, e.g. "get linked pod"
	Message string // the library's message (never contains a password)
}

func (e *Error) Error() string {
	if strings.HasPrefix(e.Message, e.Op+":") { // the library's messages often name the operation
		return "stateful-executor: " + e.Status.String() + ": " + e.Message
	}
	return "stateful-executor: " + e.Op + ": " + e.Status.String() + ": " + e.Message
}

// Is reports whether target is the sentinel of e's status.
func (e *Error) Is(target error) bool {
	if e.Status > 0 && int(e.Status) < len(sentinels) {
		return sentinels[e.Status] == target
	}
	return target == ErrInternal // an unknown code can only come from a broken invariant
}

func invalidArgument(op, message string) error {
	return &Error{Status: StatusInvalidArgument, Op: op, Message: message}
}
