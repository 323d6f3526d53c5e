/* tanba.crypto._speedups: the compression functions of GOST R 34.11-2012 (Streebog, RFC 6986),
 * GOST R 34.11-94 (RFC 5831) and belt-hash (STB 34.101.31) in C, for tanba.crypto.streebog,
 * tanba.crypto.gost341194 and tanba.crypto.belt.
 *
 * Optional: setup.py builds it when a compiler is present; tanba.crypto.accel decides whether
 * it is used.  The pure-Python modules are the reference; tests/crypto/test_speedups.py checks
 * that both paths give the same digests.
 *
 * Every function here is pure: immutable inputs in, a new bytes object out.  The hash state
 * crosses the boundary as little-endian bytes, in the layout the Python modules hold it:
 *
 *   streebog_compress(ctx, state, data) -> state
 *       state = h || N || Sigma (3 x 64 bytes, each a 512-bit little-endian number);
 *       data = whole 64-byte blocks.  Per block: h = g_N(h, m); N += 512; Sigma += m.
 *   streebog_g(ctx, h, n, m) -> h        one g_N(h, m), 64 bytes each (the final stage).
 *   gost94_compress(tables, state, data) -> state
 *       state = H || Sigma (2 x 32 bytes); data = whole 32-byte blocks.
 *       Per block: H = f(H, M); Sigma += M (mod 2^256).
 *   gost94_step(tables, h, m) -> h       one step function f(H, M), 32 bytes each.
 *   belt_compress(state, data) -> state
 *       state = h || s (48 bytes: 8 + 4 little-endian 32-bit words; s is the XOR of the sigma1
 *       values so far); data = whole 32-byte blocks X1 || X2.  Per block, with X3 || X4 = h:
 *       (S, Y) = belt-compress(X1 || X2 || X3 || X4); h = Y; s ^= S.
 *
 * The tables are built by the Python modules from the standards' constants and passed in on
 * every call (no mutable state here): ``ctx`` is Streebog's 8 fused LPS tables
 * (T[j][b] = L(P(S(b << 8j))) as 8 x 256 native-order uint64) followed by the 12 round
 * constants (12 x 8 native uint64); ``tables`` are GOST 28147-89's 4 fused round tables of one
 * S-box set (substitution and rotation by 11, 4 x 256 native-order uint32).  belt-hash takes no
 * tables: its S-box H is fixed by the standard, so it is copied below and G_r's fused tables
 * (substitution and rotation by r, 4 x 256 uint32 for each r in 5, 13, 21) are built from it at
 * module init, write-once as the psi index sets are.
 *
 * Buffers of RELEASE_GIL_AT bytes or more are hashed with the GIL released; the buffer protocol
 * keeps the data buffer pinned (an mmap or bytearray cannot be closed or resized meanwhile).
 * Table look-ups are indexed by the data: nothing here is constant time (nor is the pure path).
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <stdint.h>
#include <string.h>

/* bumped whenever a signature or layout above changes; tanba.crypto.accel checks it */
#define SPEEDUPS_VERSION 1

#define RELEASE_GIL_AT 4096

#define SB_TABLE_WORDS (8 * 256)
#define SB_CTX_BYTES ((SB_TABLE_WORDS + 12 * 8) * 8)
#define G94_TABLES_BYTES (4 * 256 * 4)

/* --- byte access ------------------------------------------------------------------------- */

