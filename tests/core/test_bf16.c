/* The bf16 conversions of src/core/dlt_bf16.h: hand-computed cases (ties to
 * even, overflow to infinity, NaN, denormals, signed zero), then random bit
 * patterns against an independent reference that picks the nearer of the two
 * bf16 neighbours in double arithmetic. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "dlt_bf16.h"
#include "dlt_test.h"

static uint16_t conv(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return dlt_f32_to_bf16(x);
}

static uint32_t back(uint16_t h)
{
    float x = dlt_bf16_to_f32(h);
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    return u;
}

START_TEST(hand_computed_cases)
{
    static const struct {
        uint32_t f32;
        uint16_t bf16;
        const char *why;
    } cases[] = {
        {0x3f800000u, 0x3f80, "1.0 is exact"},
        {0x3f808000u, 0x3f80, "1 + 2^-8: a tie, the kept bit is even (0): down"},
        {0x3f818000u, 0x3f82, "1 + 3*2^-8: a tie, the kept bit is odd (1): up"},
        {0x3f807fffu, 0x3f80, "just below the halfway point: down"},
        {0x3f808001u, 0x3f81, "just above the halfway point: up"},
        {0xbf808000u, 0xbf80, "-(1 + 2^-8): ties to even, sign kept"},
        {0xbf818000u, 0xbf82, "-(1 + 3*2^-8): ties to even, sign kept"},
        {0x3fffffffu, 0x4000, "carry out of the fraction bumps the exponent"},
        {0x40490fdbu, 0x4049, "pi rounds down to 3.140625"},
        {0x7f7fffffu, 0x7f80, "FLT_MAX rounds to infinity"},
        {0x7f7f8000u, 0x7f80, "the tie above the largest bf16 (odd) rounds to infinity"},
        {0x7f7f7fffu, 0x7f7f, "below that tie: the largest finite bf16"},
        {0xff7fffffu, 0xff80, "-FLT_MAX rounds to -infinity"},
        {0x7f800000u, 0x7f80, "infinity stays infinity"},
        {0xff800000u, 0xff80, "-infinity stays -infinity"},
        {0x7fc00000u, 0x7fc0, "quiet NaN"},
        {0x7f800001u, 0x7fc0, "NaN with the payload in the low half (rounding alone: infinity)"},
        {0x7fffffffu, 0x7fc0, "NaN with all fraction bits (rounding alone: -0)"},
        {0xffc00001u, 0x7fc0, "negative NaN: the canonical quiet NaN, as torch"},
        {0x00000000u, 0x0000, "+0"},
        {0x80000000u, 0x8000, "-0 keeps its sign"},
        {0x00000001u, 0x0000, "the smallest f32 denormal rounds to +0"},
        {0x80000001u, 0x8000, "its negative rounds to -0"},
        {0x00008000u, 0x0000, "denormal tie, kept bit even: down to 0"},
        {0x00018000u, 0x0002, "denormal tie, kept bit odd: up"},
        {0x00008001u, 0x0001, "above the tie: the smallest bf16 denormal 2^-133"},
        {0x00400000u, 0x0040, "2^-127, a denormal exact in bf16"},
        {0x007fffffu, 0x0080, "the largest f32 denormal rounds up to 2^-126, the smallest normal"},
        {0x00800000u, 0x0080, "2^-126 is exact"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint16_t got = conv(cases[i].f32);
        ck_assert_msg(got == cases[i].bf16, "0x%08x -> 0x%04x, expected 0x%04x (%s)", cases[i].f32,
                      got, cases[i].bf16, cases[i].why);
    }
    /* bf16 -> f32 puts the 16 bits on top */
    ck_assert_float_eq(dlt_bf16_to_f32(0x3f80), 1.0f);
    ck_assert_float_eq(dlt_bf16_to_f32(0x4049), 3.140625f);
    ck_assert_float_eq(dlt_bf16_to_f32(0xc0a0), -5.0f);
    ck_assert_float_eq(dlt_bf16_to_f32(0x0001), ldexpf(1.0f, -133));
    ck_assert(dlt_bf16_to_f32(0x8000) == 0.0f && signbit(dlt_bf16_to_f32(0x8000)));
    ck_assert(isinf(dlt_bf16_to_f32(0x7f80)) && dlt_bf16_to_f32(0x7f80) > 0);
    ck_assert(isinf(dlt_bf16_to_f32(0xff80)) && dlt_bf16_to_f32(0xff80) < 0);
    ck_assert(isnan(dlt_bf16_to_f32(0x7fc0)));
    printf("ok   %zu hand-computed conversions\n", sizeof cases / sizeof cases[0]);
}
END_TEST

/* Every bf16 value that is not a NaN survives bf16 -> f32 -> bf16. */
START_TEST(round_trip_of_every_bf16)
{
    int n = 0;
    for (uint32_t h = 0; h < 65536; h++) {
        if ((h & 0x7fff) > 0x7f80)
            continue;
        ck_assert_uint_eq(back((uint16_t)h) & 0xffffu, 0);
        ck_assert_msg(conv(back((uint16_t)h)) == h, "0x%04x does not round-trip", h);
        n++;
    }
    printf("ok   %d bf16 values round-trip\n", n);
}
END_TEST

/* Nearest of the two bf16 neighbours of x, by their distance in double (exact:
 * both differences have at most 24 significant bits); ties to the even one. */
static uint16_t reference(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    if (isnan(x))
        return 0x7fc0;
    uint16_t lo = (uint16_t)(bits >> 16), hi = (uint16_t)(lo + 1); /* toward zero, away from zero */
    if ((bits & 0xffffu) == 0)
        return lo;
    double dl = fabs((double)x - (double)dlt_bf16_to_f32(lo));
    /* away from zero past the largest finite value: infinity, at the distance
     * that value's next step would have */
    double vh =
        (hi & 0x7fff) == 0x7f80 ? copysign(ldexp(1.0, 128), x) : (double)dlt_bf16_to_f32(hi);
    double dh = fabs(vh - (double)x);
    if (dl != dh)
        return dl < dh ? lo : hi;
    return (lo & 1) ? hi : lo;
}

START_TEST(random_bit_patterns_against_reference)
{
    uint64_t z = 0x1234567;
    int n = 0;
    for (int i = 0; i < 2000000; i++) {
        z += 0x9e3779b97f4a7c15ull;
        uint64_t t = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
        t = (t ^ (t >> 27)) * 0x94d049bb133111ebull;
        t ^= t >> 31;
        uint32_t bits = (uint32_t)t;
        /* every fourth pattern has its low half near the halfway point */
        if (i % 4 == 1)
            bits = (bits & 0xffff0000u) | (0x7ffeu + (uint32_t)(t >> 40) % 4);
        uint16_t got = conv(bits), want = reference(bits);
        ck_assert_msg(got == want, "0x%08x -> 0x%04x, reference 0x%04x", bits, got, want);
        n++;
    }
    printf("ok   %d random f32 bit patterns agree with the reference\n", n);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bf16");
    TCase *tc = tcase_create("bf16");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hand_computed_cases);
    tcase_add_test(tc, round_trip_of_every_bf16);
    tcase_add_test(tc, random_bit_patterns_against_reference);
    suite_add_tcase(s, tc);
    return dlt_test_run(s);
}
