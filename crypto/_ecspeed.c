/* tanba.crypto._ecspeed: prime-field and elliptic-curve arithmetic in C for tanba.crypto.gost3410.
 *
 * Optional: setup.py builds it when a compiler is present; tanba.crypto.accel decides whether it
 * is used.  The pure-Python code in gost3410.py is the reference; tests/crypto/test_ecspeed.py
 * checks that both paths give the same points and signatures on every curve of curves.py.
 *
 * API (all numbers are Python ints; points are affine (x, y) tuples, None is infinity):
 *
 *   Curve(p, a, b, q, x, y)          y^2 = x^3 + a*x + b over GF(p), base point G = (x, y) of
 *                                    order q.  Checks the parameters (p odd, 3 < p < 2^512,
 *                                    a, b < p, G on the curve, 2^COMB_BITS < q < 2^512, q*G = O)
 *                                    and builds G's comb table once (GIL released).
 *   curve.mul_base(k) -> (x, y) | None     k*G for 0 <= k < q        (constant time in k)
 *   curve.mul(k, x, y) -> (x, y) | None    k*P for 0 <= k < 2^512, P on the curve (variable time)
 *   curve.mul2(u1, u2, x, y) -> (x, y) | None
 *                                    u1*G + u2*P for 0 <= u1, u2 < q, P on the curve (variable time)
 *
 * A wrong type raises TypeError; a number out of its range, a point off the curve or bad curve
 * parameters raise ValueError.  A Curve is immutable once built: its methods may run in several
 * threads at once.
 *
 * Field: p of up to 512 bits in n = ceil(bits/64) 64-bit limbs (unsigned __int128 products),
 * elements in Montgomery form (R = 2^(64n)), multiplication by CIOS with the final subtraction
 * done by mask, addition/subtraction by mask, inversion by Fermat (a^(p-2), a fixed 4-bit window
 * over the public exponent).
 *
 * k*G (signing, key generation) is meant to be constant time with respect to k:
 *  - the comb: row i holds j * 2^(COMB_BITS*i) * G for j = 1 .. 2^COMB_BITS - 1 (affine); k*G
 *    is the sum over the rows of the entry selected by k's i-th COMB_BITS-bit digit;
 *  - the number of rows, additions and table reads is fixed by q alone; every entry of a row is
 *    read and the wanted one kept by a mask; a zero digit still does the addition (of garbage)
 *    and the result is dropped by a mask;
 *  - the additions use the complete projective formulas of Renes, Costello and Batina (2015,
 *    from the Bosma-Lenstra addition law), which have no exceptional cases within the subgroup
 *    of G (odd prime order), so there are no branches on doubling / infinity;
 *  - the field operations have no data-dependent branches or indices;
 *  - the final inversion is a fixed exponentiation (exponent p - 2: public).
 * Not constant time: the check 0 <= k < q is a borrow chain but Python's int -> bytes conversion
 * before it is not; the returned point being infinity (k = 0) is a branch; the compiler is
 * trusted not to turn the masks back into branches (not checked mechanically: no ctgrind /
 * dudect run yet); caches and CPU-level leaks beyond that are not addressed.  The
 * copies of k made here are wiped; Python's own int and its to_bytes buffer (wiped too) are not
 * under this module's control.
 * mul and mul2 work on public data (verification): Jacobian coordinates with branches, a 4-bit
 * window for P, the comb with zero digits skipped for G.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

#ifndef __SIZEOF_INT128__
#error "_ecspeed needs unsigned __int128 (gcc or clang on a 64-bit target); Tanba runs pure Python without it"
#endif

/* bumped whenever the API above changes; tanba.crypto.accel checks it */
#define ECSPEED_VERSION 1

#define MAXL 8                    /* limbs of a field element: p < 2^512 */
#define XL (MAXL + 1)             /* limbs of a scalar as read (one more to catch overflow) */
#define COMB_BITS 6               /* bits per comb row */
#define COMB_E ((1 << COMB_BITS) - 1) /* entries per row */
#define MAX_ROWS ((512 + COMB_BITS - 1) / COMB_BITS)

typedef uint64_t limb;
__extension__ typedef unsigned __int128 u128;

typedef struct {
    int n;            /* limbs in use */
    limb p[MAXL];
    limb pinv;        /* -p^-1 mod 2^64 */
    limb pm2[MAXL];   /* p - 2, the inversion exponent */
    limb r2[MAXL];    /* R^2 mod p */
    limb one[MAXL];   /* R mod p: 1 in Montgomery form */
    limb a[MAXL], b[MAXL], b3[MAXL]; /* Montgomery form */
    limb q[XL];
    int qbits;
    int rows;
    limb *comb;       /* rows * COMB_E entries of 2n limbs (x || y), Montgomery form */
} ec_curve;

typedef struct {
    limb x[MAXL], y[MAXL], z[MAXL];
} pt3;

/* --- helpers on limb arrays -------------------------------------------------------------- */

