// The spin-then-park policy, shared by every primitive: a waiter may spin a
// bounded number of rounds (a few PAUSE bursts, then sched_yield) before it
// sleeps, which turns a ~32 us cross-CPU wake-up into a sub-microsecond
// hand-off. Spinning needs a free "spin slot": at most ncpu threads spin at
// once, and each yields the CPU every round after the first ~0.3 us, so
// spinners never starve the thread that will wake them, and threads that
// outnumber the cores park instead of spinning.
#ifndef CT_SYNC_SPIN_H
#define CT_SYNC_SPIN_H

#include <stdbool.h>
#include <stdint.h>

typedef struct ct__spin {
    uint32_t round;
    bool has_slot;
    int64_t until; // monotonic ns at which the budget runs out
    bool brief;    // the PAUSE rounds only, no yields
} ct__spin;

#define CT__SPIN_INIT                                                          \
    {                                                                          \
        0, false, 0, false                                                     \
    }
#define CT__SPIN_INIT_BRIEF                                                    \
    {                                                                          \
        0, false, 0, true                                                      \
    }

// Waits one round and returns true, or returns false when the caller should
// park instead (budget used up, or no spin slot free). Once it has returned
// false it keeps returning false. The budget is 4 us of waiting, measured
// on the clock: a sched_yield costs 0.2 us on one host and 0.7 us on
// another, so a count of rounds would not bound the CPU a waiter burns.
bool ct__spin_next(ct__spin *s);
// Gives back the spin slot; call it when the spin loop ends early (the
// awaited state arrived). Harmless when no slot is held.
void ct__spin_end(ct__spin *s);
// Waits one step for a peer that is in the middle of a short operation on
// shared state (a queue slot it has claimed but not yet filled or freed):
// a few PAUSE bursts, then yields, then sleeps that double up to 1 ms, so
// a peer that was preempted mid-operation costs the waiter little CPU.
// `*round` starts at 0 and counts the steps.
void ct__backoff(uint32_t *round);
// In a child of fork(): forgets the slots of threads that no longer exist.
void ct__spin_after_fork(void);
// Returns the number of spin slots in use (for tests: 0 when idle).
int ct__spin_active(void);

#endif
