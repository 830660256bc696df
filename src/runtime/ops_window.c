/* PLACEHOLDER while the operators are written (issue 4): every function refuses. */
#include "core/error.h"
#include "runtime/task_internal.h"

eddy_err eddy__op_window_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_sliding_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_session_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_suppress(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