static void wipe(void *p, size_t len)
{
    volatile unsigned char *v = (volatile unsigned char *)p;
    while (len--) {
        *v++ = 0;
    }
}

/* all ones if a == b, else 0, without branches */
static limb ct_eq_mask(limb a, limb b)
{
    limb x = a ^ b;
    return ((x | (0 - x)) >> 63) - 1;
}

/* 1 if a < b (len limbs), by a borrow chain: no branches */
static limb ct_less(const limb *a, const limb *b, int len)
{
    limb borrow = 0;
    int i;
    for (i = 0; i < len; i++) {
        u128 d = (u128)a[i] - b[i] - borrow;
        borrow = (limb)(d >> 64) & 1;
    }
    return borrow;
}

static int bit_length(const limb *a, int len)
{
    int i;
    for (i = len - 1; i >= 0; i--) {
        if (a[i]) {
            return 64 * i + 64 - __builtin_clzll(a[i]);
        }
    }
    return 0;
}

static void load_le(limb *out, const unsigned char *in, int limbs)
{
    int i, j;
    for (i = 0; i < limbs; i++) {
        limb v = 0;
        for (j = 7; j >= 0; j--) {
            v = v << 8 | in[8 * i + j];
        }
        out[i] = v;
    }
}

static void store_le(unsigned char *out, const limb *in, int limbs)
{
    int i, j;
    for (i = 0; i < limbs; i++) {
        for (j = 0; j < 8; j++) {
            out[8 * i + j] = (unsigned char)(in[i] >> (8 * j));
        }
    }
}

/* --- the field GF(p), Montgomery form ------------------------------------------------------ */

/* Each operation has one body with the limb count n as an argument, inlined into a copy for
 * n = 4, one for n = 8 (the GOST sizes: the loops unroll, t stays in registers) and a generic
 * one; the public f_* functions pick by c->n (a public, per-curve value). */
#define ALWAYS_INLINE static inline __attribute__((always_inline))

/* r = t - p if hi or t >= p, else t (t has n limbs plus the bit hi); by mask */
ALWAYS_INLINE void reduce_once_n(const limb *p, limb *r, const limb *t, limb hi, const int n)
{
    limb s[MAXL], borrow = 0, mask;
    int i;
    for (i = 0; i < n; i++) {
        u128 d = (u128)t[i] - p[i] - borrow;
        s[i] = (limb)d;
        borrow = (limb)(d >> 64) & 1;
    }
    mask = 0 - (hi | (borrow ^ 1));
    for (i = 0; i < n; i++) {
        r[i] = (s[i] & mask) | (t[i] & ~mask);
    }
}

ALWAYS_INLINE void add_n(const limb *p, limb *r, const limb *a, const limb *b, const int n)
{
    limb t[MAXL], carry = 0;
    int i;
    for (i = 0; i < n; i++) {
        u128 s = (u128)a[i] + b[i] + carry;
        t[i] = (limb)s;
        carry = (limb)(s >> 64);
    }
    reduce_once_n(p, r, t, carry, n);
}

ALWAYS_INLINE void sub_n(const limb *p, limb *r, const limb *a, const limb *b, const int n)
{
    limb t[MAXL], borrow = 0, carry = 0, mask;
    int i;
    for (i = 0; i < n; i++) {
        u128 d = (u128)a[i] - b[i] - borrow;
        t[i] = (limb)d;
        borrow = (limb)(d >> 64) & 1;
    }
    mask = 0 - borrow;
    for (i = 0; i < n; i++) {
        u128 s = (u128)t[i] + (p[i] & mask) + carry;
        r[i] = (limb)s;
        carry = (limb)(s >> 64);
    }
}

/* r = a*b/R mod p (CIOS); r may alias a or b */
ALWAYS_INLINE void mul_n(const limb *p, limb pinv, limb *r, const limb *a, const limb *b, const int n)
{
    limb t[MAXL + 2];
    int i, j;

    for (j = 0; j < n + 2; j++) {
        t[j] = 0;
    }
    for (i = 0; i < n; i++) {
        limb carry = 0, m;
        u128 uv;
        for (j = 0; j < n; j++) {
            uv = (u128)a[j] * b[i] + t[j] + carry;
            t[j] = (limb)uv;
            carry = (limb)(uv >> 64);
        }
        uv = (u128)t[n] + carry;
        t[n] = (limb)uv;
        t[n + 1] = (limb)(uv >> 64);
        m = t[0] * pinv;
        uv = (u128)m * p[0] + t[0];
        carry = (limb)(uv >> 64);
        for (j = 1; j < n; j++) {
            uv = (u128)m * p[j] + t[j] + carry;
            t[j - 1] = (limb)uv;
            carry = (limb)(uv >> 64);
        }
        uv = (u128)t[n] + carry;
        t[n - 1] = (limb)uv;
        t[n] = t[n + 1] + (limb)(uv >> 64);
    }
    reduce_once_n(p, r, t, t[n], n);
}

