package sfexec

// BatchEveryCall makes every later single-key call of e go through the batch path, a lone
// caller's too (the tests of that path). Call it before any call on e.
func BatchEveryCall(e *Executor) { e.batchAll = true }

// Batches is how many batches e has run.
func Batches(e *Executor) int64 {
	if e.batch == nil {
		return 0
	}
	return e.batch.batches.Load()
}
