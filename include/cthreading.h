// cthreading: Python's threading model in C11. This umbrella header includes
// every concept's header; each also stands alone.
#ifndef CTHREADING_H
#define CTHREADING_H

#include "cthreading/base.h"
#include "cthreading/barrier.h"
#include "cthreading/condition.h"
#include "cthreading/event.h"
#include "cthreading/executor.h"
#include "cthreading/future.h"
#include "cthreading/gil.h"
#include "cthreading/local.h"
#include "cthreading/lock.h"
#include "cthreading/queue.h"
#include "cthreading/rlock.h"
#include "cthreading/scope.h"
#include "cthreading/semaphore.h"
#include "cthreading/thread.h"
#include "cthreading/timer.h"

#endif
