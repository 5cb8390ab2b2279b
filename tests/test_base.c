// Tests for base.h: error names and sentences, the duration helpers and
// their saturation, the monotonic clock, ct_sleep and the version string.
#include "harness/test.h"

#include <limits.h>
#include <math.h>

typedef struct code_case {
    int code;
    const char *name;
} code_case;

// Every CT_E* code base.h defines, with the name ct_err_name must give.
static const code_case all_codes[] = {
    {CT_EPERM, "CT_EPERM"},
    {CT_EINVAL, "CT_EINVAL"},
    {CT_ETIMEDOUT, "CT_ETIMEDOUT"},
    {CT_EDEADLK, "CT_EDEADLK"},
    {CT_EOVERFLOW, "CT_EOVERFLOW"},
    {CT_EAGAIN, "CT_EAGAIN"},
    {CT_ENOMEM, "CT_ENOMEM"},
    {CT_ECANCELED, "CT_ECANCELED"},
    {CT_ESTATE, "CT_ESTATE"},
    {CT_EBROKEN, "CT_EBROKEN"},
    {CT_ESHUTDOWN, "CT_ESHUTDOWN"},
    {CT_EFAILED, "CT_EFAILED"},
    {CT_EOF, "CT_EOF"},
};
#define N_CODES (sizeof all_codes / sizeof all_codes[0])

// The constant-friendly macros must stay usable in constant expressions.
_Static_assert(CT_MILLIS(10) == 10000000, "CT_MILLIS");
_Static_assert(CT_MICROS(5) == 5000, "CT_MICROS");
_Static_assert(CT_NOWAIT == 0, "CT_NOWAIT");
_Static_assert(CT_FOREVER == INT64_MAX, "CT_FOREVER");

static void
codes_are_negative_errno_values(void)
{
    // Where an errno exists the code is -errno (api.md).
    CHECK_EQ(CT_EPERM, -EPERM);
    CHECK_EQ(CT_EINVAL, -EINVAL);
    CHECK_EQ(CT_ETIMEDOUT, -ETIMEDOUT);
    CHECK_EQ(CT_EDEADLK, -EDEADLK);
    CHECK_EQ(CT_EOVERFLOW, -EOVERFLOW);
    CHECK_EQ(CT_EAGAIN, -EAGAIN);
    CHECK_EQ(CT_ENOMEM, -ENOMEM);
    CHECK_EQ(CT_ECANCELED, -ECANCELED);
    // Our own codes sit in a block below -3000, clear of every errno.
    CHECK(CT_ESTATE < -3000);
    CHECK(CT_EBROKEN < -3000);
    CHECK(CT_ESHUTDOWN < -3000);
    CHECK(CT_EFAILED < -3000);
    CHECK(CT_EOF < -3000);
    for (size_t i = 0; i < N_CODES; i++) {
        CHECK(all_codes[i].code < 0);
        for (size_t j = i + 1; j < N_CODES; j++) {
            CHECK(all_codes[i].code != all_codes[j].code);
        }
    }
}

static void
err_name_of_every_code(void)
{
    for (size_t i = 0; i < N_CODES; i++) {
        const char *name = ct_err_name(all_codes[i].code);
        CHECK(name != NULL);
        if (strcmp(name, all_codes[i].name) != 0) {
            ct_test_fail(__FILE__, __LINE__,
                         "ct_err_name(%d) = \"%s\", want %s", all_codes[i].code,
                         name, all_codes[i].name);
        }
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(name, ct_err_name(all_codes[j].code)) != 0);
        }
    }
}

static void
strerror_of_every_code(void)
{
    for (size_t i = 0; i < N_CODES; i++) {
        const char *text = ct_strerror(all_codes[i].code);
        CHECK(text != NULL);
        CHECK(text[0] != '\0');
        // A known code must not fall through to the unknown sentence.
        CHECK(strcmp(text, ct_strerror(-999999)) != 0);
        // Two codes with the same sentence could not be told apart.
        for (size_t j = 0; j < i; j++) {
            CHECK(strcmp(text, ct_strerror(all_codes[j].code)) != 0);
        }
    }
    CHECK(strstr(ct_strerror(CT_ETIMEDOUT), "timed out") != NULL);
}