static uint64_t load_le64(const unsigned char *p)
{
    return (uint64_t)p[0] | (uint64_t)p[1] << 8 | (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24
        | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

static void store_le64(unsigned char *p, uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) {
        p[i] = (unsigned char)(v >> (8 * i));
    }
}

/* a table entry in native byte order; memcpy keeps it free of alignment and aliasing rules
 * (compilers turn it into one load) */
static uint64_t table64(const unsigned char *t, size_t index)
{
    uint64_t v;
    memcpy(&v, t + 8 * index, 8);
    return v;
}

static uint32_t table32(const unsigned char *t, size_t index)
{
    uint32_t v;
    memcpy(&v, t + 4 * index, 4);
    return v;
}

static void load_words(uint64_t *w, const unsigned char *p, int count)
{
    int i;
    for (i = 0; i < count; i++) {
        w[i] = load_le64(p + 8 * i);
    }
}

static void store_words(unsigned char *p, const uint64_t *w, int count)
{
    int i;
    for (i = 0; i < count; i++) {
        store_le64(p + 8 * i, w[i]);
    }
}

/* a += b over `count` 64-bit words, the carry out of the top word dropped */
static void add_words(uint64_t *a, const uint64_t *b, int count)
{
    uint64_t carry = 0;
    int i;
    for (i = 0; i < count; i++) {
        uint64_t s = a[i] + b[i];
        uint64_t c = s < b[i];
        a[i] = s + carry;
        carry = c | (a[i] < carry);
    }
}

/* --- Streebog ---------------------------------------------------------------------------- */

/* y = L(P(S(x))); y and x must not overlap.  Output word i is the XOR over j of table j at
 * byte i of word j; the bytes are taken from registers, the low byte of each word then a shift
 * by 8, so that the loads are the table look-ups alone. */
static void sb_lps(const unsigned char *t, const uint64_t *x, uint64_t *y)
{
    uint64_t a0 = x[0], a1 = x[1], a2 = x[2], a3 = x[3], a4 = x[4], a5 = x[5], a6 = x[6], a7 = x[7];
    int i;

    for (i = 0; i < 8; i++) {
        y[i] = table64(t, a0 & 0xFF) ^ table64(t + 2048, a1 & 0xFF) ^ table64(t + 4096, a2 & 0xFF)
            ^ table64(t + 6144, a3 & 0xFF) ^ table64(t + 8192, a4 & 0xFF) ^ table64(t + 10240, a5 & 0xFF)
            ^ table64(t + 12288, a6 & 0xFF) ^ table64(t + 14336, a7 & 0xFF);
        a0 >>= 8;
        a1 >>= 8;
        a2 >>= 8;
        a3 >>= 8;
        a4 >>= 8;
        a5 >>= 8;
        a6 >>= 8;
        a7 >>= 8;
    }
}

/* y = LPS(x) and y2 = LPS(x2) at once (neither output may overlap an input) */
static void sb_lps2(const unsigned char *t, const uint64_t *x, uint64_t *y, const uint64_t *x2, uint64_t *y2)
{
    uint64_t a0 = x[0], a1 = x[1], a2 = x[2], a3 = x[3], a4 = x[4], a5 = x[5], a6 = x[6], a7 = x[7];
    uint64_t b0 = x2[0], b1 = x2[1], b2 = x2[2], b3 = x2[3], b4 = x2[4], b5 = x2[5], b6 = x2[6], b7 = x2[7];
    int i;

    for (i = 0; i < 8; i++) {
        y[i] = table64(t, a0 & 0xFF) ^ table64(t + 2048, a1 & 0xFF) ^ table64(t + 4096, a2 & 0xFF)
            ^ table64(t + 6144, a3 & 0xFF) ^ table64(t + 8192, a4 & 0xFF) ^ table64(t + 10240, a5 & 0xFF)
            ^ table64(t + 12288, a6 & 0xFF) ^ table64(t + 14336, a7 & 0xFF);
        y2[i] = table64(t, b0 & 0xFF) ^ table64(t + 2048, b1 & 0xFF) ^ table64(t + 4096, b2 & 0xFF)
            ^ table64(t + 6144, b3 & 0xFF) ^ table64(t + 8192, b4 & 0xFF) ^ table64(t + 10240, b5 & 0xFF)
            ^ table64(t + 12288, b6 & 0xFF) ^ table64(t + 14336, b7 & 0xFF);
        a0 >>= 8;
        a1 >>= 8;
        a2 >>= 8;
        a3 >>= 8;
        a4 >>= 8;
        a5 >>= 8;
        a6 >>= 8;
        a7 >>= 8;
        b0 >>= 8;
        b1 >>= 8;
        b2 >>= 8;
        b3 >>= 8;
        b4 >>= 8;
        b5 >>= 8;
        b6 >>= 8;
        b7 >>= 8;
    }
}

/* h = g_N(h, m) = E(LPS(h ^ N), m) ^ h ^ m */
static void sb_g(const unsigned char *ctx, uint64_t *h, const uint64_t *n, const uint64_t *m)
{
    uint64_t k[8], s[8], x[8];
    int i, r;

    for (i = 0; i < 8; i++) {
        x[i] = h[i] ^ n[i];
    }
    sb_lps(ctx, x, k);
    memcpy(s, m, sizeof s);
    for (r = 0; r < 12; r++) {
        /* the state's and the key schedule's LPS of a round both read the old key only:
         * done together, their look-ups overlap in the pipeline */
        uint64_t x2[8];
        for (i = 0; i < 8; i++) {
            x[i] = k[i] ^ s[i];
            x2[i] = k[i] ^ table64(ctx, SB_TABLE_WORDS + 8 * (size_t)r + (size_t)i);
        }
        sb_lps2(ctx, x, s, x2, k);
    }
    for (i = 0; i < 8; i++) {
        h[i] ^= k[i] ^ s[i] ^ m[i];
    }
}

/* state = h[0..7], N[8..15], Sigma[16..23]; `size` a multiple of 64 */
static void sb_blocks(const unsigned char *ctx, uint64_t *state, const unsigned char *data, size_t size)
{
    static const uint64_t block_bits[8] = {512, 0, 0, 0, 0, 0, 0, 0};
    uint64_t m[8];
    size_t off;

    for (off = 0; off < size; off += 64) {
        load_words(m, data + off, 8);
        sb_g(ctx, state, state + 8, m);
        add_words(state + 8, block_bits, 8);
        add_words(state + 16, m, 8);
    }
}

/* --- GOST R 34.11-94 --------------------------------------------------------------------- */

/* for output 16-bit word j of psi^61(H) ^ psi^62(M) ^ psi^74(S): the input words it XORs,
 * numbered 0..15 for H, 16..31 for M, 32..47 for S (computed at module init) */
static unsigned char psi_inputs[16][48];
static unsigned char psi_count[16];

static void psi_power(int power, uint32_t sets[16])
{
    int i, p;
    for (i = 0; i < 16; i++) {
        sets[i] = (uint32_t)1 << i;
    }
    /* psi(y15..y0) = (y0 ^ y1 ^ y2 ^ y3 ^ y12 ^ y15) || y15..y1 */
    for (p = 0; p < power; p++) {
        uint32_t top = sets[0] ^ sets[1] ^ sets[2] ^ sets[3] ^ sets[12] ^ sets[15];
        memmove(sets, sets + 1, 15 * sizeof sets[0]);
        sets[15] = top;
    }
}

static void psi_init(void)
{
    static const int powers[3] = {61, 62, 74};
    uint32_t sets[3][16];
    int j, k, i;

    for (k = 0; k < 3; k++) {
        psi_power(powers[k], sets[k]);
    }
    for (j = 0; j < 16; j++) {
        unsigned char n = 0;
        for (k = 0; k < 3; k++) {
            for (i = 0; i < 16; i++) {
                if (sets[k][j] >> i & 1) {
                    psi_inputs[j][n++] = (unsigned char)(16 * k + i);
                }
            }
        }
        psi_count[j] = n;
    }
}

static uint32_t g94_f(const unsigned char *t, uint32_t x)
{
    return table32(t, x & 0xFF) ^ table32(t, 256 + (x >> 8 & 0xFF))
        ^ table32(t, 512 + (x >> 16 & 0xFF)) ^ table32(t, 768 + (x >> 24));
}

/* GOST 28147-89 encryption of one block: low word N1, high word N2 in, the output block
 * (first word = N2 after round 32) as the low word out */
static uint64_t g94_encrypt(const unsigned char *t, const uint32_t *k, uint64_t block)
{
    uint32_t n1 = (uint32_t)block, n2 = (uint32_t)(block >> 32);
    int r, j;

    for (r = 0; r < 3; r++) {
        for (j = 0; j < 8; j += 2) {
            n2 ^= g94_f(t, n1 + k[j]);
            n1 ^= g94_f(t, n2 + k[j + 1]);
        }
    }
    for (j = 7; j > 0; j -= 2) {
        n2 ^= g94_f(t, n1 + k[j]);
        n1 ^= g94_f(t, n2 + k[j - 1]);
    }
    return (uint64_t)n2 | (uint64_t)n1 << 32;
}

/* A(y4 || y3 || y2 || y1) = (y1 ^ y2) || y4 || y3 || y2, on 64-bit words w[0] = y1 */
static void g94_a(uint64_t *w)
{
    uint64_t top = w[0] ^ w[1];
    w[0] = w[1];
    w[1] = w[2];
    w[2] = w[3];
    w[3] = top;
}

/* h = f(h, m) */
static void g94_step(const unsigned char *t, uint64_t *h, const uint64_t *m)
{
    static const uint64_t c3[4] = {
        0xFF00FF00FF00FF00u, 0x00FF00FF00FF00FFu, 0xFF0000FF00FFFF00u, 0xFF00FFFF000000FFu,
    };
    uint64_t u[4], v[4], s[4], in64[12];
    uint32_t key[8];
    uint16_t in[48];
    int i, j;

    memcpy(u, h, sizeof u);
    memcpy(v, m, sizeof v);
    for (i = 0; i < 4; i++) {
        if (i) {
            g94_a(u);
            if (i == 2) {
                for (j = 0; j < 4; j++) {
                    u[j] ^= c3[j];
                }
            }
            g94_a(v);
            g94_a(v);
        }
        /* P: key word j = bytes j, 8+j, 16+j, 24+j of u ^ v */
        for (j = 0; j < 8; j++) {
            int sh = 8 * j;
            key[j] = (uint32_t)((u[0] ^ v[0]) >> sh & 0xFF) | (uint32_t)((u[1] ^ v[1]) >> sh & 0xFF) << 8
                | (uint32_t)((u[2] ^ v[2]) >> sh & 0xFF) << 16 | (uint32_t)((u[3] ^ v[3]) >> sh & 0xFF) << 24;
        }
        s[i] = g94_encrypt(t, key, h[i]);
    }
    /* the shuffle psi^61(H ^ psi(M ^ psi^12(S))), as one linear map of H, M and S */
    memcpy(in64, h, 4 * sizeof h[0]);
    memcpy(in64 + 4, m, 4 * sizeof m[0]);
    memcpy(in64 + 8, s, sizeof s);
    for (i = 0; i < 48; i++) {
        in[i] = (uint16_t)(in64[i / 4] >> (16 * (i % 4)));
    }
    for (i = 0; i < 4; i++) {
        h[i] = 0;
    }
    for (j = 0; j < 16; j++) {
        uint16_t w = 0;
        for (i = 0; i < psi_count[j]; i++) {
            w ^= in[psi_inputs[j][i]];
        }
        h[j / 4] |= (uint64_t)w << (16 * (j % 4));
    }
}

/* state = H[0..3], Sigma[4..7]; `size` a multiple of 32 */
static void g94_blocks(const unsigned char *t, uint64_t *state, const unsigned char *data, size_t size)
{
    uint64_t m[4];
    size_t off;

    for (off = 0; off < size; off += 32) {
        load_words(m, data + off, 4);
        g94_step(t, state, m);
        add_words(state + 4, m, 4);
    }
}

/* --- belt-hash (STB 34.101.31) ----------------------------------------------------------- */

/* the substitution H, H[0x00] .. H[0xFF] (as tanba.crypto.belt.H) */
static const unsigned char belt_h[256] = {
    0xB1, 0x94, 0xBA, 0xC8, 0x0A, 0x08, 0xF5, 0x3B, 0x36, 0x6D, 0x00, 0x8E, 0x58, 0x4A, 0x5D, 0xE4,
    0x85, 0x04, 0xFA, 0x9D, 0x1B, 0xB6, 0xC7, 0xAC, 0x25, 0x2E, 0x72, 0xC2, 0x02, 0xFD, 0xCE, 0x0D,
    0x5B, 0xE3, 0xD6, 0x12, 0x17, 0xB9, 0x61, 0x81, 0xFE, 0x67, 0x86, 0xAD, 0x71, 0x6B, 0x89, 0x0B,
    0x5C, 0xB0, 0xC0, 0xFF, 0x33, 0xC3, 0x56, 0xB8, 0x35, 0xC4, 0x05, 0xAE, 0xD8, 0xE0, 0x7F, 0x99,
    0xE1, 0x2B, 0xDC, 0x1A, 0xE2, 0x82, 0x57, 0xEC, 0x70, 0x3F, 0xCC, 0xF0, 0x95, 0xEE, 0x8D, 0xF1,
    0xC1, 0xAB, 0x76, 0x38, 0x9F, 0xE6, 0x78, 0xCA, 0xF7, 0xC6, 0xF8, 0x60, 0xD5, 0xBB, 0x9C, 0x4F,
    0xF3, 0x3C, 0x65, 0x7B, 0x63, 0x7C, 0x30, 0x6A, 0xDD, 0x4E, 0xA7, 0x79, 0x9E, 0xB2, 0x3D, 0x31,
    0x3E, 0x98, 0xB5, 0x6E, 0x27, 0xD3, 0xBC, 0xCF, 0x59, 0x1E, 0x18, 0x1F, 0x4C, 0x5A, 0xB7, 0x93,
    0xE9, 0xDE, 0xE7, 0x2C, 0x8F, 0x0C, 0x0F, 0xA6, 0x2D, 0xDB, 0x49, 0xF4, 0x6F, 0x73, 0x96, 0x47,
    0x06, 0x07, 0x53, 0x16, 0xED, 0x24, 0x7A, 0x37, 0x39, 0xCB, 0xA3, 0x83, 0x03, 0xA9, 0x8B, 0xF6,
    0x92, 0xBD, 0x9B, 0x1C, 0xE5, 0xD1, 0x41, 0x01, 0x54, 0x45, 0xFB, 0xC9, 0x5E, 0x4D, 0x0E, 0xF2,
    0x68, 0x20, 0x80, 0xAA, 0x22, 0x7D, 0x64, 0x2F, 0x26, 0x87, 0xF9, 0x34, 0x90, 0x40, 0x55, 0x11,
    0xBE, 0x32, 0x97, 0x13, 0x43, 0xFC, 0x9A, 0x48, 0xA0, 0x2A, 0x88, 0x5F, 0x19, 0x4B, 0x09, 0xA1,
    0x7E, 0xCD, 0xA4, 0xD0, 0x15, 0x44, 0xAF, 0x8C, 0xA5, 0x84, 0x50, 0xBF, 0x66, 0xD2, 0xE8, 0x8A,
    0xA2, 0xD7, 0x46, 0x52, 0x42, 0xA8, 0xDF, 0xB3, 0x69, 0x74, 0xC5, 0x51, 0xEB, 0x23, 0x29, 0x21,
    0xD4, 0xEF, 0xD9, 0xB4, 0x3A, 0x62, 0x28, 0x75, 0x91, 0x14, 0x10, 0xEA, 0x77, 0x6C, 0xDA, 0x1D,
};

/* G_r fused per rotation r: belt_gr[256 j + b] = RotHi^r(H[b] << 8j) (built by belt_init) */
static uint32_t belt_g5[4 * 256], belt_g13[4 * 256], belt_g21[4 * 256];

static uint32_t rot_hi32(uint32_t x, int r)
{
    return x << r | x >> (32 - r);
}

static void belt_init(void)
{
    int j, b;
    for (j = 0; j < 4; j++) {
        for (b = 0; b < 256; b++) {
            uint32_t w = (uint32_t)belt_h[b] << (8 * j);
            belt_g5[256 * j + b] = rot_hi32(w, 5);
            belt_g13[256 * j + b] = rot_hi32(w, 13);
            belt_g21[256 * j + b] = rot_hi32(w, 21);
        }
    }
}

static uint32_t load_le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void store_le32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

/* G_r(u) through t, the fused tables of r (about 5% faster here than substituting through
 * belt_h and rotating at run time) */
static uint32_t belt_g(const uint32_t *t, uint32_t u)
{
    return t[u & 0xFF] ^ t[256 + (u >> 8 & 0xFF)] ^ t[512 + (u >> 16 & 0xFF)] ^ t[768 + (u >> 24)];
}

/* round i (1..8) of belt-block encryption with the round keys K_{7i-6}..K_{7i} =
 * key[k0..k6] (K_n = key[(n - 1) mod 8]); the steps numbered as in the standard */
#define BELT_ROUND(i, k0, k1, k2, k3, k4, k5, k6) do { \
        b ^= belt_g(belt_g5, a + key[k0]);                     /* 1. b <- b ^ G5(a + K_{7i-6}) */ \
        c ^= belt_g(belt_g21, d + key[k1]);                    /* 2. c <- c ^ G21(d + K_{7i-5}) */ \
        a -= belt_g(belt_g13, b + key[k2]);                    /* 3. a <- a - G13(b + K_{7i-4}) */ \
        e = belt_g(belt_g21, b + c + key[k3]) ^ (uint32_t)(i); /* 4. e <- G21(b + c + K_{7i-3}) ^ <i> */ \
        b += e;                                                /* 5. b <- b + e */ \
        c -= e;                                                /* 6. c <- c - e */ \
        d += belt_g(belt_g13, c + key[k4]);                    /* 7. d <- d + G13(c + K_{7i-2}) */ \
        b ^= belt_g(belt_g21, a + key[k5]);                    /* 8. b <- b ^ G21(a + K_{7i-1}) */ \
        c ^= belt_g(belt_g5, d + key[k6]);                     /* 9. c <- c ^ G5(d + K_{7i}) */ \
        t = a; a = b; b = d; d = c; c = t;                     /* 10.-12. a <-> b, c <-> d, b <-> c */ \
    } while (0)

