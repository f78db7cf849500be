package sfexec

// #include "shim.h"
import "C"

import (
	"context"
	"unsafe"
)

// NoPod is the pod result meaning "no link" (the C API's SF_NO_POD).
const NoPod = -1

// Operation names, as they appear in errors.
const (
	opSetServiceState       = "set service state"
	opGetServiceState       = "get service state"
	opSetWorkloadState      = "set workload state"
	opGetWorkloadState      = "get workload state"
	opGetWorkloadStateBatch = "get workload state batch"
	opSetLinkedPod          = "set linked pod"
	opTrySetLinkedPod       = "try set linked pod"
	opSetLinkedPodIfAbsent  = "set linked pod if absent"
	opGetLinkedPod          = "get linked pod"
	opGetLinkedPodIfPersist = "get linked pod if persist"
	opBatchGetLinkedPod     = "batch get linked pod"
	opRemoveLinkedPod       = "remove linked pod"
	opRemoveLinkedPodWithID = "remove linked pod with id"
	opTouchLinkedPod        = "touch linked pod"
	opGetLinkService        = "get link service"
	opComputeLinkedPod      = "compute linked pod"
)

// StatefulExecutor is the seed's interface (route.StatefulExecutor), which *Executor
// implements method for method.
type StatefulExecutor interface {
	SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) error
	GetServiceState(ctx context.Context, namespace, serviceName string) (map[int]string, error)
	SetWorkloadState(ctx context.Context, namespace, serviceName, state string) error
	GetWorkloadState(ctx context.Context, namespace, serviceName string) (string, error)
	GetWorkloadStateBatch(ctx context.Context, namespace string, serviceNames []string) (map[string]string, error)
	SetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error)
	TrySetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (bool, int, error)
	SetLinkedPodIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error)
	GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error)
	GetLinkedPodIfPersist(ctx context.Context, namespace, uid, serviceName string) (int, error)
	BatchGetLinkedPod(ctx context.Context, namespace string, keys []string, serviceName string) (map[int][]string, error)
	RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (bool, error)
	RemoveLinkedPodWithId(ctx context.Context, namespace, uid, serviceName string, persistSeconds, podID int) (bool, error)
	GetLinkService(ctx context.Context, namespace, uid string) (map[string]int, error)
}

var _ StatefulExecutor = (*Executor)(nil)

// check2, check3 and checkState reject a done context and strings C cannot carry, before
// anything else; each names its arguments, so an error says which one held the NUL.
func check2(ctx context.Context, op, ns, svc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkText(op, "namespace", ns); err != nil {
		return err
	}
	return checkText(op, "service name", svc)
}

func checkState(ctx context.Context, op, ns, svc, state string) error {
	if err := check2(ctx, op, ns, svc); err != nil {
		return err
	}
	return checkText(op, "state", state)
}

func check3(ctx context.Context, op, ns, uid, svc string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := checkText(op, "namespace", ns); err != nil {
		return err
	}
	if err := checkText(op, "uid", uid); err != nil {
		return err
	}
	return checkText(op, "service name", svc)
}

// SetServiceState publishes the state of one pod of a service.
func (e *Executor) SetServiceState(ctx context.Context, namespace, serviceName string, podID int, state string) error {
	const op = opSetServiceState
	if err := checkState(ctx, op, namespace, serviceName, state); err != nil {
		return err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_SET_SERVICE_STATE, op, namespace, "", serviceName)
		r.pod, r.state = int32(pod), state
		return e.submitWrite(ctx, r)
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	b := s.buffer(uintptr(len(namespace) + len(serviceName) + len(state) + 3))
	st := Status(C.sf_set_service_state(e.ex, b.str(namespace), b.str(serviceName), pod, b.str(state), &s.hdr.err))
	b.done()
	err = s.status(st, op)
	e.release(s)
	return err
}

