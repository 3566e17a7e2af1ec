/* CycleGAN's image pool (src/train/image_pool.c) against a naive reference
 * of the ImagePool rule that tracks image ids instead of pixels: the same
 * coins and slots (the counter-based RNG at counters 2i and 2i + 1), an
 * array of ids for the pool. Also: a hand-traced capacity-2 run, capacity 0,
 * the share of stored images returned once full (about 1/2), the stream
 * per (key, rank, domain), and restore's checks. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "dlt_opdef.h"
#include "dlt_test.h"
#include "image_pool.h"

#define NUMEL 3

/* image id -> pixels: id, id + 0.25, id + 0.5 (ids are exact in float) */
static void make_image(int id, float *x)
{
    for (int j = 0; j < NUMEL; j++)
        x[j] = (float)id + 0.25f * (float)j;
}

static int image_id(const float *x)
{
    for (int j = 0; j < NUMEL; j++)
        ck_assert_float_eq(x[j], floorf(x[0]) + 0.25f * (float)j);
    return (int)x[0];
}

/* The rule, naively, over ids. */
typedef struct {
    int cap, n, ids[64];
} ref_pool;

static int ref_query(ref_pool *r, int id, uint64_t seed, uint64_t stream, int i)
{
    if (r->n < r->cap) {
        r->ids[r->n++] = id;
        return id;
    }
    if (r->cap == 0)
        return id;
    double u = (double)(dlt_rng_u64(seed, stream, 2 * (uint64_t)i) >> 40) / 16777216.0;
    if (u < 0.5)
        return id;
    int slot = (int)(dlt_rng_u64(seed, stream, 2 * (uint64_t)i + 1) % (uint64_t)r->cap);
    int old = r->ids[slot];
    r->ids[slot] = id;
    return old;
}

/* q queries of batch n through both; every returned id and the final pools agree */
static void run_against_ref(int cap, int n, int q, uint64_t seed)
{
    dlt_image_pool p;
    ck_assert_int_eq(dlt_image_pool_init(&p, cap, NUMEL), DLT_OK);
    ref_pool r = {.cap = cap};
    float in[16 * NUMEL], out[16 * NUMEL];
    int next = 1, from_pool = 0;
    for (int s = 0; s < q; s++) {
        uint64_t stream = dlt_image_pool_stream(s, 1, 0);
        for (int i = 0; i < n; i++)
            make_image(next + i, in + i * NUMEL);
        dlt_image_pool_query(&p, in, n, out, seed, stream);
        for (int i = 0; i < n; i++) {
            int want = ref_query(&r, next + i, seed, stream, i);
            ck_assert_int_eq(image_id(out + i * NUMEL), want);
            from_pool += want != next + i;
        }
        next += n;
    }
    ck_assert_int_eq(p.count, r.n);
    for (int k = 0; k < r.n; k++)
        ck_assert_int_eq(image_id(p.images + k * NUMEL), r.ids[k]);
    /* once full, about half the images come from the pool */
    if (cap > 0 && q * n > 400) {
        double share = (double)from_pool / (q * n - cap);
        ck_assert(share > 0.4 && share < 0.6);
    }
    dlt_image_pool_free(&p);
}

START_TEST(against_reference)
{
    run_against_ref(50, 4, 300, 7);
    run_against_ref(5, 3, 200, 11);
    run_against_ref(1, 1, 50, 3);
    run_against_ref(0, 4, 10, 7);
}
END_TEST

/* Hand trace: capacity 2, batches of 2. The first batch fills the pool and
 * comes back unchanged; later images follow the coins printed by the RNG. */
START_TEST(hand_trace)
{
    dlt_image_pool p;
    ck_assert_int_eq(dlt_image_pool_init(&p, 2, NUMEL), DLT_OK);
    float in[2 * NUMEL], out[2 * NUMEL];
    make_image(10, in), make_image(11, in + NUMEL);
    dlt_image_pool_query(&p, in, 2, out, 5, 99);
    ck_assert_int_eq(image_id(out), 10);
    ck_assert_int_eq(image_id(out + NUMEL), 11);
    ck_assert_int_eq(p.count, 2);
    /* full: find a stream whose first coin returns a stored image and one
     * whose coin keeps the new image, and check both outcomes */
    int seen_swap = 0, seen_keep = 0;
    for (uint64_t stream = 0; stream < 64 && !(seen_swap && seen_keep); stream++) {
        dlt_image_pool q;
        ck_assert_int_eq(dlt_image_pool_init(&q, 2, NUMEL), DLT_OK);
        ck_assert_int_eq(dlt_image_pool_restore(&q, 2, NUMEL, p.images, "test"), DLT_OK);
        make_image(20, in);
        dlt_image_pool_query(&q, in, 1, out, 5, stream);
        float u = dlt_rng_uniform(5, stream, 0);
        int slot = (int)(dlt_rng_u64(5, stream, 1) % 2);
        if (u >= 0.5f) {
            ck_assert_int_eq(image_id(out), 10 + slot); /* the stored one */
            ck_assert_int_eq(image_id(q.images + slot * NUMEL), 20);
            ck_assert_int_eq(image_id(q.images + (1 - slot) * NUMEL), 11 - slot);
            seen_swap = 1;
        } else {
            ck_assert_int_eq(image_id(out), 20); /* the new one, pool untouched */
            ck_assert_int_eq(image_id(q.images), 10);
            ck_assert_int_eq(image_id(q.images + NUMEL), 11);
            seen_keep = 1;
        }
        dlt_image_pool_free(&q);
    }
    ck_assert(seen_swap && seen_keep);
    dlt_image_pool_free(&p);
}
END_TEST

START_TEST(streams_and_errors)
{
    /* every (key, rank, domain) has its own stream */
    uint64_t s[8];
    int k = 0;
    for (int key = 0; key < 2; key++)
        for (int rank = 0; rank < 2; rank++)
            for (int dom = 0; dom < 2; dom++)
                s[k++] = dlt_image_pool_stream(key, rank, dom);
    for (int i = 0; i < 8; i++)
        for (int j = i + 1; j < 8; j++)
            ck_assert(s[i] != s[j]);
    dlt_image_pool p;
    ck_assert_int_eq(dlt_image_pool_init(&p, -1, NUMEL), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_image_pool_init(&p, 2, NUMEL), DLT_OK);
    float x[3 * NUMEL] = {0};
    ck_assert_int_eq(dlt_image_pool_restore(&p, 3, NUMEL, x, "/cyclegan/pool_a"), DLT_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(dlt_errmsg(), "/cyclegan/pool_a"));
    ck_assert_int_eq(dlt_image_pool_restore(&p, 1, NUMEL + 1, x, "x"), DLT_ERR_INVALID);
    ck_assert_int_eq(dlt_image_pool_restore(&p, 1, NUMEL, x, "x"), DLT_OK);
    ck_assert_int_eq(p.count, 1);
    dlt_image_pool_free(&p);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("image_pool");
    TCase *tc = tcase_create("image_pool");
    tcase_add_test(tc, against_reference);
    tcase_add_test(tc, hand_trace);
    tcase_add_test(tc, streams_and_errors);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
