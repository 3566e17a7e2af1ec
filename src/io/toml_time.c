/* TOML date-times: offset and local date-times, local dates and times,
 * checked against the calendar. */
#include "toml_impl.h"

#include <string.h>


static bool ndigits(const dlt_tp *p, size_t at, int n, int *val)
{
    int v = 0;
    for (int k = 0; k < n; k++) {
        if (at + (size_t)k >= p->n)
            return false;
        int c = (unsigned char)p->s[at + (size_t)k];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *val = v;
    return true;
}

static int chr(const dlt_tp *p, size_t at) { return at < p->n ? (unsigned char)p->s[at] : -1; }

bool dlt_tp_at_time(const dlt_tp *p, size_t at)
{
    int d;
    return ndigits(p, at, 2, &d) && at + 2 < p->n && p->s[at + 2] == ':';
}

bool dlt_tp_at_date(const dlt_tp *p, size_t at)
{
    int d;
    return ndigits(p, at, 4, &d) && at + 4 < p->n && p->s[at + 4] == '-';
}

static int days_in_month(int y, int m)
{
    static const int dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        return 29;
    return dm[m - 1];
}

/* HH:MM:SS[.frac] at *k. */
static dlt_status parse_time(dlt_tp *p, size_t *k, dlt_toml_datetime *dt)
{
    size_t a = *k;
    if (!ndigits(p, a, 2, &dt->hour) || chr(p, a + 2) != ':' || !ndigits(p, a + 3, 2, &dt->minute) ||
        chr(p, a + 5) != ':' || !ndigits(p, a + 6, 2, &dt->second))
        return dlt_tp_err(p, a, "expected a time as HH:MM:SS");
    if (dt->hour > 23 || dt->minute > 59 || dt->second > 60)
        return dlt_tp_err(p, a, "time %.8s is out of range", p->s + a);
    a += 8;
    if (a < p->n && p->s[a] == '.') {
        a++;
        int nd = 0, ns = 0;
        while (a < p->n && p->s[a] >= '0' && p->s[a] <= '9') {
            if (nd < 9)
                ns = ns * 10 + (p->s[a] - '0');
            nd++;
            a++;
        }
        if (nd == 0)
            return dlt_tp_err(p, a, "expected a digit after the decimal point of the seconds");
        for (int j = nd; j < 9; j++)
            ns *= 10;
        dt->nanosecond = ns;
    }
    *k = a;
    return DLT_OK;
}

dlt_status dlt_tp_datetime(dlt_tp *p, dlt_toml_value **out)
{
    size_t at = p->i, k = at;
    dlt_toml_datetime dt = {0};
    dlt_toml_type type;
    dlt_status st;
    if (dlt_tp_at_date(p, at)) {
        if (dlt_tp_peek(p, 4) != '-' || !ndigits(p, at + 5, 2, &dt.month) || dlt_tp_peek(p, 7) != '-' ||
            !ndigits(p, at + 8, 2, &dt.day))
            return dlt_tp_err(p, at, "expected a date as YYYY-MM-DD");
        ndigits(p, at, 4, &dt.year);
        if (dt.month < 1 || dt.month > 12 || dt.day < 1 || dt.day > days_in_month(dt.year, dt.month))
            return dlt_tp_err(p, at, "date %.10s does not exist", p->s + at);
        k = at + 10;
        type = DLT_TOML_DATE_LOCAL;
        int c = k < p->n ? (unsigned char)p->s[k] : -1;
        /* a space separates date and time only when a time follows */
        if (c == 'T' || c == 't' || (c == ' ' && dlt_tp_at_time(p, k + 1))) {
            k++;
            if ((st = parse_time(p, &k, &dt)))
                return st;
            type = DLT_TOML_DATETIME_LOCAL;
            c = k < p->n ? (unsigned char)p->s[k] : -1;
            if (c == 'Z' || c == 'z') {
                k++;
                type = DLT_TOML_DATETIME;
            } else if (c == '+' || c == '-') {
                int oh, om;
                if (!ndigits(p, k + 1, 2, &oh) || k + 3 >= p->n || p->s[k + 3] != ':' || !ndigits(p, k + 4, 2, &om))
                    return dlt_tp_err(p, k, "expected a time offset as +HH:MM or -HH:MM");
                if (oh > 23 || om > 59)
                    return dlt_tp_err(p, k, "time offset %.6s is out of range", p->s + k);
                dt.offset_minutes = (c == '-' ? -1 : 1) * (oh * 60 + om);
                k += 6;
                type = DLT_TOML_DATETIME;
            }
        }
    } else {
        if ((st = parse_time(p, &k, &dt)))
            return st;
        type = DLT_TOML_TIME_LOCAL;
    }
    size_t len = k - at;
    if (len < sizeof dt.text) {
        memcpy(dt.text, p->s + at, len);
        dt.text[len] = '\0';
    } else {
        /* only an overlong fraction gets here: keep nanoseconds */
        size_t dot = at;
        while (p->s[dot] != '.')
            dot++;
        size_t fe = dot + 1;
        while (fe < k && p->s[fe] >= '0' && p->s[fe] <= '9')
            fe++;
        snprintf(dt.text, sizeof dt.text, "%.*s%09d%.*s", (int)(dot + 1 - at), p->s + at, dt.nanosecond,
                 (int)(k - fe), p->s + fe);
    }
    dlt_toml_value *v = dlt_tp_node(p, type, at);
    if (!v)
        return dlt_tp_nomem();
    v->dt = dt;
    p->i = k;
    *out = v;
    return DLT_OK;
}