// GetServiceState reads the states of all pods of a service (pod -> state; empty when none).
func (e *Executor) GetServiceState(ctx context.Context, namespace, serviceName string) (map[int]string, error) {
	const op = opGetServiceState
	if err := check2(ctx, op, namespace, serviceName); err != nil {
		return nil, err
	}
	if e.shouldBatchRead() {
		r := e.request(C.SF_BATCH_GET_SERVICE_STATE, op, namespace, "", serviceName)
		if err := e.submit(ctx, r); err != nil {
			return nil, err
		}
		states, err := r.outStates, r.err
		e.recycle(r)
		if err != nil {
			return nil, err
		}
		return states, nil
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer e.release(s)
	b := s.buffer(uintptr(len(namespace)+len(serviceName)+2) + s.packedRoom(packedRoomMin))
	defer b.done()
	ns, svc := b.str(namespace), b.str(serviceName)
	buf, capacity := b.rest8()
	st := Status(C.sf_get_service_state_packed(e.ex, ns, svc, buf, capacity, &s.hdr.packed, &s.hdr.err))
	if err := s.status(st, op); err != nil {
		return nil, err
	}
	defer s.packedDone()
	r := s.packed()
	out := make(map[int]string, r.count)
	var seen interner
	for r.next() {
		out[int(r.key)] = seen.get(r.text)
	}
	if err := r.err(op); err != nil {
		return nil, err
	}
	return out, nil
}

// SetWorkloadState sets the state of a whole service (no expiry).
func (e *Executor) SetWorkloadState(ctx context.Context, namespace, serviceName, state string) error {
	const op = opSetWorkloadState
	if err := checkState(ctx, op, namespace, serviceName, state); err != nil {
		return err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_SET_WORKLOAD_STATE, op, namespace, "", serviceName)
		r.state = state
		return e.submitWrite(ctx, r)
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return err
	}
	b := s.buffer(uintptr(len(namespace) + len(serviceName) + len(state) + 3))
	st := Status(C.sf_set_workload_state(e.ex, b.str(namespace), b.str(serviceName), b.str(state), &s.hdr.err))
	b.done()
	err = s.status(st, op)
	e.release(s)
	return err
}

// GetWorkloadState reads the state of a service; "" when it has none.
func (e *Executor) GetWorkloadState(ctx context.Context, namespace, serviceName string) (string, error) {
	const op = opGetWorkloadState
	if err := check2(ctx, op, namespace, serviceName); err != nil {
		return "", err
	}
	if e.shouldBatchRead() {
		r := e.request(C.SF_BATCH_GET_WORKLOAD_STATE, op, namespace, "", serviceName)
		if err := e.submit(ctx, r); err != nil {
			return "", err
		}
		state, err := r.outText, r.err
		e.recycle(r)
		if err != nil {
			return "", err
		}
		return state, nil
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return "", err
	}
	b := s.buffer(uintptr(len(namespace) + len(serviceName) + 2 + 8 + inlineResult))
	ns, svc := b.str(namespace), b.str(serviceName)
	dst := b.take(inlineResult)
	st := Status(C.sfgo_get_workload_state(e.ex, ns, svc, s.hdr, (*C.char)(dst), inlineResult))
	state := ""
	if err = s.status(st, op); err == nil && bool(s.hdr.flag) {
		n := uintptr(s.hdr.count)
		src := dst
		if s.hdr.str != nil {
			src = unsafe.Pointer(s.hdr.str)
		}
		// Workload states repeat ("Available"): the slot returns its last one when equal.
		if text := unsafe.Slice((*byte)(src), n); string(text) == s.lastState {
			state = s.lastState
		} else {
			state = string(text)
			s.lastState = state
		}
		if s.hdr.str != nil {
			C.sf_string_free(s.hdr.str)
			s.hdr.str = nil
		}
	}
	b.done()
	e.release(s)
	return state, err
}

