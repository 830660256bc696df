/* PLACEHOLDER while the operators are written (issue 4): every function refuses. */
#include "core/error.h"
#include "runtime/task_internal.h"

eddy_err eddy__op_stream_join_window(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_stream_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_table_join(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

eddy_err eddy__op_cogroup_aggregate(eddy__task *task, uint32_t node, const eddy__flow *in)
{
    (void)task, (void)in;
    return eddy__fail(EDDY_ERR_STATE, "processor %s: not built yet", eddy__node_at(task, node)->name);
}