static void f_add(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
    switch (c->n) {
    case 4: add_n(c->p, r, a, b, 4); break;
    case 8: add_n(c->p, r, a, b, 8); break;
    default: add_n(c->p, r, a, b, c->n); break;
    }
}

static void f_sub(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
    switch (c->n) {
    case 4: sub_n(c->p, r, a, b, 4); break;
    case 8: sub_n(c->p, r, a, b, 8); break;
    default: sub_n(c->p, r, a, b, c->n); break;
    }
}

static void f_mul(const ec_curve *c, limb *r, const limb *a, const limb *b)
{
    switch (c->n) {
    case 4: mul_n(c->p, c->pinv, r, a, b, 4); break;
    case 8: mul_n(c->p, c->pinv, r, a, b, 8); break;
    default: mul_n(c->p, c->pinv, r, a, b, c->n); break;
    }
}

static void f_copy(const ec_curve *c, limb *r, const limb *a)
{
    memcpy(r, a, sizeof(limb) * (size_t)c->n);
}

/* r = a if mask is all ones, r unchanged if mask is 0 */
static void f_cmov(const ec_curve *c, limb *r, const limb *a, limb mask)
{
    int i;
    for (i = 0; i < c->n; i++) {
        r[i] = (r[i] & ~mask) | (a[i] & mask);
    }
}

static int f_is_zero(const ec_curve *c, const limb *a) /* variable time */
{
    limb acc = 0;
    int i;
    for (i = 0; i < c->n; i++) {
        acc |= a[i];
    }
    return acc == 0;
}

static int f_equal(const ec_curve *c, const limb *a, const limb *b) /* variable time */
{
    return memcmp(a, b, sizeof(limb) * (size_t)c->n) == 0;
}

/* r = a^(p-2) = 1/a (0 for a = 0): the exponent is public, so the window indices may follow it */
static void f_inv(const ec_curve *c, limb *r, const limb *a)
{
    limb table[16][MAXL], acc[MAXL];
    int i, k, nibbles = 16 * c->n;

    f_copy(c, table[0], c->one);
    for (i = 1; i < 16; i++) {
        f_mul(c, table[i], table[i - 1], a);
    }
    f_copy(c, acc, c->one);
    for (i = nibbles - 1; i >= 0; i--) {
        unsigned digit = (unsigned)(c->pm2[i / 16] >> (4 * (i % 16))) & 15;
        for (k = 0; k < 4; k++) {
            f_mul(c, acc, acc, acc);
        }
        f_mul(c, acc, acc, table[digit]);
    }
    f_copy(c, r, acc);
    wipe(table, sizeof table);
    wipe(acc, sizeof acc);
}

static void f_to_mont(const ec_curve *c, limb *r, const limb *a)
{
    f_mul(c, r, a, c->r2);
}

static void f_from_mont(const ec_curve *c, limb *r, const limb *a)
{
    limb plain_one[MAXL];
    memset(plain_one, 0, sizeof plain_one);
    plain_one[0] = 1;
    f_mul(c, r, a, plain_one);
}

/* --- complete projective addition (constant time) ----------------------------------------- */

/* r = P + (x2 : y2 : 1), homogeneous projective (X : Y : Z), x = X/Z, y = Y/Z, O = (0 : 1 : 0).
 * With b3 = 3b:
 *   t0 = X1 x2, t1 = Y1 y2, t2 = Z1, t3 = X1 y2 + x2 Y1, t4 = X1 + x2 Z1, t5 = Y1 + y2 Z1,
 *   A = a t4 + b3 t2,  U = t1 + A,  V = t1 - A,  T = 3 t0 + a t2,  W = a (t0 - a t2) + b3 t4,
 *   X3 = t3 V - t5 W,  Y3 = U V + T W,  Z3 = t5 U + t3 T.
 * Correct for every P (O included) and every affine second point in a group of odd order. */
static void p_madd(const ec_curve *c, pt3 *r, const pt3 *P, const limb *x2, const limb *y2)
{
    limb t0[MAXL], t1[MAXL], t3[MAXL], t4[MAXL], t5[MAXL], u[MAXL], v[MAXL], w[MAXL], s[MAXL];

    f_mul(c, t0, P->x, x2);
    f_mul(c, t1, P->y, y2);
    f_add(c, t3, P->x, P->y);
    f_add(c, s, x2, y2);
    f_mul(c, t3, t3, s);
    f_sub(c, t3, t3, t0);
    f_sub(c, t3, t3, t1);
    f_mul(c, t4, x2, P->z);
    f_add(c, t4, t4, P->x);
    f_mul(c, t5, y2, P->z);
    f_add(c, t5, t5, P->y);
    f_mul(c, s, c->a, t4);          /* A = a t4 + b3 Z1 */
    f_mul(c, u, c->b3, P->z);
    f_add(c, s, s, u);
    f_add(c, u, t1, s);             /* U */
    f_sub(c, v, t1, s);             /* V */
    f_mul(c, s, c->a, P->z);        /* a t2 */
    f_sub(c, w, t0, s);
    f_mul(c, w, c->a, w);
    f_mul(c, t1, c->b3, t4);
    f_add(c, w, w, t1);             /* W */
    f_add(c, t1, t0, t0);
    f_add(c, t1, t1, t0);
    f_add(c, t1, t1, s);            /* T */
    f_mul(c, r->x, t3, v);
    f_mul(c, s, t5, w);
    f_sub(c, r->x, r->x, s);
    f_mul(c, r->y, u, v);
    f_mul(c, s, t1, w);
    f_add(c, r->y, r->y, s);
    f_mul(c, r->z, t5, u);
    f_mul(c, s, t3, t1);
    f_add(c, r->z, r->z, s);
}