static void
unknown_codes_and_success(void)
{
    static const int unknown[] = {-1000, -3000, -3006, -3999, -999999, INT_MIN};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        CHECK(strcmp(ct_err_name(unknown[i]), "CT_EUNKNOWN") == 0);
        CHECK(strcmp(ct_strerror(unknown[i]), "unknown error") == 0);
    }
    // 0 and the positive values (indices, counts) are successes.
    CHECK(strcmp(ct_err_name(0), "OK") == 0);
    CHECK(strcmp(ct_err_name(1), "OK") == 0);
    CHECK(strcmp(ct_err_name(INT_MAX), "OK") == 0);
    const char *ok = ct_strerror(0);
    CHECK(ok != NULL && ok[0] != '\0');
    CHECK(strcmp(ok, "unknown error") != 0);
    CHECK(ct_strerror(7) != NULL);
}

static void
strerror_from_many_threads_body(void)
{
    for (int round = 0; round < 200; round++) {
        for (size_t i = 0; i < N_CODES; i++) {
            CHECK(strcmp(ct_err_name(all_codes[i].code), all_codes[i].name) ==
                  0);
            CHECK(ct_strerror(all_codes[i].code) != NULL);
        }
    }
}

static void *
strerror_thread(void *arg)
{
    (void)arg;
    strerror_from_many_threads_body();
    return NULL;
}

static void
err_names_from_many_threads(void)
{
    // "Any thread may call it": no shared state that TSan would flag.
    ct_test_run_threads(4, strerror_thread, NULL, 0);
}

static void
seconds_converts_exactly(void)
{
    CHECK_EQ(ct_seconds(0.0), 0);
    CHECK_EQ(ct_seconds(0.5), 500000000);
    CHECK_EQ(ct_seconds(1.0), 1000000000);
    CHECK_EQ(ct_seconds(2.25), 2250000000LL);
    CHECK_EQ(ct_seconds(-0.5), -500000000);
    CHECK_EQ(ct_seconds(0.001), CT_MILLIS(1));
    // Python's threading.TIMEOUT_MAX on Linux is still a finite duration.
    ct_duration max = ct_seconds(9223372036.0);
    CHECK(max > INT64_C(9200000000000000000));
    CHECK(max < CT_FOREVER);
}

static void
seconds_saturates(void)
{
    CHECK_EQ(ct_seconds(1e300), CT_FOREVER);
    CHECK_EQ(ct_seconds(INFINITY), CT_FOREVER);
    // About 292 years is where int64 nanoseconds end.
    CHECK_EQ(ct_seconds(9.3e9), CT_FOREVER);
    CHECK_EQ(ct_seconds(-1e300), INT64_MIN);
    CHECK_EQ(ct_seconds(-INFINITY), INT64_MIN);
    CHECK_EQ(ct_seconds(-9.3e9), INT64_MIN);
    CHECK_EQ(ct_seconds(NAN), CT_NOWAIT);
    CHECK_EQ(ct_seconds(-NAN), CT_NOWAIT);
}

static void
to_seconds_converts(void)
{
    CHECK(ct_to_seconds(0) == 0.0);
    CHECK(ct_to_seconds(500000000) == 0.5);
    CHECK(ct_to_seconds(CT_SECONDS(3)) == 3.0);
    CHECK(ct_to_seconds(-CT_MILLIS(250)) == -0.25);
    double forever = ct_to_seconds(CT_FOREVER);
    CHECK(isinf(forever) && forever > 0);
    // One below forever is an ordinary (huge) finite value.
    double almost = ct_to_seconds(CT_FOREVER - 1);
    CHECK(!isinf(almost) && almost > 9.2e9);
    // Round trips stay within a nanosecond.
    static const ct_duration samples[] = {
        1, 999, CT_MICROS(3), CT_MILLIS(7), CT_SECONDS(12), -CT_MILLIS(42)};
    for (size_t i = 0; i < sizeof samples / sizeof samples[0]; i++) {
        ct_duration back = ct_seconds(ct_to_seconds(samples[i]));
        CHECK(back - samples[i] <= 1 && samples[i] - back <= 1);
    }
}