/* y = belt-block(x, key): 4 words in and out (y may be x), 8 key words; the key indices are
 * constants, so the rounds are written out */
static void belt_encrypt(const uint32_t *x, const uint32_t *key, uint32_t *y)
{
    uint32_t a = x[0], b = x[1], c = x[2], d = x[3], e, t;

    BELT_ROUND(1, 0, 1, 2, 3, 4, 5, 6);
    BELT_ROUND(2, 7, 0, 1, 2, 3, 4, 5);
    BELT_ROUND(3, 6, 7, 0, 1, 2, 3, 4);
    BELT_ROUND(4, 5, 6, 7, 0, 1, 2, 3);
    BELT_ROUND(5, 4, 5, 6, 7, 0, 1, 2);
    BELT_ROUND(6, 3, 4, 5, 6, 7, 0, 1);
    BELT_ROUND(7, 2, 3, 4, 5, 6, 7, 0);
    BELT_ROUND(8, 1, 2, 3, 4, 5, 6, 7);
    /* Y = b || d || a || c */
    y[0] = b;
    y[1] = d;
    y[2] = a;
    y[3] = c;
}

#undef BELT_ROUND

/* state = h[0..7], s[8..11]; `size` a multiple of 32.  Per block X1 || X2 = m, X3 || X4 = h:
 * S = belt-block(X3 ^ X4, X1 || X2) ^ X3 ^ X4; Y1 = belt-block(X1, S || X4) ^ X1;
 * Y2 = belt-block(X2, (S ^ 1^128) || X3) ^ X2; h = Y1 || Y2; s ^= S */
