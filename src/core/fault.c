/* I/O fault injection (fault.h). */
#include "core/fault.h"

#include <stdatomic.h>

typedef struct fault_plan {
    _Atomic uint64_t countdown; /* 0: off */
    _Atomic int errnum;
    _Atomic int persistent;
    _Atomic int tripped;
} fault_plan;

static fault_plan plans[EDDY_FAULT_KINDS];

void eddy__fault_set(eddy__fault_kind kind, uint64_t nth, int errnum, int persistent)
{
    fault_plan *plan = &plans[kind];
    atomic_store(&plan->errnum, errnum);
    atomic_store(&plan->persistent, persistent);
    atomic_store(&plan->tripped, 0);
    atomic_store(&plan->countdown, nth);
}

int eddy__fault_check(eddy__fault_kind kind)
{
    fault_plan *plan = &plans[kind];
    if (atomic_load_explicit(&plan->tripped, memory_order_relaxed))
        return atomic_load(&plan->errnum);
    uint64_t left = atomic_load_explicit(&plan->countdown, memory_order_relaxed);
    while (left > 0) {
        if (atomic_compare_exchange_weak(&plan->countdown, &left, left - 1)) {
            if (left != 1)
                return 0;
            if (atomic_load(&plan->persistent))
                atomic_store(&plan->tripped, 1);
            return atomic_load(&plan->errnum);
        }
    }
    return 0;
}