static void
duration_add_normal(void)
{
    CHECK_EQ(ct_duration_add(1, 2), 3);
    CHECK_EQ(ct_duration_add(CT_SECONDS(1), CT_MILLIS(500)), ct_seconds(1.5));
    CHECK_EQ(ct_duration_add(CT_MILLIS(5), -CT_MILLIS(8)), -CT_MILLIS(3));
    CHECK_EQ(ct_duration_add(0, 0), 0);
    CHECK_EQ(ct_duration_add(-7, 7), 0);
    // Exactly reaching the ends is not an overflow.
    CHECK_EQ(ct_duration_add(INT64_MAX - 10, 9), INT64_MAX - 1);
    CHECK_EQ(ct_duration_add(INT64_MIN + 10, -10), INT64_MIN);
}

static void
duration_add_saturates(void)
{
    CHECK_EQ(ct_duration_add(CT_FOREVER, 1), CT_FOREVER);
    CHECK_EQ(ct_duration_add(CT_FOREVER, 0), CT_FOREVER);
    CHECK_EQ(ct_duration_add(CT_FOREVER, CT_FOREVER), CT_FOREVER);
    CHECK_EQ(ct_duration_add(1, CT_FOREVER), CT_FOREVER);
    CHECK_EQ(ct_duration_add(CT_FOREVER - 5, 10), CT_FOREVER);
    CHECK_EQ(ct_duration_add(INT64_MAX / 2 + 1, INT64_MAX / 2 + 1), CT_FOREVER);
    CHECK_EQ(ct_duration_add(INT64_MIN, -1), INT64_MIN);
    CHECK_EQ(ct_duration_add(-1, INT64_MIN), INT64_MIN);
    CHECK_EQ(ct_duration_add(INT64_MIN, INT64_MIN), INT64_MIN);
    CHECK_EQ(ct_duration_add(INT64_MIN / 2 - 1, INT64_MIN / 2 - 1), INT64_MIN);
}

static void
duration_macros(void)
{
    CHECK_EQ(CT_SECONDS(2), INT64_C(2000000000));
    CHECK_EQ(CT_SECONDS(0.5), 500000000);
    CHECK_EQ(CT_SECONDS(0), 0);
    CHECK_EQ(CT_MILLIS(1500), INT64_C(1500000000));
    CHECK_EQ(CT_MILLIS(-1), -1000000);
    CHECK_EQ(CT_MICROS(1), 1000);
    CHECK_EQ(CT_MICROS(2500), CT_MILLIS(2) + CT_MICROS(500));
    // The integer macros widen before multiplying: no int overflow.
    int big = 3000000;
    CHECK_EQ(CT_MILLIS(big), INT64_C(3000000000000));
    CHECK_EQ(CT_MICROS(big), INT64_C(3000000000));
    CHECK_EQ(CT_NOWAIT, 0);
    CHECK_EQ(CT_FOREVER, INT64_MAX);
}

static void
monotonic_never_goes_back(void)
{
    int64_t prev = ct_monotonic_ns();
    CHECK(prev >= 0);
    for (int i = 0; i < 100000; i++) {
        int64_t now = ct_monotonic_ns();
        if (now < prev) {
            ct_test_fail(__FILE__, __LINE__, "clock went back: %lld < %lld",
                         (long long)now, (long long)prev);
        }
        prev = now;
    }
}

static void *
monotonic_thread(void *arg)
{
    (void)arg;
    monotonic_never_goes_back();
    return NULL;
}

