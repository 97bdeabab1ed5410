/* Fast parser for blocks of word2vec text lines ("word v1 v2 ... vD").
 *
 * Compiled on first use by clime/cparse.py (any C99 compiler) and called through
 * ctypes, which releases the GIL, so several threads can parse at once.  Anything
 * unusual makes it give up on the block (return value < rows); Python then parses
 * that block line by line and names the bad line, so this file never has to
 * produce an error message.
 *
 * Numbers: a decimal with at most 19 significant digits and a power of ten within
 * 1e-22..1e22 is converted exactly (the mantissa and the power are both exact
 * doubles, so one IEEE multiplication or division rounds correctly: Clinger's
 * fast path).  Other plain decimals go to strtod.  Either way the double is then
 * rounded to float32, as float() followed by a float32 cast does.
 */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8,  1e9,  1e10, 1e11,
                                 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* Parse the token [p, end) as a decimal number.  0 on success, -1 if it is not
 * a plain decimal (sign, digits, optional dot and digits, optional exponent). */
static int parse_number(const char *p, const char *end, double *out) {
    const char *s = p;
    int neg = 0;
    if (s < end && (*s == '-' || *s == '+')) {
        neg = (*s == '-');
        s++;
    }
    uint64_t mant = 0;
    int sig = 0;       /* significant digits taken into mant */
    int exact = 1;     /* all digits fit in mant */
    long exp10 = 0;
    int digits = 0;
    while (s < end && (unsigned)(*s - '0') < 10u) {
        if (sig < 19) {
            mant = mant * 10u + (uint64_t)(*s - '0');
            if (mant) sig++;
        } else {
            exact = 0;
            exp10++;
        }
        s++;
        digits++;
    }
    if (s < end && *s == '.') {
        s++;
        while (s < end && (unsigned)(*s - '0') < 10u) {
            if (sig < 19) {
                mant = mant * 10u + (uint64_t)(*s - '0');
                if (mant) sig++;
                exp10--;
            } else {
                exact = 0;
            }
            s++;
            digits++;
        }
    }
    if (!digits) return -1;
    if (s < end && (*s == 'e' || *s == 'E')) {
        s++;
        int eneg = 0;
        if (s < end && (*s == '-' || *s == '+')) {
            eneg = (*s == '-');
            s++;
        }
        if (s >= end) return -1;
        long e = 0;
        while (s < end && (unsigned)(*s - '0') < 10u) {
            if (e < 100000) e = e * 10 + (*s - '0');
            s++;
        }
        if (s != end) return -1;
        exp10 += eneg ? -e : e;
    }
    if (s != end) return -1;
    if (exact && mant <= (1ull << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / POW10[-exp10] : v * POW10[exp10];
        *out = neg ? -v : v;
        return 0;
    }
    char small[64];
    size_t n = (size_t)(end - p);
    char *buf = n < sizeof small ? small : malloc(n + 1);
    if (!buf) return -1;
    memcpy(buf, p, n);
    buf[n] = '\0';
    char *stop;
    double v = strtod(buf, &stop);
    int ok = (stop == buf + n);
    if (buf != small) free(buf);
    if (!ok) return -1;
    *out = v;
    return 0;
}

/* Parse `n` bytes: lines separated by '\n' (no final newline), each a word (no
 * spaces), then `dim` numbers each after exactly one space; a line may end with
 * spaces and one '\r'.  Writes values[row * dim + j] (float32, finite), and the
 * words joined by '\n' into `words` (room for n bytes), its length into
 * *words_len.  Returns the number of lines parsed: fewer than `rows` means the
 * block holds something unusual (the first such line is the return value). */
long clime_parse_block(const char *buf, long n, long dim, long rows, float *values, char *words,
                       long *words_len) {
    const char *p = buf, *end = buf + n;
    char *w = words;
    long row = 0;
    for (; row < rows; row++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *eol = nl ? nl : end;
        const char *le = eol;
        if (le > p && le[-1] == '\r') le--;
        while (le > p && le[-1] == ' ') le--;
        const char *sp = memchr(p, ' ', (size_t)(le - p));
        if (!sp || sp == p) return row;  /* blank line, no values, or an empty word */
        if (memchr(p, '\r', (size_t)(sp - p))) return row;
        if (row) *w++ = '\n';
        memcpy(w, p, (size_t)(sp - p));
        w += sp - p;
        const char *q = sp + 1;
        float *out = values + row * dim;
        for (long j = 0; j < dim; j++) {
            if (q >= le) return row;  /* too few values */
            const char *te = memchr(q, ' ', (size_t)(le - q));
            if (!te) te = le;
            double v;
            if (te == q || parse_number(q, te, &v)) return row;
            float f = (float)v;
            if (!isfinite(f)) return row;
            out[j] = f;
            q = te + 1;
        }
        if (q - 1 != le) return row;  /* too many values */
        if (!nl) {
            row++;
            break;
        }
        p = nl + 1;
    }
    *words_len = (long)(w - words);
    return row;
}