static void belt_blocks(uint32_t *state, const unsigned char *data, size_t size)
{
    uint32_t m[8], v[4], sig[4], key[8], y1[4], y2[4];
    size_t off;
    int i;

    for (off = 0; off < size; off += 32) {
        for (i = 0; i < 8; i++) {
            m[i] = load_le32(data + off + 4 * (size_t)i);
        }
        for (i = 0; i < 4; i++) {
            v[i] = state[i] ^ state[4 + i];
        }
        belt_encrypt(v, m, sig);
        for (i = 0; i < 4; i++) {
            sig[i] ^= v[i];
            key[i] = sig[i];
            key[4 + i] = state[4 + i];
        }
        belt_encrypt(m, key, y1);
        for (i = 0; i < 4; i++) {
            key[i] = ~sig[i];
            key[4 + i] = state[i];
        }
        belt_encrypt(m + 4, key, y2);
        for (i = 0; i < 4; i++) {
            state[i] = y1[i] ^ m[i];
            state[4 + i] = y2[i] ^ m[4 + i];
            state[8 + i] ^= sig[i];
        }
    }
}

/* --- Python bindings ----------------------------------------------------------------------- */

static int check_size(const Py_buffer *b, Py_ssize_t size, const char *what)
{
    if (b->len != size) {
        PyErr_Format(PyExc_ValueError, "%s must be %zd bytes, not %zd", what, size, b->len);
        return -1;
    }
    return 0;
}

