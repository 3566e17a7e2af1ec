/* The model summary and FLOP count on small MLPs: exact parameter counts,
 * FLOPs = 2 M N K per matmul plus one per element of each elementwise op and
 * reduction, gradient nodes left out, the plan's memory in human units. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_ops.h"
#include "dlt_test.h"

/* The whitespace-separated fields of the table line that starts with `first`. */
static int find_row(const char *text, const char *first, char fields[8][64])
{
    const char *line = text;
    while (line && *line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char buf[512];
        snprintf(buf, sizeof buf, "%.*s", (int)len, line);
        int n = 0;
        for (char *tok = strtok(buf, " "); tok && n < 8; tok = strtok(NULL, " "))
            snprintf(fields[n++], 64, "%s", tok);
        if (n > 0 && strcmp(fields[0], first) == 0)
            return n;
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static void assert_row(const char *text, const char *scope, const char *shape, const char *nodes,
                       const char *params, const char *flops)
{
    char f[8][64];
    int n = find_row(text, scope, f);
    ck_assert_msg(n == 5, "no 5-field row '%s' in:\n%s", scope, text);
    ck_assert_str_eq(f[1], shape);
    ck_assert_str_eq(f[2], nodes);
    ck_assert_str_eq(f[3], params);
    ck_assert_str_eq(f[4], flops);
}

/* "123" "B" below 1 KiB, else "1.25" "KiB" */
static void bytes_fields(size_t b, char want[2][64])
{
    if (b < 1024) {
        snprintf(want[0], 64, "%zu", b);
        snprintf(want[1], 64, "B");
    } else {
        ck_assert_uint_lt(b, 1024 * 1024);
        snprintf(want[0], 64, "%.2f", (double)b / 1024);
        snprintf(want[1], 64, "KiB");
    }
}

static char *summary_text(dlt_graph *g, const dlt_plan *p)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    ck_assert_ptr_nonnull(f);
    dlt_graph_summary(g, p, f);
    fclose(f);
    return buf;
}

START_TEST(mlp_summary_rows_totals_and_memory)
{
    const int n = 4, din = 5, dh = 7, dout = 3;
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[2] = {n, din}, w1s[2] = {dh, din}, b1s[1] = {dh}, w2s[2] = {dout, dh}, b2s[1] = {dout};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_scope_push(g, "encoder");
    dlt_scope_push(g, "fc1");
    dlt_t w1 = dlt_param(g, "weight", 2, w1s, dlt_init_uniform(-1, 1));
    dlt_t b1 = dlt_param(g, "bias", 1, b1s, dlt_init_uniform(-1, 1));
    dlt_buffer(g, "running_mean", 1, b1s, dlt_init_const(0));
    dlt_t h = dlt_relu(g, dlt_linear(g, x, w1, b1));
    dlt_scope_pop(g);
    dlt_scope_pop(g);
    dlt_scope_push(g, "head");
    dlt_t w2 = dlt_param(g, "weight", 2, w2s, dlt_init_uniform(-1, 1));
    dlt_t b2 = dlt_param(g, "bias", 1, b2s, dlt_init_uniform(-1, 1));
    dlt_t y = dlt_linear(g, h, w2, b2);
    dlt_scope_pop(g);
    dlt_scope_push(g, "spare");
    dlt_param(g, "w", 2, (const int64_t[]){2, 2}, dlt_init_const(0)); /* never used */
    dlt_scope_pop(g);
    dlt_t loss = dlt_sum(g, dlt_mul(g, y, y), 0, NULL, 0);
    ck_assert_msg(dlt_graph_status(g) == DLT_OK, "%s", dlt_graph_errmsg(g));

    /* matmul 2*4*7*5 = 280, bias add 28, relu 28 */
    const double f_fc1 = 2.0 * n * dh * din + n * dh + n * dh;
    /* matmul 2*4*3*7 = 168, bias add 12 */
    const double f_head = 2.0 * n * dout * dh + n * dout;
    /* y*y 12, sum 12 */
    const double f_loss = 2.0 * n * dout;
    ck_assert_double_eq(dlt_graph_flops(g, 1, &y), f_fc1 + f_head);
    ck_assert_double_eq(dlt_graph_flops(g, 1, &loss), f_fc1 + f_head + f_loss);
    ck_assert_double_eq(dlt_graph_flops(g, 1, &h), f_fc1);
    dlt_t both[2] = {y, h}; /* shared nodes count once */
    ck_assert_double_eq(dlt_graph_flops(g, 2, both), f_fc1 + f_head);

    int np;
    dlt_t *params, *grads;
    ck_assert_int_eq(dlt_grad_params(g, loss, &np, &params, &grads), DLT_OK);
    ck_assert_int_eq(np, 5);
    /* a training step costs more than the forward pass: about 3x for matmuls */
    double train = dlt_graph_flops(g, np, grads);
    ck_assert_double_gt(train, 2 * (f_fc1 + f_head));
    dlt_plan *p;
    dlt_plan_opts o = {.ngrads = np, .grad_params = params, .grad_values = grads};
    ck_assert_int_eq(dlt_plan_create(g, 1, &loss, &o, &p), DLT_OK);

    char *text = summary_text(g, p);
    if (getenv("DLT_TEST_VERBOSE"))
        fputs(text, stderr);
    /* scope, output of its last node, nodes, parameters (+ buffers), forward FLOPs */
    assert_row(text, "encoder.fc1", "f32[4,7]", "3", "49", "336");
    assert_row(text, "head", "f32[4,3]", "2", "24", "180");
    assert_row(text, "spare", "-", "0", "4", "0");
    assert_row(text, "(top)", "f32[]", "2", "0", "24");
    ck_assert_ptr_null(strstr(text, "\ngrad")); /* gradient nodes have no rows */
    ck_assert_ptr_null(strstr(text, "accum"));
    /* rows in build order */
    ck_assert(strstr(text, "encoder.fc1") < strstr(text, "head"));
    ck_assert(strstr(text, "head") < strstr(text, "(top)"));
    ck_assert_ptr_nonnull(strstr(text, "\nTotal params: 77 (308 B)\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nTrainable params: 70\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nNon-trainable params: 7\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nForward FLOPs per batch: 540 (540)\n"));

    /* memory: parameters and gradients are the flat buffers (each parameter padded
     * to 16 floats: 16 + 48 + 16 + 32 + 16 = 128 floats) */
    dlt_mem_report m;
    dlt_plan_memory(p, &m);
    ck_assert_uint_eq(m.params_bytes, 128 * 4);
    char f[8][64];
    ck_assert_int_eq(find_row(text, "parameters", f), 3);
    ck_assert_str_eq(f[1], "512");
    ck_assert_str_eq(f[2], "B");
    ck_assert_int_eq(find_row(text, "gradients", f), 3);
    ck_assert_str_eq(f[1], "512");
    ck_assert_int_eq(find_row(text, "inputs", f), 3);
    ck_assert_str_eq(f[1], "128"); /* x: 80 bytes, 64-byte aligned */
    char want[2][64];
    ck_assert_int_eq(find_row(text, "activations", f), 4);
    bytes_fields(m.arena_bytes, want);
    ck_assert_str_eq(f[2], want[0]);
    ck_assert_str_eq(f[3], want[1]);
    ck_assert_int_eq(find_row(text, "without", f), 4);
    bytes_fields(m.activations_bytes, want);
    ck_assert_uint_ge(m.activations_bytes, m.arena_bytes);
    ck_assert_str_eq(f[2], want[0]);
    ck_assert_str_eq(f[3], want[1]);
    free(text);

    /* without a plan: no memory section */
    text = summary_text(g, NULL);
    ck_assert_ptr_null(strstr(text, "parameters "));
    ck_assert_ptr_nonnull(strstr(text, "Forward FLOPs per batch: 540 (540)"));
    free(text);
    dlt_plan_free(p);
    free(params), free(grads);
    dlt_graph_free(g);
}
END_TEST

START_TEST(summary_uses_human_units)
{
    dlt_graph *g = dlt_graph_create(1);
    int64_t xs[2] = {8, 1234}, ws[2] = {1000, 1234};
    dlt_t x = dlt_input(g, "x", DLT_F32, 2, xs);
    dlt_scope_push(g, "proj");
    dlt_t w = dlt_param(g, "weight", 2, ws, dlt_init_const(0));
    dlt_t y = dlt_matmul(g, x, w, 0, 1);
    dlt_scope_pop(g);
    dlt_plan *p;
    ck_assert_int_eq(dlt_plan_create(g, 1, &y, NULL, &p), DLT_OK);
    char *text = summary_text(g, p);
    /* 2 * 8 * 1000 * 1234 = 19,744,000 FLOPs; 1,234,000 floats = 4,936,000 B = 4.71 MiB */
    ck_assert_ptr_nonnull(strstr(text, "\nTotal params: 1,234,000 (4.71 MiB)\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nForward FLOPs per batch: 19.74 M (19744000)\n"));
    char f[8][64];
    ck_assert_int_eq(find_row(text, "proj", f), 6);
    ck_assert_str_eq(f[1], "f32[8,1000]");
    ck_assert_str_eq(f[3], "1,234,000");
    ck_assert_str_eq(f[4], "19.74");
    ck_assert_str_eq(f[5], "M");
    ck_assert_int_eq(find_row(text, "parameters", f), 3);
    ck_assert_str_eq(f[1], "4.71");
    ck_assert_str_eq(f[2], "MiB");
    ck_assert_int_eq(find_row(text, "activations", f), 4);
    ck_assert_str_eq(f[2], "31.25");
    ck_assert_str_eq(f[3], "KiB"); /* 8 x 1000 floats */
    free(text);
    dlt_plan_free(p);
    dlt_graph_free(g);
}
END_TEST

int main(void)
{
    dlt_set_num_threads(2);
    Suite *s = suite_create("summary");
    TCase *tc = tcase_create("summary");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mlp_summary_rows_totals_and_memory);
    tcase_add_test(tc, summary_uses_human_units);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
