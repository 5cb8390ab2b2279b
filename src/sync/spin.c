// The spin policy (see spin.h). A PAUSE costs ~11 ns, so PAUSE_ROUNDS
// short bursts (4, 8, 16 PAUSEs, ~0.3 us) catch a peer on another CPU
// within a fraction of a microsecond; the sched_yield rounds that follow
// let a peer on the same CPU run at once, until BUDGET_NS has passed.
#include "sync/spin.h"

#include "platform/platform.h"
#include "sync/atomic.h"

enum {
    PAUSE_ROUNDS = 3,
    BUDGET_NS = 4000,
    MAX_ROUNDS = 256,    // a bound even if the clock stood still
    BACKOFF_YIELDS = 32, // ct__backoff: yields before it starts sleeping
};

// Spin slots: 0 until first use, then the CPU count. Every spinner yields
// after its first ~0.3 us, so a runnable thread always gets a CPU, and the
// cap keeps the spinners from outnumbering the CPUs. On one CPU the PAUSE
// rounds are skipped: the awaited thread cannot run while we pause.
static int cpus;
static int spinners;

static int
cpu_count(void)
{
    int n = ct__load_relaxed(&cpus);
    if (n == 0) {
        // Racy first use is fine: every thread computes the same value.
        n = ct__os_cpu_online();
        ct__store_relaxed(&cpus, n);
    }
    return n;
}

bool
ct__spin_next(ct__spin *s)
{
    if (!s->has_slot) {
        if (s->round != 0) {
            return false;
        }
        s->round = 1;
        int max = cpu_count();
        int n = ct__load_relaxed(&spinners);
        do {
            if (n >= max) {
                return false;
            }
        } while (!ct__cas_relaxed(&spinners, &n, n + 1));
        s->has_slot = true;
        s->until = ct__clock_now_ns() + BUDGET_NS;
    } else if (++s->round > MAX_ROUNDS ||
               (s->round > PAUSE_ROUNDS &&
                (s->brief || ct__clock_now_ns() >= s->until))) {
        ct__spin_end(s);
        return false;
    }
    if (s->round <= PAUSE_ROUNDS && ct__load_relaxed(&cpus) > 1) {
        for (uint32_t i = 0; i < (2u << s->round); i++) {
            ct__cpu_relax();
        }
    } else {
        ct__os_yield();
    }
    return true;
}

void
ct__spin_end(ct__spin *s)
{
    if (s->has_slot) {
        s->has_slot = false;
        s->round = MAX_ROUNDS + 1;
        ct__fetch_sub_relaxed(&spinners, 1);
    }
}

void
ct__backoff(uint32_t *round)
{
    uint32_t r = (*round)++;
    if (r < PAUSE_ROUNDS && cpu_count() > 1) {
        for (uint32_t i = 0; i < (4u << r); i++) {
            ct__cpu_relax();
        }
    } else if (r < BACKOFF_YIELDS) {
        ct__os_yield();
    } else {
        uint32_t shift = r - BACKOFF_YIELDS;
        ct__os_sleep_ns(shift >= 10 ? 1000000 : (int64_t)1000 << shift);
    }
}

int
ct__spin_active(void)
{
    return ct__load_relaxed(&spinners);
}

void
ct__spin_after_fork(void)
{
    // Only the forking thread exists, and it is not spinning (it is in
    // fork()).
    ct__store_relaxed(&spinners, 0);
}
