/* Long double parsing, addition and formatting with Redis's rules (string2ld, ld2string in
 * LD_STR_HUMAN mode), so INCRBYFLOAT gives the same digits as Redis. */
#include <errno.h>
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_LONG_DOUBLE_CHARS (5 * 1024)

/* Parses s[0..len) as Redis's string2ld does; returns 1 on success. */
static int parse_ld(const char *s, size_t len, long double *out) {
    char buf[MAX_LONG_DOUBLE_CHARS];
    char *end;
    if (len == 0 || len >= sizeof(buf)) return 0;
    memcpy(buf, s, len);
    buf[len] = '\0';
    if (strlen(buf) != len) return 0; /* an embedded NUL: Redis rejects it */
    errno = 0;
    long double v = strtold(buf, &end);
    if (isspace((unsigned char)buf[0]) || *end != '\0' ||
        (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || fpclassify(v) == FP_ZERO)) ||
        isnan(v))
        return 0;
    *out = v;
    return 1;
}

/* Returns the length written to out, -1 if an input is not a float, -2 if the sum is NaN or
 * infinite, -3 if out is too small. */
long shardis_ld_add(const char *a, size_t alen, const char *b, size_t blen, char *out, size_t outlen) {
    long double x, y;
    if (!parse_ld(a, alen, &x) || !parse_ld(b, blen, &y)) return -1;
    long double v = x + y;
    if (isnan(v) || isinf(v)) return -2;
    int l = snprintf(out, outlen, "%.17Lf", v);
    if (l < 0 || (size_t)l + 1 > outlen) return -3;
    if (strchr(out, '.') != NULL) {
        char *p = out + l - 1;
        while (*p == '0') { p--; l--; }
        if (*p == '.') l--;
    }
    if (l == 2 && out[0] == '-' && out[1] == '0') { out[0] = '0'; l = 1; }
    return l;
}

/* Validates a long double argument (1) or not (0). */
int shardis_ld_valid(const char *a, size_t alen) {
    long double x;
    return parse_ld(a, alen, &x);
}