/* --- Jacobian coordinates with branches (public data only) -------------------------------- */

/* x = X/Z^2, y = Y/Z^3; Z = 0 is infinity */
static void j_set_inf(const ec_curve *c, pt3 *r)
{
    f_copy(c, r->x, c->one);
    f_copy(c, r->y, c->one);
    memset(r->z, 0, sizeof r->z);
}

static void j_double(const ec_curve *c, pt3 *r, const pt3 *P)
{
    limb yy[MAXL], s[MAXL], zz[MAXL], m[MAXL], t[MAXL];

    if (f_is_zero(c, P->z) || f_is_zero(c, P->y)) {
        j_set_inf(c, r);
        return;
    }
    f_mul(c, yy, P->y, P->y);
    f_mul(c, s, P->x, yy);
    f_add(c, s, s, s);
    f_add(c, s, s, s);              /* s = 4 X yy */
    f_mul(c, zz, P->z, P->z);
    f_mul(c, m, zz, zz);
    f_mul(c, m, m, c->a);
    f_mul(c, t, P->x, P->x);
    f_add(c, m, m, t);
    f_add(c, m, m, t);
    f_add(c, m, m, t);              /* m = 3 X^2 + a Z^4 */
    f_mul(c, r->z, P->y, P->z);
    f_add(c, r->z, r->z, r->z);     /* z3 = 2 Y Z */
    f_mul(c, t, m, m);
    f_sub(c, t, t, s);
    f_sub(c, r->x, t, s);           /* x3 = m^2 - 2 s */
    f_sub(c, t, s, r->x);
    f_mul(c, t, m, t);
    f_mul(c, yy, yy, yy);
    f_add(c, yy, yy, yy);
    f_add(c, yy, yy, yy);
    f_add(c, yy, yy, yy);
    f_sub(c, r->y, t, yy);          /* y3 = m (s - x3) - 8 yy^2 */
}

/* r = P + (u2, s2 scaled by P->z already): the common tail of both additions.
 * h = u2 - u1, rr = s2 - s1; z3 = h * zfactor */
static void j_add_tail(const ec_curve *c, pt3 *r, const limb *u1, const limb *s1, const limb *h,
                       const limb *rr, const limb *zfactor)
{
    limb hh[MAXL], hhh[MAXL], v[MAXL], t[MAXL];

    f_mul(c, hh, h, h);
    f_mul(c, hhh, h, hh);
    f_mul(c, v, u1, hh);
    f_mul(c, r->z, h, zfactor);
    f_mul(c, t, rr, rr);
    f_sub(c, t, t, hhh);
    f_sub(c, t, t, v);
    f_sub(c, r->x, t, v);           /* x3 = rr^2 - hhh - 2 v */
    f_sub(c, t, v, r->x);
    f_mul(c, t, rr, t);
    f_mul(c, hhh, s1, hhh);
    f_sub(c, r->y, t, hhh);         /* y3 = rr (v - x3) - s1 hhh */
}

/* r = P + (x2, y2) affine; r may alias P */
static void j_add_affine(const ec_curve *c, pt3 *r, const pt3 *P, const limb *x2, const limb *y2)
{
    limb z1z1[MAXL], u2[MAXL], s2[MAXL], h[MAXL], rr[MAXL], u1[MAXL], s1[MAXL], z1[MAXL];

    if (f_is_zero(c, P->z)) {
        f_copy(c, r->x, x2);
        f_copy(c, r->y, y2);
        f_copy(c, r->z, c->one);
        return;
    }
    f_mul(c, z1z1, P->z, P->z);
    f_mul(c, u2, x2, z1z1);
    f_mul(c, s2, y2, P->z);
    f_mul(c, s2, s2, z1z1);
    f_sub(c, h, u2, P->x);
    f_sub(c, rr, s2, P->y);
    if (f_is_zero(c, h)) {
        if (f_is_zero(c, rr)) {
            j_double(c, r, P);
        }
        else {
            j_set_inf(c, r);
        }
        return;
    }
    f_copy(c, u1, P->x);
    f_copy(c, s1, P->y);
    f_copy(c, z1, P->z);
    j_add_tail(c, r, u1, s1, h, rr, z1);
}

