// Lesson 8: passing arguments to threads, and taking turns. Each thread gets
// its own struct (Python's args=(...)): what to print, how many, whose turn
// it is. Left alone, two printing threads interleave at the scheduler's whim;
// here a condition and a shared `turn` make them alternate exactly:
// 1 a 2 b 3 c ...
// Usage: lesson8_interleave [count, 1-26]
#include <cthreading.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct turns {
    ct_lock lock;
    ct_condition changed; // notified whenever turn changes
    int turn;             // 0: numbers, 1: letters; guarded by lock
} turns;

// One per thread, like the tuple passed as args=(...).
typedef struct printer {
    turns *t;
    int me;    // this thread's turn number
    char kind; // 'n' prints 1, 2, 3...; 'l' prints a, b, c...
    int count;
} printer;

static int
print_items(void *arg)
{
    printer *p = arg;
    turns *t = p->t;
    for (int i = 0; i < p->count; i++) {
        int rc = 0;
        CT_WITH_LOCK(&t->lock) {
            while (t->turn != p->me && rc == 0) { // re-check after waking
                rc = ct_condition_wait(&t->changed, CT_SECONDS(5));
            }
            if (rc != 0) {
                break;
            }
            if (p->kind == 'n') {
                printf(i == 0 ? "%d" : " %d", i + 1);
            } else {
                printf(" %c", 'a' + i);
            }
            t->turn = 1 - p->me; // the other thread's turn
            (void)ct_condition_notify_all(&t->changed);
        }
        if (rc != 0) {
            return rc; // CT_ETIMEDOUT: the other thread is gone
        }
    }
    return 0;
}

int
main(int argc, char **argv)
{
    int count = argc > 1 ? atoi(argv[1]) : 5;
    if (count < 1 || count > 26) {
        fprintf(stderr, "usage: %s [count, 1-26]\n", argv[0]);
        return 2;
    }
    static turns t = {.lock = CT_LOCK_INIT,
                      .changed = CT_CONDITION_INIT(&t.lock)};
    printer args[2] = {
        {.t = &t, .me = 0, .kind = 'n', .count = count},
        {.t = &t, .me = 1, .kind = 'l', .count = count},
    };
    ct_thread *th[2];
    for (int i = 0; i < 2; i++) {
        ct_thread_opts opts = {.name = i == 0 ? "numbers" : "letters"};
        if (ct_thread_new(&th[i], print_items, &args[i], &opts) != 0 ||
            ct_thread_start(th[i]) != 0) {
            return 1;
        }
    }
    for (int i = 0; i < 2; i++) {
        if (ct_thread_join(th[i], CT_FOREVER) != 0) {
            return 1;
        }
        ct_thread_free(th[i]);
    }
    printf("\n");
    return 0;
}