// GetWorkloadStateBatch reads the states of many services in one round trip per Redis node;
// services without a state are left out.
func (e *Executor) GetWorkloadStateBatch(ctx context.Context, namespace string, serviceNames []string) (map[string]string, error) {
	const op = opGetWorkloadStateBatch
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText(op, "namespace", namespace); err != nil {
		return nil, err
	}
	size, err := batchSize(op, "service name", serviceNames, ptrSize+packedEntry)
	if err != nil {
		return nil, err
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer e.release(s)
	b := s.buffer(uintptr(len(namespace)+1) + size + s.packedRoom(0))
	defer b.done()
	ns := b.str(namespace)
	count := len(serviceNames)
	in := unsafe.Slice((**C.char)(b.take(uintptr(count)*ptrSize)), count)
	for i, name := range serviceNames {
		in[i] = b.str(name)
	}
	buf, capacity := b.rest8()
	st := Status(C.sf_get_workload_states_packed(e.ex, ns, unsafe.SliceData(in), C.size_t(count), buf, capacity,
		&s.hdr.packed, &s.hdr.err))
	if err := s.status(st, op); err != nil {
		return nil, err
	}
	defer s.packedDone()
	r := s.packed()
	result := make(map[string]string, count)
	var seen interner
	for r.next() {
		if r.text != nil && r.key >= 0 && int(r.key) < count {
			result[serviceNames[r.key]] = seen.get(r.text)
		}
	}
	if err := r.err(op); err != nil {
		return nil, err
	}
	return result, nil
}

// linkCall takes a slot and copies the three names of a link operation into the slot's C memory.
func (e *Executor) linkCall(ctx context.Context, namespace, uid, serviceName string) (*slot, cbuf, [3]*C.char, error) {
	var names [3]*C.char
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, cbuf{}, names, err
	}
	b := s.buffer(uintptr(len(namespace) + len(uid) + len(serviceName) + 3))
	names[0], names[1], names[2] = b.str(namespace), b.str(uid), b.str(serviceName)
	return s, b, names, nil
}

// finishPod ends a direct call whose result is a pod: it reads the pod the library wrote into
// the slot, then gives back the names' buffer and the slot.
func (e *Executor) finishPod(s *slot, b cbuf, st Status, op string) (int, error) {
	pod := int(s.hdr.pod)
	b.done()
	err := s.status(st, op)
	e.release(s)
	if err != nil {
		return NoPod, err
	}
	return pod, nil
}

// finishFlag ends a direct call whose result is a flag (removed), like finishPod.
func (e *Executor) finishFlag(s *slot, b cbuf, st Status, op string) (bool, error) {
	flag := bool(s.hdr.flag)
	b.done()
	err := s.status(st, op)
	e.release(s)
	if err != nil {
		return false, err
	}
	return flag, nil
}

// SetLinkedPod links uid to podID for serviceName (persistSeconds -1: persistent; N > 0: a
// temporary link expiring in N seconds) and returns the previous pod, or -1.
func (e *Executor) SetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error) {
	const op = opSetLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return NoPod, err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return NoPod, err
	}
	persist, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return NoPod, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_SET_LINKED_POD, op, namespace, uid, serviceName)
		r.pod, r.seconds = int32(pod), int32(persist)
		return e.submitPod(ctx, r)
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return NoPod, err
	}
	return e.finishPod(s, b, Status(C.sf_set_linked_pod(e.ex, n[0], n[1], n[2], pod, persist, &s.hdr.pod, &s.hdr.err)), op)
}

// TrySetLinkedPod links like SetLinkedPod unless a persistent link to another pod exists.
// It returns (true, podID) when it linked, (false, that other pod) when it refused.
func (e *Executor) TrySetLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (bool, int, error) {
	const op = opTrySetLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return false, NoPod, err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return false, NoPod, err
	}
	persist, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return false, NoPod, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_TRY_SET_LINKED_POD, op, namespace, uid, serviceName)
		r.pod, r.seconds = int32(pod), int32(persist)
		if err := e.submit(ctx, r); err != nil {
			return false, NoPod, err
		}
		linked, current, err := r.outFlag, r.outPod, r.err
		e.recycle(r)
		if err != nil {
			return false, NoPod, err
		}
		return linked, current, nil
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return false, NoPod, err
	}
	st := Status(C.sf_try_set_linked_pod(e.ex, n[0], n[1], n[2], pod, persist, &s.hdr.flag, &s.hdr.pod, &s.hdr.err))
	linked, current := bool(s.hdr.flag), int(s.hdr.pod)
	b.done()
	err = s.status(st, op)
	e.release(s)
	if err != nil {
		return false, NoPod, err
	}
	return linked, current, nil
}