/* r = P1 + P2; r may alias either */
static void j_add(const ec_curve *c, pt3 *r, const pt3 *P1, const pt3 *P2)
{
    limb z1z1[MAXL], z2z2[MAXL], u1[MAXL], u2[MAXL], s1[MAXL], s2[MAXL], h[MAXL], rr[MAXL], zf[MAXL];

    if (f_is_zero(c, P1->z)) {
        *r = *P2;
        return;
    }
    if (f_is_zero(c, P2->z)) {
        *r = *P1;
        return;
    }
    f_mul(c, z1z1, P1->z, P1->z);
    f_mul(c, z2z2, P2->z, P2->z);
    f_mul(c, u1, P1->x, z2z2);
    f_mul(c, u2, P2->x, z1z1);
    f_mul(c, s1, P1->y, P2->z);
    f_mul(c, s1, s1, z2z2);
    f_mul(c, s2, P2->y, P1->z);
    f_mul(c, s2, s2, z1z1);
    f_sub(c, h, u2, u1);
    f_sub(c, rr, s2, s1);
    if (f_is_zero(c, h)) {
        if (f_is_zero(c, rr)) {
            j_double(c, r, P1);
        }
        else {
            j_set_inf(c, r);
        }
        return;
    }
    f_mul(c, zf, P1->z, P2->z);
    j_add_tail(c, r, u1, s1, h, rr, zf);
}

/* --- scalar multiplications --------------------------------------------------------------- */

/* the COMB_BITS-bit digit i of k (XL limbs); i is public */
static unsigned comb_digit(const limb *k, int i)
{
    int bit = COMB_BITS * i, li = bit / 64, sh = bit % 64;
    limb d = k[li] >> sh;
    if (sh + COMB_BITS > 64 && li + 1 < XL) {
        d |= k[li + 1] << (64 - sh);
    }
    return (unsigned)(d & COMB_E);
}

static const limb *comb_entry(const ec_curve *c, int row, int j)
{
    return c->comb + ((size_t)row * COMB_E + (size_t)j) * 2 * (size_t)c->n;
}

/* affine (x, y) in plain form from projective (homogeneous if proj, else Jacobian);
 * returns 1 for infinity (x, y then 0) */
static int to_affine(const ec_curve *c, limb *x, limb *y, const pt3 *P, int homogeneous)
{
    limb zi[MAXL], t[MAXL];
    int inf = f_is_zero(c, P->z);

    f_inv(c, zi, P->z);
    if (homogeneous) {
        f_mul(c, t, P->x, zi);
        f_from_mont(c, x, t);
        f_mul(c, t, P->y, zi);
        f_from_mont(c, y, t);
    }
    else {
        f_mul(c, t, zi, zi);
        f_mul(c, x, P->x, t);
        f_from_mont(c, x, x);
        f_mul(c, t, t, zi);
        f_mul(c, y, P->y, t);
        f_from_mont(c, y, y);
    }
    wipe(zi, sizeof zi);
    wipe(t, sizeof t);
    return inf;
}

/* k*G, 0 <= k < q; constant time in k (see the header) */
static int mul_base_ct(const ec_curve *c, const limb *k, limb *x, limb *y)
{
    pt3 acc, sum;
    limb sel[2 * MAXL];
    const int w = 2 * c->n;
    int i, j, l, inf;

    memset(&acc, 0, sizeof acc);
    f_copy(c, acc.y, c->one);       /* O = (0 : 1 : 0) */
    for (i = 0; i < c->rows; i++) {
        limb digit = comb_digit(k, i), nonzero;
        const limb *row = comb_entry(c, i, 0);
        memset(sel, 0, sizeof sel);
        for (j = 0; j < COMB_E; j++) {
            limb m = ct_eq_mask((limb)j + 1, digit);
            const limb *e = row + (size_t)j * (size_t)w;
            for (l = 0; l < w; l++) {
                sel[l] |= e[l] & m;
            }
        }
        p_madd(c, &sum, &acc, sel, sel + c->n);
        nonzero = ~ct_eq_mask(digit, 0);
        f_cmov(c, acc.x, sum.x, nonzero);
        f_cmov(c, acc.y, sum.y, nonzero);
        f_cmov(c, acc.z, sum.z, nonzero);
    }
    inf = to_affine(c, x, y, &acc, 1);
    wipe(&acc, sizeof acc);
    wipe(&sum, sizeof sum);
    wipe(sel, sizeof sel);
    return inf;
}

/* acc += k*G with the comb, zero digits skipped (variable time) */
static void comb_add_var(const ec_curve *c, pt3 *acc, const limb *k)
{
    int i;
    for (i = 0; i < c->rows; i++) {
        unsigned digit = comb_digit(k, i);
        if (digit) {
            const limb *e = comb_entry(c, i, (int)digit - 1);
            j_add_affine(c, acc, acc, e, e + c->n);
        }
    }
}