static int check_blocks(const Py_buffer *b, Py_ssize_t block)
{
    if (b->len % block) {
        PyErr_Format(PyExc_ValueError, "data must be whole %zd-byte blocks, not %zd bytes", block, b->len);
        return -1;
    }
    return 0;
}

static PyObject *words_to_bytes(const uint64_t *w, int count)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, 8 * (Py_ssize_t)count);
    if (out != NULL) {
        store_words((unsigned char *)PyBytes_AS_STRING(out), w, count);
    }
    return out;
}

static PyObject *streebog_compress(PyObject *self, PyObject *args)
{
    Py_buffer ctx, state, data;
    uint64_t st[24];
    PyObject *out = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*y*y*:streebog_compress", &ctx, &state, &data)) {
        return NULL;
    }
    if (check_size(&ctx, SB_CTX_BYTES, "ctx") || check_size(&state, 192, "state") || check_blocks(&data, 64)) {
        goto done;
    }
    load_words(st, state.buf, 24);
    if (data.len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        sb_blocks(ctx.buf, st, data.buf, (size_t)data.len);
        Py_END_ALLOW_THREADS
    }
    else {
        sb_blocks(ctx.buf, st, data.buf, (size_t)data.len);
    }
    out = words_to_bytes(st, 24);
done:
    PyBuffer_Release(&ctx);
    PyBuffer_Release(&state);
    PyBuffer_Release(&data);
    return out;
}