// SetLinkedPodIfAbsent links uid to podID only when it has no link (persistent or temporary)
// for serviceName, and returns the pod linked now. Among concurrent callers exactly one writes,
// and all get the same pod.
func (e *Executor) SetLinkedPodIfAbsent(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (int, error) {
	const op = opSetLinkedPodIfAbsent
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return NoPod, err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return NoPod, err
	}
	persist, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return NoPod, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_SET_LINKED_POD_IF_ABSENT, op, namespace, uid, serviceName)
		r.pod, r.seconds = int32(pod), int32(persist)
		return e.submitPod(ctx, r)
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return NoPod, err
	}
	return e.finishPod(s, b, Status(C.sf_set_linked_pod_if_absent(e.ex, n[0], n[1], n[2], pod, persist, &s.hdr.pod, &s.hdr.err)), op)
}

// GetLinkedPod returns the pod uid is linked to for serviceName (persistent or temporary), or
// -1.
func (e *Executor) GetLinkedPod(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	const op = opGetLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return NoPod, err
	}
	if e.shouldBatchRead() {
		return e.submitPod(ctx, e.request(C.SF_BATCH_GET_LINKED_POD, op, namespace, uid, serviceName))
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return NoPod, err
	}
	return e.finishPod(s, b, Status(C.sf_get_linked_pod(e.ex, n[0], n[1], n[2], &s.hdr.pod, &s.hdr.err)), op)
}

// GetLinkedPodIfPersist returns the pod uid is linked to for serviceName when the link is
// persistent, or -1.
func (e *Executor) GetLinkedPodIfPersist(ctx context.Context, namespace, uid, serviceName string) (int, error) {
	const op = opGetLinkedPodIfPersist
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return NoPod, err
	}
	if e.shouldBatchRead() {
		return e.submitPod(ctx, e.request(C.SF_BATCH_GET_LINKED_POD_IF_PERSIST, op, namespace, uid, serviceName))
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return NoPod, err
	}
	return e.finishPod(s, b, Status(C.sf_get_linked_pod_if_persist(e.ex, n[0], n[1], n[2], &s.hdr.pod, &s.hdr.err)), op)
}

// RemoveLinkedPod removes uid's link for serviceName and reports whether one existed.
// persistSeconds (the grace period): -1 or 0 delete at once; N > 0 keeps the link as a
// temporary one for N seconds, so a user who comes back soon returns to the same pod.
func (e *Executor) RemoveLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int) (bool, error) {
	const op = opRemoveLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return false, err
	}
	keep, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return false, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_REMOVE_LINKED_POD, op, namespace, uid, serviceName)
		r.seconds = int32(keep)
		return e.submitFlag(ctx, r)
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return false, err
	}
	return e.finishFlag(s, b, Status(C.sf_remove_linked_pod(e.ex, n[0], n[1], n[2], keep, &s.hdr.flag, &s.hdr.err)), op)
}

// RemoveLinkedPodWithId removes uid's link like RemoveLinkedPod, but only when it points to
// podID; it reports whether it removed it.
func (e *Executor) RemoveLinkedPodWithId(ctx context.Context, namespace, uid, serviceName string, persistSeconds, podID int) (bool, error) { //nolint:revive // the seed's name
	const op = opRemoveLinkedPodWithID
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return false, err
	}
	keep, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return false, err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return false, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_REMOVE_LINKED_POD_WITH_ID, op, namespace, uid, serviceName)
		r.seconds, r.pod = int32(keep), int32(pod)
		return e.submitFlag(ctx, r)
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return false, err
	}
	return e.finishFlag(s, b, Status(C.sf_remove_linked_pod_with_id(e.ex, n[0], n[1], n[2], keep, pod, &s.hdr.flag, &s.hdr.err)), op)
}

// TouchLinkedPod extends uid's temporary link for serviceName only while it points at podID:
// a temporary link to podID then expires persistSeconds (1..2147483647) from now, a persistent
// link to podID is left as it is, and both report true; a link to another pod, or none, is left
// as it is and reports false. Atomic (one script): a gateway keeps an active session's link
// alive without overwriting a pod another gateway set meanwhile, as calling SetLinkedPod again
// could.
func (e *Executor) TouchLinkedPod(ctx context.Context, namespace, uid, serviceName string, podID, persistSeconds int) (bool, error) {
	const op = opTouchLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return false, err
	}
	pod, err := toInt32(op, "pod", podID)
	if err != nil {
		return false, err
	}
	persist, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return false, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_TOUCH_LINKED_POD, op, namespace, uid, serviceName)
		r.pod, r.seconds = int32(pod), int32(persist)
		return e.submitFlag(ctx, r)
	}
	s, b, n, err := e.linkCall(ctx, namespace, uid, serviceName)
	if err != nil {
		return false, err
	}
	return e.finishFlag(s, b, Status(C.sf_touch_linked_pod(e.ex, n[0], n[1], n[2], pod, persist, &s.hdr.flag, &s.hdr.err)), op)
}

