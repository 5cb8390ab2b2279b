// Atomic operations on the plain integer fields of the public structs. The
// memory order is part of each name, so every call site says what it pairs
// with. GCC/Clang __atomic builtins act on ordinary objects, which lets the
// public headers keep plain integer types (and C++ compatibility).
#ifndef CT_SYNC_ATOMIC_H
#define CT_SYNC_ATOMIC_H

#define ct__load_relaxed(p) __atomic_load_n((p), __ATOMIC_RELAXED)
#define ct__load_acquire(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define ct__load_seq_cst(p) __atomic_load_n((p), __ATOMIC_SEQ_CST)
#define ct__store_relaxed(p, v) __atomic_store_n((p), (v), __ATOMIC_RELAXED)
#define ct__store_release(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)
#define ct__store_seq_cst(p, v) __atomic_store_n((p), (v), __ATOMIC_SEQ_CST)

// Strong compare-and-swap; on failure *expp receives the current value,
// read with acquire order where the name says acquire or acq_rel.
#define ct__cas_acquire(p, expp, v)                                            \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQUIRE,         \
                                __ATOMIC_ACQUIRE)
#define ct__cas_release(p, expp, v)                                            \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_RELEASE,         \
                                __ATOMIC_RELAXED)
#define ct__cas_acq_rel(p, expp, v)                                            \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_ACQ_REL,         \
                                __ATOMIC_ACQUIRE)
#define ct__cas_relaxed(p, expp, v)                                            \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_RELAXED,         \
                                __ATOMIC_RELAXED)
#define ct__cas_seq_cst(p, expp, v)                                            \
    __atomic_compare_exchange_n((p), (expp), (v), 0, __ATOMIC_SEQ_CST,         \
                                __ATOMIC_SEQ_CST)

#define ct__swap_acq_rel(p, v) __atomic_exchange_n((p), (v), __ATOMIC_ACQ_REL)
#define ct__swap_seq_cst(p, v) __atomic_exchange_n((p), (v), __ATOMIC_SEQ_CST)
#define ct__fetch_add_relaxed(p, v)                                            \
    __atomic_fetch_add((p), (v), __ATOMIC_RELAXED)
#define ct__fetch_add_seq_cst(p, v)                                            \
    __atomic_fetch_add((p), (v), __ATOMIC_SEQ_CST)
#define ct__fetch_sub_relaxed(p, v)                                            \
    __atomic_fetch_sub((p), (v), __ATOMIC_RELAXED)
#define ct__fetch_sub_seq_cst(p, v)                                            \
    __atomic_fetch_sub((p), (v), __ATOMIC_SEQ_CST)
#define ct__fetch_sub_release(p, v)                                            \
    __atomic_fetch_sub((p), (v), __ATOMIC_RELEASE)
#define ct__fetch_and_relaxed(p, v)                                            \
    __atomic_fetch_and((p), (v), __ATOMIC_RELAXED)
#define ct__fetch_and_release(p, v)                                            \
    __atomic_fetch_and((p), (v), __ATOMIC_RELEASE)
#define ct__fetch_and_seq_cst(p, v)                                            \
    __atomic_fetch_and((p), (v), __ATOMIC_SEQ_CST)
#define ct__fetch_and_acq_rel(p, v)                                            \
    __atomic_fetch_and((p), (v), __ATOMIC_ACQ_REL)
#define ct__fetch_or_release(p, v) __atomic_fetch_or((p), (v), __ATOMIC_RELEASE)
#define ct__fetch_or_acq_rel(p, v) __atomic_fetch_or((p), (v), __ATOMIC_ACQ_REL)
#define ct__fetch_or_seq_cst(p, v) __atomic_fetch_or((p), (v), __ATOMIC_SEQ_CST)

// A full fence: orders a store before a later load to another location
// (the "announce, then check the other side" of a sleeper and a waker).
#define ct__fence_seq_cst() __atomic_thread_fence(__ATOMIC_SEQ_CST)
#define ct__fetch_add_acq_rel(p, v)                                            \
    __atomic_fetch_add((p), (v), __ATOMIC_ACQ_REL)
#define ct__fetch_sub_acq_rel(p, v)                                            \
    __atomic_fetch_sub((p), (v), __ATOMIC_ACQ_REL)

// One iteration of a busy-wait: tells the CPU we spin (x86 PAUSE, Arm
// YIELD) so the sibling hyperthread and the power manager can react.
#if defined(__x86_64__) || defined(__i386__)
#define ct__cpu_relax() __builtin_ia32_pause()
#elif defined(__aarch64__) || defined(__arm__)
#define ct__cpu_relax() __asm__ __volatile__("yield" ::: "memory")
#else
#define ct__cpu_relax() __asm__ __volatile__("" ::: "memory")
#endif

#endif