/* r = k*P (P affine, Montgomery form), fixed 4-bit window; variable time */
static void mul_var(const ec_curve *c, pt3 *r, const limb *k, const limb *px, const limb *py)
{
    pt3 table[16], acc;
    int i, bits = bit_length(k, XL), nibbles = (bits + 3) / 4;

    j_set_inf(c, &table[0]);
    f_copy(c, table[1].x, px);
    f_copy(c, table[1].y, py);
    f_copy(c, table[1].z, c->one);
    for (i = 2; i < 16; i++) {
        j_add_affine(c, &table[i], &table[i - 1], px, py);
    }
    j_set_inf(c, &acc);
    for (i = nibbles - 1; i >= 0; i--) {
        unsigned digit = (unsigned)(k[i / 16] >> (4 * (i % 16))) & 15;
        j_double(c, &acc, &acc);
        j_double(c, &acc, &acc);
        j_double(c, &acc, &acc);
        j_double(c, &acc, &acc);
        if (digit) {
            j_add(c, &acc, &acc, &table[digit]);
        }
    }
    *r = acc;
}

static int on_curve(const ec_curve *c, const limb *x, const limb *y) /* Montgomery form */
{
    limb l[MAXL], rhs[MAXL];
    f_mul(c, l, y, y);
    f_mul(c, rhs, x, x);
    f_add(c, rhs, rhs, c->a);
    f_mul(c, rhs, rhs, x);
    f_add(c, rhs, rhs, c->b);
    return f_equal(c, l, rhs);
}

/* --- curve set-up ------------------------------------------------------------------------- */

/* the constants of GF(p); p odd, n limbs */
static void field_init(ec_curve *c)
{
    limb inv = c->p[0], borrow = 2;
    int i;

    for (i = 0; i < 6; i++) {
        inv *= 2 - c->p[0] * inv;   /* Newton: doubles the correct low bits */
    }
    c->pinv = 0 - inv;
    for (i = 0; i < c->n; i++) {
        u128 d = (u128)c->p[i] - borrow;
        c->pm2[i] = (limb)d;
        borrow = (limb)(d >> 64) & 1;
    }
    memset(c->r2, 0, sizeof c->r2);
    c->r2[0] = 1;
    for (i = 0; i < 128 * c->n; i++) {
        f_add(c, c->r2, c->r2, c->r2);  /* 2^(128n) mod p = R^2 mod p */
    }
    memset(c->one, 0, sizeof c->one);
    c->one[0] = 1;
    f_to_mont(c, c->one, c->one);
}

/* the comb: row i = j * 2^(COMB_BITS i) G for j = 1 .. COMB_E, affine; -1 if out of memory or
 * an entry is infinity (impossible for a prime q > 2^COMB_BITS).  Each row is built
 * projectively from its affine base B (P_j = P_(j-1) + B; P_COMB_E + B = 2^COMB_BITS B is the
 * next row's base), then made affine with one inversion (Montgomery's trick). */
static int comb_build(ec_curve *c, const limb *gx, const limb *gy)
{
    pt3 *pts;
    limb (*prefix)[MAXL];
    limb bx[MAXL], by[MAXL], inv[MAXL], zi[MAXL], t[MAXL];
    int i, j, ok = 0;
    const int count = COMB_E + 1;

    c->comb = PyMem_RawMalloc(sizeof(limb) * 2 * (size_t)c->n * COMB_E * (size_t)c->rows);
    pts = PyMem_RawMalloc(sizeof(pt3) * (size_t)count);
    prefix = PyMem_RawMalloc(sizeof(limb) * MAXL * (size_t)(count + 1));
    if (c->comb == NULL || pts == NULL || prefix == NULL) {
        goto done;
    }
    f_copy(c, bx, gx);
    f_copy(c, by, gy);
    for (i = 0; i < c->rows; i++) {
        f_copy(c, pts[0].x, bx);
        f_copy(c, pts[0].y, by);
        f_copy(c, pts[0].z, c->one);
        for (j = 1; j < count; j++) {
            p_madd(c, &pts[j], &pts[j - 1], bx, by);
        }
        f_copy(c, prefix[0], c->one);
        for (j = 0; j < count; j++) {
            if (f_is_zero(c, pts[j].z)) {
                goto done;
            }
            f_mul(c, prefix[j + 1], prefix[j], pts[j].z);
        }
        f_inv(c, inv, prefix[count]);
        for (j = count - 1; j >= 0; j--) {
            limb *ex = j < COMB_E ? c->comb + ((size_t)i * COMB_E + (size_t)j) * 2 * (size_t)c->n : bx;
            limb *ey = j < COMB_E ? ex + c->n : by;
            f_mul(c, zi, inv, prefix[j]);
            f_mul(c, inv, inv, pts[j].z);
            f_mul(c, t, pts[j].x, zi);
            f_copy(c, ex, t);
            f_mul(c, t, pts[j].y, zi);
            f_copy(c, ey, t);
        }
    }
    ok = 1;
done:
    PyMem_RawFree(pts);
    PyMem_RawFree(prefix);
    return ok ? 0 : -1;
}