static void
monotonic_in_threads(void)
{
    ct_test_run_threads(3, monotonic_thread, NULL, 0);
}

static void
monotonic_advances(void)
{
    // It must move at the rate of real time: compare with the harness's own
    // monotonic clock over a sleep.
    int64_t a = ct_monotonic_ns();
    int64_t ta = ct_test_now();
    ct_sleep(CT_MILLIS(20));
    int64_t b = ct_monotonic_ns();
    int64_t tb = ct_test_now();
    CHECK(b - a >= CT_MILLIS(20));
    CHECK(tb - ta >= CT_MILLIS(20));
    // Both measure the same interval, up to the scheduling noise between
    // paired reads; a wrong unit or rate would be off by far more.
    int64_t diff = (b - a) - (tb - ta);
    int64_t slack = (int64_t)(CT_MILLIS(100) * ct_test_scale());
    CHECK(diff < slack && diff > -slack);
}

static void
sleep_never_returns_early(void)
{
    static const ct_duration ds[] = {1, CT_MICROS(50), CT_MILLIS(1),
                                     CT_MILLIS(10), CT_MILLIS(30)};
    for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
        int64_t t0 = ct_monotonic_ns();
        int64_t h0 = ct_test_now();
        ct_sleep(ds[i]);
        int64_t slept = ct_monotonic_ns() - t0;
        int64_t hslept = ct_test_now() - h0;
        if (slept < ds[i] || hslept < ds[i]) {
            ct_test_fail(__FILE__, __LINE__,
                         "ct_sleep(%lld) returned after %lld ns (%lld)",
                         (long long)ds[i], (long long)slept, (long long)hslept);
        }
        // One-sided upper bound, only to catch a unit mix-up (us vs ns).
        CHECK(slept < ds[i] + (int64_t)(CT_SECONDS(2) * ct_test_scale()));
    }
}

static void
sleep_zero_or_negative_returns_at_once(void)
{
    static const ct_duration ds[] = {0, -1, -CT_SECONDS(10), INT64_MIN};
    int64_t t0 = ct_test_now();
    for (int round = 0; round < 100; round++) {
        for (size_t i = 0; i < sizeof ds / sizeof ds[0]; i++) {
            ct_sleep(ds[i]);
        }
    }
    // 400 calls that must not sleep: far below one real sleep each.
    CHECK(ct_test_now() - t0 < (int64_t)(CT_MILLIS(200) * ct_test_scale()));
}

static void
version_matches_header(void)
{
    const char *v = ct_version();
    CHECK(v != NULL);
    CHECK(strcmp(v, CT_VERSION_STRING) == 0);
    char built[32];
    snprintf(built, sizeof built, "%d.%d.%d", CT_VERSION_MAJOR,
             CT_VERSION_MINOR, CT_VERSION_PATCH);
    CHECK(strcmp(built, CT_VERSION_STRING) == 0);
    // The same string on every call.
    CHECK(strcmp(ct_version(), v) == 0);
}

CT_SUITE(base) = {
    {"codes are negative errno values", codes_are_negative_errno_values},
    {"err_name of every code", err_name_of_every_code},
    {"strerror of every code", strerror_of_every_code},
    {"unknown codes and success", unknown_codes_and_success},
    {"err names from many threads", err_names_from_many_threads},
    {"seconds converts exactly", seconds_converts_exactly},
    {"seconds saturates", seconds_saturates},
    {"to_seconds converts", to_seconds_converts},
    {"duration_add normal", duration_add_normal},
    {"duration_add saturates", duration_add_saturates},
    {"duration macros", duration_macros},
    {"monotonic never goes back", monotonic_never_goes_back},
    {"monotonic in threads", monotonic_in_threads},
    {"monotonic advances with real time", monotonic_advances},
    {"sleep never returns early", sleep_never_returns_early},
    {"sleep zero or negative returns at once",
     sleep_zero_or_negative_returns_at_once},
    {"version matches header", version_matches_header},
    {0},
};