static PyObject *streebog_g(PyObject *self, PyObject *args)
{
    Py_buffer ctx, h, n, m;
    uint64_t hw[8], nw[8], mw[8];
    PyObject *out = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*y*y*y*:streebog_g", &ctx, &h, &n, &m)) {
        return NULL;
    }
    if (check_size(&ctx, SB_CTX_BYTES, "ctx") || check_size(&h, 64, "h") || check_size(&n, 64, "n")
            || check_size(&m, 64, "m")) {
        goto done;
    }
    load_words(hw, h.buf, 8);
    load_words(nw, n.buf, 8);
    load_words(mw, m.buf, 8);
    sb_g(ctx.buf, hw, nw, mw);
    out = words_to_bytes(hw, 8);
done:
    PyBuffer_Release(&ctx);
    PyBuffer_Release(&h);
    PyBuffer_Release(&n);
    PyBuffer_Release(&m);
    return out;
}

static PyObject *gost94_compress(PyObject *self, PyObject *args)
{
    Py_buffer tables, state, data;
    uint64_t st[8];
    PyObject *out = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*y*y*:gost94_compress", &tables, &state, &data)) {
        return NULL;
    }
    if (check_size(&tables, G94_TABLES_BYTES, "tables") || check_size(&state, 64, "state")
            || check_blocks(&data, 32)) {
        goto done;
    }
    load_words(st, state.buf, 8);
    if (data.len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        g94_blocks(tables.buf, st, data.buf, (size_t)data.len);
        Py_END_ALLOW_THREADS
    }
    else {
        g94_blocks(tables.buf, st, data.buf, (size_t)data.len);
    }
    out = words_to_bytes(st, 8);