/* --- Python bindings ------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    ec_curve *c;
} CurveObject;

/* a non-negative int below 2^(64 XL) into XL limbs; TypeError / ValueError otherwise */
static int read_int(PyObject *o, limb *out, const char *what)
{
    PyObject *b;

    if (!PyLong_Check(o)) {
        PyErr_Format(PyExc_TypeError, "%s must be an int, not %.100s", what, Py_TYPE(o)->tp_name);
        return -1;
    }
    b = PyObject_CallMethod(o, "to_bytes", "ns", (Py_ssize_t)(8 * XL), "little");
    if (b == NULL) {
        if (PyErr_ExceptionMatches(PyExc_OverflowError)) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "%s out of range", what);
        }
        return -1;
    }
    load_le(out, (const unsigned char *)PyBytes_AS_STRING(b), XL);
    wipe(PyBytes_AS_STRING(b), (size_t)PyBytes_GET_SIZE(b)); /* ours alone: just created */
    Py_DECREF(b);
    return 0;
}

/* an int in [0, bound) (constant time comparison) */
static int read_below(PyObject *o, limb *out, const limb *bound, const char *what)
{
    if (read_int(o, out, what) < 0) {
        return -1;
    }
    if (!ct_less(out, bound, XL)) {
        wipe(out, sizeof(limb) * XL);
        PyErr_Format(PyExc_ValueError, "%s out of range", what);
        return -1;
    }
    return 0;
}

/* a field element < p, into Montgomery form */
static int read_field(const ec_curve *c, PyObject *o, limb *out, const char *what)
{
    limb v[XL], bound[XL];
    memset(bound, 0, sizeof bound);
    memcpy(bound, c->p, sizeof(limb) * (size_t)c->n);
    if (read_below(o, v, bound, what) < 0) {
        return -1;
    }
    f_to_mont(c, out, v);
    return 0;
}

static int read_point(const ec_curve *c, PyObject *ox, PyObject *oy, limb *x, limb *y)
{
    if (read_field(c, ox, x, "x") < 0 || read_field(c, oy, y, "y") < 0) {
        return -1;
    }
    if (!on_curve(c, x, y)) {
        PyErr_SetString(PyExc_ValueError, "the point is not on the curve");
        return -1;
    }
    return 0;
}

static PyObject *limbs_to_int(const limb *a, int n)
{
    unsigned char buf[8 * MAXL];
    store_le(buf, a, n);
    return PyObject_CallMethod((PyObject *)&PyLong_Type, "from_bytes", "y#s", (const char *)buf,
                               (Py_ssize_t)(8 * n), "little");
}

static PyObject *point_or_none(const ec_curve *c, int inf, const limb *x, const limb *y)
{
    PyObject *ox, *oy;
    if (inf) {
        Py_RETURN_NONE;
    }
    ox = limbs_to_int(x, c->n);
    oy = ox ? limbs_to_int(y, c->n) : NULL;
    if (oy == NULL) {
        Py_XDECREF(ox);
        return NULL;
    }
    return Py_BuildValue("(NN)", ox, oy);
}

static void curve_free(ec_curve *c)
{
    if (c != NULL) {
        PyMem_RawFree(c->comb);
        PyMem_RawFree(c);
    }
}

static PyObject *Curve_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *op, *oa, *ob, *oq, *ox, *oy;
    CurveObject *self;
    ec_curve *c;
    limb p[XL], gx[MAXL], gy[MAXL], big[XL];
    pt3 check;
    int bits, built;

    if (kwds != NULL && PyDict_GET_SIZE(kwds) != 0) {
        PyErr_SetString(PyExc_TypeError, "Curve() takes no keyword arguments");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "OOOOOO:Curve", &op, &oa, &ob, &oq, &ox, &oy)) {
        return NULL;
    }
    if (read_int(op, p, "p") < 0) {
        return NULL;
    }
    bits = bit_length(p, XL);
    if (bits > 512 || bits < 3 || (p[0] & 1) == 0) {
        PyErr_SetString(PyExc_ValueError, "p must be odd, above 3 and below 2^512");
        return NULL;
    }
    c = PyMem_RawCalloc(1, sizeof *c);
    if (c == NULL) {
        return PyErr_NoMemory();
    }
    c->n = (bits + 63) / 64;
    memcpy(c->p, p, sizeof(limb) * (size_t)c->n);
    field_init(c);
    if (read_field(c, oa, c->a, "a") < 0 || read_field(c, ob, c->b, "b") < 0) {
        goto fail;
    }
    f_add(c, c->b3, c->b, c->b);
    f_add(c, c->b3, c->b3, c->b);
    memset(big, 0, sizeof big);
    big[MAXL] = 1;                  /* 2^512 */
    if (read_below(oq, c->q, big, "q") < 0) {
        goto fail;
    }
    c->qbits = bit_length(c->q, XL);
    if (c->qbits <= COMB_BITS + 1 || (c->q[0] & 1) == 0) {
        PyErr_SetString(PyExc_ValueError, "q must be odd and above 2^(COMB_BITS+1)");
        goto fail;
    }
    c->rows = (c->qbits + COMB_BITS - 1) / COMB_BITS;
    if (read_point(c, ox, oy, gx, gy) < 0) {
        goto fail;
    }
    Py_BEGIN_ALLOW_THREADS
    mul_var(c, &check, c->q, gx, gy);
    built = f_is_zero(c, check.z) ? comb_build(c, gx, gy) : -2;
    Py_END_ALLOW_THREADS
    if (built == -2) {
        PyErr_SetString(PyExc_ValueError, "q*G is not infinity");
        goto fail;
    }
    if (built < 0) {
        PyErr_NoMemory();
        goto fail;
    }
    self = (CurveObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        goto fail;
    }
    self->c = c;
    return (PyObject *)self;
