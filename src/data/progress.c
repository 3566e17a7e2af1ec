/* Progress bar for the converters, written only to the stream the caller gives. */
#include "convert_internal.h"
#include "shard_internal.h"

#include <unistd.h>

static void draw(dlt_progress *p, double now, int final)
{
    double el = now - p->t0, rate = el > 0 ? (double)p->done / el : 0;
    int pct = p->total > 0 ? (int)(100 * p->done / p->total) : 100;
    if (p->tty) {
        char bar[31];
        int fill = pct * 30 / 100;
        for (int i = 0; i < 30; i++)
            bar[i] = i < fill ? '#' : '.';
        bar[30] = '\0';
        fprintf(p->f, "\r%-12s [%s] %3d%% %lld/%lld  %.0f/s  %.1fs%s", p->label, bar, pct,
                (long long)p->done, (long long)p->total, rate, el, final ? "\n" : "");
    } else {
        fprintf(p->f, "%s: %lld/%lld (%d%%) %.0f/s %.1fs%s\n", p->label, (long long)p->done,
                (long long)p->total, pct, rate, el, final ? " done" : "");
    }
    fflush(p->f);
    p->last = now;
}

void dlt_progress_start(dlt_progress *p, FILE *f, const char *label, int64_t total)
{
    p->f = f;
    p->tty = f && isatty(fileno(f));
    p->label = label;
    p->total = total;
    p->done = 0;
    p->t0 = p->last = dlt_data_now();
    if (p->f && p->tty)
        draw(p, p->t0, 0);
}

void dlt_progress_add(dlt_progress *p, int64_t n)
{
    p->done += n;
    if (!p->f)
        return;
    double now = dlt_data_now();
    if (now - p->last >= (p->tty ? 0.1 : 10.0))
        draw(p, now, 0);
}

void dlt_progress_end(dlt_progress *p)
{
    if (p->f)
        draw(p, dlt_data_now(), 1);
}