done:
    PyBuffer_Release(&tables);
    PyBuffer_Release(&state);
    PyBuffer_Release(&data);
    return out;
}

static PyObject *gost94_step(PyObject *self, PyObject *args)
{
    Py_buffer tables, h, m;
    uint64_t hw[4], mw[4];
    PyObject *out = NULL;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*y*y*:gost94_step", &tables, &h, &m)) {
        return NULL;
    }
    if (check_size(&tables, G94_TABLES_BYTES, "tables") || check_size(&h, 32, "h") || check_size(&m, 32, "m")) {
        goto done;
    }
    load_words(hw, h.buf, 4);
    load_words(mw, m.buf, 4);
    g94_step(tables.buf, hw, mw);
    out = words_to_bytes(hw, 4);
done:
    PyBuffer_Release(&tables);
    PyBuffer_Release(&h);
    PyBuffer_Release(&m);
    return out;
}

static PyObject *belt_compress(PyObject *self, PyObject *args)
{
    Py_buffer state, data;
    uint32_t st[12];
    PyObject *out = NULL;
    int i;
    (void)self;

    if (!PyArg_ParseTuple(args, "y*y*:belt_compress", &state, &data)) {
        return NULL;
    }
    if (check_size(&state, 48, "state") || check_blocks(&data, 32)) {
        goto done;
    }
    for (i = 0; i < 12; i++) {
        st[i] = load_le32((const unsigned char *)state.buf + 4 * i);
    }
    if (data.len >= RELEASE_GIL_AT) {
        Py_BEGIN_ALLOW_THREADS
        belt_blocks(st, data.buf, (size_t)data.len);
        Py_END_ALLOW_THREADS
    }
    else {
        belt_blocks(st, data.buf, (size_t)data.len);
    }
    out = PyBytes_FromStringAndSize(NULL, 48);
    if (out != NULL) {
        for (i = 0; i < 12; i++) {
            store_le32((unsigned char *)PyBytes_AS_STRING(out) + 4 * i, st[i]);
        }
    }
done:
    PyBuffer_Release(&state);
    PyBuffer_Release(&data);
    return out;
}