// GetLinkService returns the persistent links of uid: service name -> pod.
func (e *Executor) GetLinkService(ctx context.Context, namespace, uid string) (map[string]int, error) {
	const op = opGetLinkService
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText(op, "namespace", namespace); err != nil {
		return nil, err
	}
	if err := checkText(op, "uid", uid); err != nil {
		return nil, err
	}
	if e.shouldBatch() {
		r := e.request(C.SF_BATCH_GET_LINK_SERVICES, op, namespace, uid, "")
		if err := e.submit(ctx, r); err != nil {
			return nil, err
		}
		links, err := r.outLinks, r.err
		e.recycle(r)
		if err != nil {
			return nil, err
		}
		return links, nil
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer e.release(s)
	b := s.buffer(uintptr(len(namespace)+len(uid)+2) + s.packedRoom(packedRoomMin))
	defer b.done()
	ns, u := b.str(namespace), b.str(uid)
	buf, capacity := b.rest8()
	st := Status(C.sf_get_link_services_packed(e.ex, ns, u, buf, capacity, &s.hdr.packed, &s.hdr.err))
	if err := s.status(st, op); err != nil {
		return nil, err
	}
	defer s.packedDone()
	r := s.packed()
	out := make(map[string]int, r.count)
	for r.next() {
		out[string(r.text)] = int(r.key)
	}
	if err := r.err(op); err != nil {
		return nil, err
	}
	return out, nil
}

// BatchGetLinkedPod looks up the links of many uids for serviceName in one round trip per
// Redis node, grouped by pod: pod -> uids in input order. Uids without a link are left out.
func (e *Executor) BatchGetLinkedPod(ctx context.Context, namespace string, keys []string, serviceName string) (map[int][]string, error) {
	pods, err := e.batchGet(ctx, opBatchGetLinkedPod, namespace, serviceName, keys, nil)
	if err != nil {
		return nil, err
	}
	out := make(map[int][]string)
	for i, pod := range pods {
		if pod != NoPod {
			out[pod] = append(out[pod], keys[i])
		}
	}
	return out, nil
}

// BatchGetLinkedPods looks up the links of many uids for serviceName in one round trip per
// Redis node: one pod (or -1) per uid, in input order.
func (e *Executor) BatchGetLinkedPods(ctx context.Context, namespace, serviceName string, uids []string) ([]int, error) {
	return e.batchGet(ctx, "batch get linked pods", namespace, serviceName, uids, make([]int, len(uids)))
}

func (e *Executor) batchGet(ctx context.Context, op, namespace, serviceName string, uids []string, out []int) ([]int, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := checkText(op, "namespace", namespace); err != nil {
		return nil, err
	}
	if err := checkText(op, "service name", serviceName); err != nil {
		return nil, err
	}
	size, err := batchSize(op, "uid", uids, ptrSize+4)
	if err != nil {
		return nil, err
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer e.release(s)
	b := s.buffer(uintptr(len(namespace)+len(serviceName)+2) + size)
	defer b.done()
	ns, svc := b.str(namespace), b.str(serviceName)
	count := len(uids)
	in := unsafe.Slice((**C.char)(b.take(uintptr(count)*ptrSize)), count)
	pods := (*C.int32_t)(b.take(uintptr(count) * 4))
	for i, uid := range uids {
		in[i] = b.str(uid)
	}
	st := Status(C.sf_batch_get_linked_pods(e.ex, ns, svc, unsafe.SliceData(in), C.size_t(count), pods, &s.hdr.err))
	if err := s.status(st, op); err != nil {
		return nil, err
	}
	if out == nil {
		out = make([]int, count)
	}
	for i, pod := range unsafe.Slice(pods, count) {
		out[i] = int(pod)
	}
	return out, nil
}

// Candidate is a pod that ComputeLinkedPod may choose, with its load.
type Candidate struct {
	Pod  int
	Load int64
}

// ComputeLinkedPod returns uid's existing link for serviceName unchanged, or links it to the
// candidate with the lowest load (ties: the lowest pod) and returns that pod; -1 when there is
// no link and no candidate (nothing is written then). persistSeconds as in SetLinkedPod.
func (e *Executor) ComputeLinkedPod(ctx context.Context, namespace, uid, serviceName string, persistSeconds int, candidates []Candidate) (int, error) {
	const op = opComputeLinkedPod
	if err := check3(ctx, op, namespace, uid, serviceName); err != nil {
		return NoPod, err
	}
	persist, err := toInt32(op, "persist seconds", persistSeconds)
	if err != nil {
		return NoPod, err
	}
	for _, c := range candidates {
		if _, err := toInt32(op, "candidate pod", c.Pod); err != nil {
			return NoPod, err
		}
	}
	s, err := e.acquire(ctx)
	if err != nil {
		return NoPod, err
	}
	count := len(candidates)
	b := s.buffer(uintptr(len(namespace)+len(uid)+len(serviceName)+3) + 16 + uintptr(count)*12)
	ns, u, svc := b.str(namespace), b.str(uid), b.str(serviceName)
	loads := unsafe.Slice((*C.int64_t)(b.take(uintptr(count)*8)), count)
	pods := unsafe.Slice((*C.int32_t)(b.take(uintptr(count)*4)), count)
	for i, c := range candidates {
		pods[i], loads[i] = C.int32_t(c.Pod), C.int64_t(c.Load)
	}
	st := Status(C.sf_compute_linked_pod(e.ex, ns, u, svc, unsafe.SliceData(pods), unsafe.SliceData(loads),
		C.size_t(count), persist, &s.hdr.pod, &s.hdr.err))
	pod := int(s.hdr.pod)
	b.done()
	err = s.status(st, op)
	e.release(s)
	if err != nil {
		return NoPod, err
	}
	return pod, nil
}

const ptrSize = unsafe.Sizeof(uintptr(0))

// batchSize checks a batch's strings and sums the C memory it needs: each string with its NUL,
// perItem bytes of arrays per string, and room for aligning the arrays.
func batchSize(op, what string, items []string, perItem uintptr) (uintptr, error) {
	size := uintptr(32)
	for _, item := range items {
		if err := checkText(op, what, item); err != nil {
			return 0, err
		}
		size += uintptr(len(item)) + 1 + perItem
	}
	return size, nil
}

// entries are the arrays the C helpers fill from a result object: per entry a pod, a string
// pointer into the object, and that string's length.
type entries struct {
	n    int
	pods *C.int32_t
	lens *C.size_t
	ptrs **C.char
}

const entrySize = 2*ptrSize + 4

// entriesIn lays out as many entries as fit in the rest of b.
func entriesIn(b *cbuf) entries {
	n := int(b.rest() / entrySize)
	return entries{
		n:    n,
		ptrs: (**C.char)(b.take(uintptr(n) * ptrSize)),
		lens: (*C.size_t)(b.take(uintptr(n) * ptrSize)),
		pods: (*C.int32_t)(b.take(uintptr(n) * 4)),
	}
}

func (a entries) entry(i int) (int, []byte) {
	pod := *(*C.int32_t)(unsafe.Add(unsafe.Pointer(a.pods), uintptr(i)*4))
	ptr := *(**C.char)(unsafe.Add(unsafe.Pointer(a.ptrs), uintptr(i)*ptrSize))
	n := *(*C.size_t)(unsafe.Add(unsafe.Pointer(a.lens), uintptr(i)*ptrSize))
	if ptr == nil {
		return int(pod), nil
	}
	return int(pod), unsafe.Slice((*byte)(unsafe.Pointer(ptr)), int(n))
}

// interner turns the bytes of repeated values (pod states, workload states) into one shared
// Go string each, as long as there are few distinct values.
type interner struct {
	values [8]string
	n      int
}

func (in *interner) get(b []byte) string {
	for i := 0; i < in.n; i++ {
		if in.values[i] == string(b) {
			return in.values[i]
		}
	}
	s := string(b)
	if in.n < len(in.values) {
		in.values[in.n] = s
		in.n++
	}
	return s
}
