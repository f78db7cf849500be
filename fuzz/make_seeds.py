#!/usr/bin/env python3
"""Writes the seed inputs of fuzz/fuzz_c_api.c into fuzz/seeds/ (committed; rerun after changing
the input encoding). Each seed is a sequence of calls in the harness's encoding."""
import os
import struct

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "seeds")

EX, ERR, OUT_PTR = b"\x01", b"\x01", b"\x01"


def word(i):  # dictionary string i (0..3) of the kind being generated
    return bytes([i << 4])


def raw(data):  # raw bytes as a string argument
    return bytes([10, len(data)]) + data


def null():
    return bytes([13])


def small(v):  # gen_i32: a small value 0..7
    return bytes([6, v])


def i32(v):
    return bytes([4]) + struct.pack(">I", v & 0xFFFFFFFF)


def persistent():
    return bytes([0])  # -1


def link_call(ns, uid, svc, pod, seconds):
    return EX + ns + uid + svc + pod + seconds + ERR


def set_link(ns, uid, svc, pod, seconds):
    return b"\x06" + link_call(ns, uid, svc, pod, seconds) + OUT_PTR


def try_set(ns, uid, svc, pod, seconds):
    return b"\x07" + link_call(ns, uid, svc, pod, seconds) + OUT_PTR + OUT_PTR


def if_absent(ns, uid, svc, pod, seconds):
    return b"\x08" + link_call(ns, uid, svc, pod, seconds) + OUT_PTR


def get_link(ns, uid, svc, persist_only=False):
    return (b"\x0a" if persist_only else b"\x09") + link_call(ns, uid, svc, small(0), persistent()) + OUT_PTR


def remove(ns, uid, svc, keep, pod=None):
    if pod is None:
        return b"\x0c" + link_call(ns, uid, svc, small(0), keep) + OUT_PTR
    return b"\x0d" + pod + link_call(ns, uid, svc, small(0), keep) + OUT_PTR


def link_services(ns, uid):
    return b"\x0e" + EX + ns + uid + OUT_PTR + ERR


def compute(ns, uid, svc, seconds, candidates):
    body = b"\x0f" + link_call(ns, uid, svc, small(0), seconds)
    body += bytes([len(candidates), 1])
    for pod, load in candidates:
        body += bytes([1, pod]) + bytes([3, load])
    return body + b"\x01" + OUT_PTR


def batch(ns, svc, uids):
    return b"\x0b" + EX + ns + svc + bytes([len(uids), 1]) + b"".join(uids) + b"\x01" + ERR


def set_pod_state(ns, svc, pod, state):
    return b"\x01" + EX + ns + svc + pod + state + ERR


def get_pod_states(ns, svc):
    return b"\x02" + EX + ns + svc + OUT_PTR + ERR


def set_workload(ns, svc, state):
    return b"\x03" + EX + ns + svc + state + ERR


def get_workload(ns, svc):
    return b"\x04" + EX + ns + svc + OUT_PTR + ERR


def get_workloads(ns, svcs):
    return b"\x05" + EX + ns + bytes([len(svcs), 1]) + b"".join(svcs) + b"\x01" + ERR


def config(url, setters):
    body = b"\x10" + url + OUT_PTR + ERR + bytes([len(setters)])
    for kind, value in setters:
        body += bytes([1, value, 1]) + ERR + bytes([kind])
        if kind == 6:
            body += b"\x02"
    return body


def corrupt(ns, uid, svc, kind, sel, field=0):
    """Foreign data behind the library's back (op 20); indices into the dictionary."""
    return bytes([20, ns, uid, svc, kind, sel, field])


def buf(how, capacity=None):  # gen_packed_buffer: 0 NULL, 1 NULL with capacity, 2 empty, 3..7 sized
    return bytes([how]) + (b"" if capacity is None else bytes([capacity]))


def svc_states_packed(ns, svc, buffer):
    return b"\x16" + EX + ns + svc + OUT_PTR + buffer + ERR