static PyMethodDef speedups_methods[] = {
    {"streebog_compress", streebog_compress, METH_VARARGS,
     "streebog_compress(ctx, state, data) -> state: absorb whole 64-byte blocks"},
    {"streebog_g", streebog_g, METH_VARARGS, "streebog_g(ctx, h, n, m) -> h: one g_N(h, m)"},
    {"gost94_compress", gost94_compress, METH_VARARGS,
     "gost94_compress(tables, state, data) -> state: absorb whole 32-byte blocks"},
    {"gost94_step", gost94_step, METH_VARARGS, "gost94_step(tables, h, m) -> h: one step f(H, M)"},
    {"belt_compress", belt_compress, METH_VARARGS,
     "belt_compress(state, data) -> state: absorb whole 32-byte blocks into belt-hash's h || s"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef speedups_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "tanba.crypto._speedups",
    .m_doc = "C compression functions for Streebog, GOST R 34.11-94 and belt-hash "
             "(optional; see tanba.crypto.accel).",
    .m_size = -1,
    .m_methods = speedups_methods,
};

PyMODINIT_FUNC PyInit__speedups(void)
{
    PyObject *module;

    psi_init();
    belt_init();
    module = PyModule_Create(&speedups_module);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddIntConstant(module, "VERSION", SPEEDUPS_VERSION) < 0
            || PyModule_AddIntConstant(module, "CTX_SIZE", SB_CTX_BYTES) < 0
            || PyModule_AddIntConstant(module, "TABLES_SIZE", G94_TABLES_BYTES) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
