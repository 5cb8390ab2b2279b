// One line per test file: tests/test_<unit>.c defines CT_SUITE(<unit>).
// runner.c includes this list to build its table of suites.
CT_SUITE_ENTRY(base)
CT_SUITE_ENTRY(platform)
CT_SUITE_ENTRY(parking_lot)
CT_SUITE_ENTRY(lock)
CT_SUITE_ENTRY(rlock)
CT_SUITE_ENTRY(condition)
CT_SUITE_ENTRY(semaphore)
CT_SUITE_ENTRY(event)
CT_SUITE_ENTRY(barrier)
CT_SUITE_ENTRY(scope)