def workloads_packed(ns, svcs, buffer):
    return b"\x17" + EX + ns + bytes([len(svcs), 1]) + b"".join(svcs) + OUT_PTR + buffer + ERR


def link_services_packed(ns, uid, buffer):
    return b"\x18" + EX + ns + uid + OUT_PTR + buffer + ERR


def batch_op(kind, ns, uid, svc, state, pod, seconds):  # kind byte: 1 + k % 12 below 240
    return bytes([kind]) + ns + uid + svc + state + pod + seconds


def execute_batch(entries):
    return b"\x19" + EX + bytes([len(entries), 1]) + b"".join(entries) + ERR


SEEDS = {
    # op 21: a second executor from fuzzed pool sizes and timeouts (then ping, close)
    "open-configs": bytes([21, 3, 0, 3, 4, 1, 3, 2, 3, 2, 5])
    + bytes([21, 1, 0, 0, 0xFF, 0xFF, 0xFF, 0xFF])
    + bytes([21, 2, 0, 0, 0, 0, 0x27, 0x11, 2, 3, 1]),
    "foreign-data": set_link(word(0), word(0), word(0), small(2), persistent())
    + corrupt(0, 0, 0, 0, 1)  # the link holds "abc"
    + get_link(word(0), word(0), word(0))
    + set_link(word(0), word(0), word(0), small(3), persistent())
    + remove(word(0), word(0), word(0), small(5))
    + corrupt(0, 1, 1, 3 | 8, 7)  # the uid hash becomes a string
    + set_link(word(0), word(1), word(1), small(1), persistent())
    + link_services(word(0), word(1))
    + corrupt(0, 0, 0, 4, 11, 10)  # pod-state field "03"
    + set_pod_state(word(0), word(0), small(3), word(0))
    + get_pod_states(word(0), word(0))
    + corrupt(0, 0, 1, 6, 8)  # workload state not UTF-8
    + get_workload(word(0), word(1))
    + corrupt(0, 0, 1, 6, 12)  # workload state with a NUL
    + get_workloads(word(0), [word(1), word(0)]),
    "states": set_pod_state(word(0), word(0), small(1), word(0))
    + set_pod_state(word(0), word(0), small(3), word(1))
    + get_pod_states(word(0), word(0))
    + set_workload(word(1), word(1), word(2))
    + get_workload(word(1), word(1))
    + get_workloads(word(1), [word(1), word(2)])
    + b"\x00" + EX + ERR,
    "link-lifecycle": set_link(word(0), word(0), word(0), small(2), persistent())
    + get_link(word(0), word(0), word(0))
    + try_set(word(0), word(0), word(0), small(5), persistent())
    + link_services(word(0), word(0))
    + remove(word(0), word(0), word(0), small(3))
    + get_link(word(0), word(0), word(0), persist_only=True)
    + compute(word(0), word(0), word(0), persistent(), [(1, 2), (4, 0)])
    + remove(word(0), word(0), word(0), persistent(), pod=small(2)),
    "temporary-links": set_link(word(1), word(1), word(1), small(4), small(1))
    + if_absent(word(1), word(1), word(1), small(6), small(1))
    + batch(word(1), word(1), [word(1), word(2), word(3)])
    + compute(word(1), word(2), word(1), small(1), [(3, 1), (2, 1)])
    + remove(word(1), word(2), word(1), small(0))
    + b"\x13"
    + if_absent(word(1), word(3), word(1), small(7), persistent()),
    "hostile-names": set_link(raw(b"a{b"), word(0), word(0), small(1), persistent())
    + set_link(word(0), raw(b"u\xff\xfe"), word(0), small(1), persistent())
    + set_link(word(0), raw(b"x}y"), word(0), small(1), persistent())
    + set_link(word(0), raw(b"tab\there"), word(0), small(1), persistent())
    + set_pod_state(word(0), null(), small(1), word(0))
    + set_workload(word(0), word(0), raw(b"\xc3"))
    + set_link(word(0), word(0), word(0), i32(-5), persistent())
    + set_link(word(0), word(0), word(0), small(1), i32(0))
    + remove(word(0), word(0), word(0), i32(-2))
    + bytes([14, 1]) + bytes([14, 0x15]) + word(0) + OUT_PTR + ERR,
    "batches": get_workloads(word(0), [])
    + batch(word(0), word(0), [])
    + b"\x0b" + EX + word(0) + word(0) + b"\x00\x20" + b"\x01" + ERR  # NULL uids, count SIZE_MAX
    + compute(word(0), word(0), word(0), persistent(), []),
    # ops 22-24: the packed reads, into no buffer, a too small one and a roomy one
    "packed-reads": set_pod_state(word(0), word(0), small(1), word(0))
    + set_pod_state(word(0), word(0), small(3), word(3))
    + svc_states_packed(word(0), word(0), buf(0))
    + svc_states_packed(word(0), word(0), buf(3, 9))
    + svc_states_packed(word(0), word(0), buf(5, 200))
    + svc_states_packed(word(0), word(0), buf(1))
    + set_workload(word(0), word(1), word(2))
    + workloads_packed(word(0), [word(1), word(2)], buf(5, 30))
    + workloads_packed(word(0), [], buf(2))
    + set_link(word(0), word(0), word(0), small(2), persistent())
    + set_link(word(0), word(0), word(1), small(4), persistent())
    + link_services_packed(word(0), word(0), buf(3, 20))
    + link_services_packed(word(0), word(0), buf(4, 4)),
    # op 25: sf_execute_batch with every kind, a bad one and an unknown kind
    "execute-batch": execute_batch([
        batch_op(0, word(0), word(0), word(0), word(0), small(1), persistent()),
        batch_op(2, word(0), word(0), word(1), word(2), small(0), persistent()),
        batch_op(4, word(0), word(0), word(0), word(0), small(3), persistent()),
        batch_op(11, word(0), word(1), word(2), word(0), small(5), persistent()),
        batch_op(5, word(0), word(2), word(0), word(0), small(6), small(1)),
        batch_op(6, word(0), word(3), word(0), word(0), small(7), persistent()),
        batch_op(9, word(0), word(0), word(0), null(), small(0), small(0)),
        batch_op(240, word(0), word(0), word(0), word(0), small(1), persistent()),
    ])
    + execute_batch([
        batch_op(1, word(0), null(), word(0), null(), small(0), persistent()),
        batch_op(3, word(0), null(), word(1), null(), small(0), persistent()),
        batch_op(7, word(0), word(0), word(0), null(), small(0), persistent()),
        batch_op(8, word(0), word(1), word(2), null(), small(0), persistent()),
        batch_op(10, word(0), word(0), word(0), null(), small(2), small(0)),
        batch_op(4, raw(b"a{b"), word(0), word(0), word(0), i32(-5), persistent()),
        batch_op(244, word(0), word(0), word(0), word(0), small(1), persistent())[:1]
        + struct.pack(">I", 0x7FFFFFFF) + word(0) + word(0) + word(0) + word(0) + small(1) + small(1),
    ])
    + b"\x19" + EX + b"\x00\x50" + ERR,  # NULL ops, count 0
    "config": config(word(0), [(0, 4), (1, 2), (2, 0), (6, 0)])
    + config(raw(b"redis://127.0.0.1:99999"), [])
    + bytes([17, 1, 1]) + word(0) + bytes([2, 1]) + word(0) + word(1) + ERR
    + bytes([17, 0, 1, 2, 1]) + word(0) + raw(b"unix:///x") + ERR
    + bytes([18]) + struct.pack(">III", 10, 0xFFFFFFFF, 7),
}


def main():
    os.makedirs(OUT, exist_ok=True)
    for name, data in SEEDS.items():
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(data)


if __name__ == "__main__":
    main()
