// SHA-256 as FIPS 180-4 defines it: the digest of a layer's uncompressed stream is its diff_id.
// On x86-64 CPUs with the SHA extensions the block function runs on them (about six times the
// portable code's speed here: the hash was a third of a layer's unpack time); elsewhere the
// portable code below does.
#include <stdbool.h>
#include <string.h>
#if defined(__x86_64__)
#include <cpuid.h>
#include <immintrin.h>
#endif

#include "unpack.h"

static const uint32_t round_constants[64] = {
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static inline uint32_t rotate_right(uint32_t value, unsigned int bits) {
  return (value >> bits) | (value << (32 - bits));
}

static void compress_block(uint32_t state[8], const unsigned char block[64]) {
  uint32_t schedule[64];
  for (int i = 0; i < 16; i++) {
    schedule[i] = (uint32_t)block[i * 4] << 24 | (uint32_t)block[i * 4 + 1] << 16 | (uint32_t)block[i * 4 + 2] << 8 |
                  (uint32_t)block[i * 4 + 3];
  }
  for (int i = 16; i < 64; i++) {
    uint32_t s0 = rotate_right(schedule[i - 15], 7) ^ rotate_right(schedule[i - 15], 18) ^ (schedule[i - 15] >> 3);
    uint32_t s1 = rotate_right(schedule[i - 2], 17) ^ rotate_right(schedule[i - 2], 19) ^ (schedule[i - 2] >> 10);
    schedule[i] = schedule[i - 16] + s0 + schedule[i - 7] + s1;
  }
  uint32_t a = state[0], b = state[1], c = state[2], d = state[3];
  uint32_t e = state[4], f = state[5], g = state[6], h = state[7];
  for (int i = 0; i < 64; i++) {
    uint32_t sum1 = rotate_right(e, 6) ^ rotate_right(e, 11) ^ rotate_right(e, 25);
    uint32_t choose = (e & f) ^ (~e & g);
    uint32_t temporary1 = h + sum1 + choose + round_constants[i] + schedule[i];
    uint32_t sum0 = rotate_right(a, 2) ^ rotate_right(a, 13) ^ rotate_right(a, 22);
    uint32_t majority = (a & b) ^ (a & c) ^ (b & c);
    uint32_t temporary2 = sum0 + majority;
    h = g;
    g = f;
    f = e;
    e = d + temporary1;
    d = c;
    c = b;
    b = a;
    a = temporary1 + temporary2;
  }
  state[0] += a;
  state[1] += b;
  state[2] += c;
  state[3] += d;
  state[4] += e;
  state[5] += f;
  state[6] += g;
  state[7] += h;
}

#if defined(__x86_64__)
// State in the SHA instructions' layout: one register holds A B E F, the other C D G H; each
// _mm_sha256rnds2_epu32 runs two rounds, and msg1/msg2 extend the message schedule four words
// at a time (W[t] = σ1(W[t-2]) + W[t-7] + σ0(W[t-15]) + W[t-16]).
__attribute__((target("sha,sse4.1"))) static void compress_blocks_sha(uint32_t state[8], const unsigned char *data, size_t blocks) {
  const __m128i byte_swap = _mm_set_epi64x(0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i low = _mm_loadu_si128((const __m128i *)&state[0]);  // lanes a b c d
  __m128i high = _mm_loadu_si128((const __m128i *)&state[4]); // lanes e f g h
  low = _mm_shuffle_epi32(low, 0xB1);                          // b a d c
  high = _mm_shuffle_epi32(high, 0x1B);                        // h g f e
  __m128i abef = _mm_alignr_epi8(low, high, 8);                // f e b a (lanes, low first)
  __m128i cdgh = _mm_blend_epi16(high, low, 0xF0);             // h g d c
  for (; blocks > 0; blocks--, data += 64) {
    const __m128i saved_abef = abef, saved_cdgh = cdgh;
    __m128i words[4];
    for (int group = 0; group < 16; group++) {
      __m128i *current = &words[group & 3];
      if (group < 4) {
        *current = _mm_shuffle_epi8(_mm_loadu_si128((const __m128i *)(data + group * 16)), byte_swap);
      } else {
        const __m128i previous = words[(group - 1) & 3];
        __m128i next = _mm_sha256msg1_epu32(*current, words[(group - 3) & 3]);
        next = _mm_add_epi32(next, _mm_alignr_epi8(previous, words[(group - 2) & 3], 4));
        *current = _mm_sha256msg2_epu32(next, previous);
      }
      __m128i scheduled = _mm_add_epi32(*current, _mm_loadu_si128((const __m128i *)&round_constants[group * 4]));
      cdgh = _mm_sha256rnds2_epu32(cdgh, abef, scheduled);
      scheduled = _mm_shuffle_epi32(scheduled, 0x0E);
      abef = _mm_sha256rnds2_epu32(abef, cdgh, scheduled);
    }
    abef = _mm_add_epi32(abef, saved_abef);
    cdgh = _mm_add_epi32(cdgh, saved_cdgh);
  }
  const __m128i feba = _mm_shuffle_epi32(abef, 0x1B);
  cdgh = _mm_shuffle_epi32(cdgh, 0xB1);
  _mm_storeu_si128((__m128i *)&state[0], _mm_blend_epi16(feba, cdgh, 0xF0));
  _mm_storeu_si128((__m128i *)&state[4], _mm_alignr_epi8(cdgh, feba, 8));
}

static bool cpu_has_sha(void) {
  static int known = -1;
  if (known < 0) {
    unsigned int eax, ebx, ecx, edx;
    bool sse41 = __get_cpuid(1, &eax, &ebx, &ecx, &edx) && (ecx & bit_SSE4_1) && (ecx & bit_SSSE3);
    bool sha = __get_cpuid_count(7, 0, &eax, &ebx, &ecx, &edx) && (ebx & bit_SHA);
    known = sse41 && sha;
  }
  return known;
}
#endif

static void compress_blocks(uint32_t state[8], const unsigned char *data, size_t blocks) {
#if defined(__x86_64__)
  if (cpu_has_sha()) {
    compress_blocks_sha(state, data, blocks);
    return;
  }
#endif
  for (; blocks > 0; blocks--, data += 64) compress_block(state, data);
}

void sha256_init(struct sha256 *hash) {
  static const uint32_t initial[8] = {0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a,
                                      0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19};
  memcpy(hash->state, initial, sizeof initial);
  hash->length = 0;
  hash->used = 0;
}

void sha256_update(struct sha256 *hash, const void *data, size_t size) {
  const unsigned char *bytes = data;
  hash->length += size;
  if (hash->used > 0) {
    size_t take = 64 - hash->used < size ? 64 - hash->used : size;
    memcpy(hash->block + hash->used, bytes, take);
    hash->used += take;
    bytes += take;
    size -= take;
    if (hash->used < 64) return;
    compress_blocks(hash->state, hash->block, 1);
    hash->used = 0;
  }
  if (size >= 64) {
    compress_blocks(hash->state, bytes, size / 64);
    bytes += size & ~(size_t)63;
    size &= 63;
  }
  memcpy(hash->block, bytes, size);
  hash->used = size;
}

void sha256_final(struct sha256 *hash, unsigned char digest[32]) {
  uint64_t bit_length = hash->length * 8;
  unsigned char padding[72] = {0x80};
  size_t padding_length = (hash->used < 56 ? 56 : 120) - hash->used;
  for (int i = 0; i < 8; i++) padding[padding_length + i] = (unsigned char)(bit_length >> (56 - 8 * i));
  uint64_t length = hash->length;
  sha256_update(hash, padding, padding_length + 8);
  hash->length = length;
  for (int i = 0; i < 8; i++) {
    digest[i * 4] = (unsigned char)(hash->state[i] >> 24);
    digest[i * 4 + 1] = (unsigned char)(hash->state[i] >> 16);
    digest[i * 4 + 2] = (unsigned char)(hash->state[i] >> 8);
    digest[i * 4 + 3] = (unsigned char)hash->state[i];
  }
}

void sha256_hex(struct sha256 *hash, char hex[65]) {
  static const char digits[] = "0123456789abcdef";
  unsigned char digest[32];
  sha256_final(hash, digest);
  for (int i = 0; i < 32; i++) {
    hex[i * 2] = digits[digest[i] >> 4];
    hex[i * 2 + 1] = digits[digest[i] & 15];
  }
  hex[64] = '\0';
}