fail:
    curve_free(c);
    return NULL;
}

static void Curve_dealloc(CurveObject *self)
{
    curve_free(self->c);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *Curve_mul_base(CurveObject *self, PyObject *arg)
{
    const ec_curve *c = self->c;
    limb k[XL], x[MAXL], y[MAXL];
    int inf;

    if (read_below(arg, k, c->q, "k") < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    inf = mul_base_ct(c, k, x, y);
    Py_END_ALLOW_THREADS
    wipe(k, sizeof k);
    return point_or_none(c, inf, x, y);
}

static PyObject *Curve_mul(CurveObject *self, PyObject *args)
{
    const ec_curve *c = self->c;
    PyObject *ok, *ox, *oy;
    limb k[XL], px[MAXL], py[MAXL], x[MAXL], y[MAXL], big[XL];
    pt3 r;
    int inf;

    if (!PyArg_ParseTuple(args, "OOO:mul", &ok, &ox, &oy)) {
        return NULL;
    }
    memset(big, 0, sizeof big);
    big[MAXL] = 1;
    if (read_below(ok, k, big, "k") < 0 || read_point(c, ox, oy, px, py) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    mul_var(c, &r, k, px, py);
    inf = to_affine(c, x, y, &r, 0);
    Py_END_ALLOW_THREADS
    return point_or_none(c, inf, x, y);
}

static PyObject *Curve_mul2(CurveObject *self, PyObject *args)
{
    const ec_curve *c = self->c;
    PyObject *o1, *o2, *ox, *oy;
    limb u1[XL], u2[XL], px[MAXL], py[MAXL], x[MAXL], y[MAXL];
    pt3 r;
    int inf;

    if (!PyArg_ParseTuple(args, "OOOO:mul2", &o1, &o2, &ox, &oy)) {
        return NULL;
    }
    if (read_below(o1, u1, c->q, "u1") < 0 || read_below(o2, u2, c->q, "u2") < 0
            || read_point(c, ox, oy, px, py) < 0) {
        return NULL;
    }
    Py_BEGIN_ALLOW_THREADS
    mul_var(c, &r, u2, px, py);
    comb_add_var(c, &r, u1);
    inf = to_affine(c, x, y, &r, 0);
    Py_END_ALLOW_THREADS
    return point_or_none(c, inf, x, y);
}

static PyMethodDef Curve_methods[] = {
    {"mul_base", (PyCFunction)Curve_mul_base, METH_O,
     "mul_base(k) -> (x, y) | None: k*G for 0 <= k < q, constant time in k"},
    {"mul", (PyCFunction)Curve_mul, METH_VARARGS,
     "mul(k, x, y) -> (x, y) | None: k*P for 0 <= k < 2^512 (variable time)"},
    {"mul2", (PyCFunction)Curve_mul2, METH_VARARGS,
     "mul2(u1, u2, x, y) -> (x, y) | None: u1*G + u2*P for 0 <= u1, u2 < q (variable time)"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject CurveType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tanba.crypto._ecspeed.Curve",
    .tp_basicsize = sizeof(CurveObject),
    .tp_dealloc = (destructor)Curve_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Curve(p, a, b, q, x, y): y^2 = x^3 + a*x + b over GF(p), base point (x, y) of order q",
    .tp_methods = Curve_methods,
    .tp_new = Curve_new,
};

static struct PyModuleDef ecspeed_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tanba.crypto._ecspeed",
    .m_doc = "C prime-field and elliptic-curve arithmetic for GOST R 34.10 (optional; see tanba.crypto.accel).",
    .m_size = -1,
};

PyMODINIT_FUNC PyInit__ecspeed(void)
{
    PyObject *module;

    if (PyType_Ready(&CurveType) < 0) {
        return NULL;
    }
    module = PyModule_Create(&ecspeed_module);
    if (module == NULL) {
        return NULL;
    }
    Py_INCREF(&CurveType);
    if (PyModule_AddObject(module, "Curve", (PyObject *)&CurveType) < 0) {
        Py_DECREF(&CurveType);
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "VERSION", ECSPEED_VERSION) < 0
            || PyModule_AddIntConstant(module, "COMB_BITS", COMB_BITS) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
