// rnnscope's native capture kernels, the part written once per instruction set.
//
// _native_kernels.cpp includes this file three times, each time inside its own namespace with RNNSCOPE_ISA set and
// the compiler's target switched for the functions defined here: 512 (AVX-512F/DQ/BW/VL + FMA, 16 floats per
// vector), 256 (AVX2 + FMA, 8 floats) and 0 (portable C++ on 4-float arrays, which compilers turn into SSE2 or NEON
// code). The library picks one at run time from the CPU (rnnscope_native::set_isa overrides it), so one build serves
// every x86-64 machine and an ARM one. Nothing here includes a header or calls into PyTorch: the kernels run on the
// threads of _native_kernels.cpp's team with plain pointers (the types Job, Dest and Barrier come from there).
//
// Per step and per panel of W units, a register-tiled matmul keeps the pre-activations of the four gates of a few
// rows in registers ([x_t | h_{t-1}] times the packed weights, plus the bias), then applies the cell's equations to
// them and stores every variable where the caller wants it: the gate pre-activations never go to memory.
//
// Non-finite values behave as in PyTorch: NaN stays NaN through every operation (the clamps keep NaN, the min/max
// of the value ranges skip it, no NaN is ever converted to an integer in C++), exp(+inf) = +inf, sigmoid(-inf) = 0,
// sigmoid(+inf) = 1, tanh(+-inf) = +-1.

#if RNNSCOPE_ISA == 512

struct V {
  using R = __m512;
  static constexpr int W = 16;
  static constexpr int kRows = 6;  // rows per register tile: 24 accumulators + 6 broadcasts + 1 weight vector
  static inline R load(const float* p) { return _mm512_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm512_storeu_ps(p, v); }
  static inline __mmask16 lanes(int n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static inline R load_first(const float* p, int n) { return n >= W ? load(p) : _mm512_maskz_loadu_ps(lanes(n), p); }
  static inline void store_first(float* p, R v, int n) {
    if (n >= W) store(p, v); else _mm512_mask_storeu_ps(p, lanes(n), v);
  }
  static inline R set1(float v) { return _mm512_set1_ps(v); }
  static inline R add(R a, R b) { return _mm512_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static inline R div(R a, R b) { return _mm512_div_ps(a, b); }
  static inline R fmadd(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }    // a * b + c
  static inline R fnmadd(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }  // c - a * b
  // min / max that skip NaN in v: the instructions return their second operand when either is NaN
  static inline R min_num(R v, R acc) { return _mm512_min_ps(v, acc); }
  static inline R max_num(R v, R acc) { return _mm512_max_ps(v, acc); }
  static inline R clamp(R x, float lo, float hi) {  // NaN stays NaN (x is the second operand)
    return _mm512_min_ps(set1(hi), _mm512_max_ps(set1(lo), x));
  }
  static inline R round(R x) { return _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  // 2^(n - 1) for whole n in [-125, 128]; a NaN lane converts to the CPU's defined "integer indefinite" and gives a
  // finite factor (the NaN of the other factor carries through)
  static inline R pow2_minus1(R n) {
    const __m512i e = _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(126));
    return _mm512_castsi512_ps(_mm512_slli_epi32(e, 23));
  }
  static inline R inf_above(R y, R x, float limit) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, set1(limit), _CMP_GT_OQ), y,
                                set1(std::numeric_limits<float>::infinity()));
  }
  static inline R zero_below(R y, R x, float limit) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(x, set1(limit), _CMP_LT_OQ), y, _mm512_setzero_ps());
  }
  static inline R abs(R v) { return _mm512_abs_ps(v); }
  static inline R nan_from(R v, int n) {  // lanes >= n set to NaN (left out of the value ranges)
    return n >= W ? v : _mm512_mask_blend_ps(lanes(n), set1(std::numeric_limits<float>::quiet_NaN()), v);
  }
};

#elif RNNSCOPE_ISA == 256

struct V {
  using R = __m256;
  static constexpr int W = 8;
  static constexpr int kRows = 3;  // 12 accumulators + 3 broadcasts + 1 weight vector = the 16 registers
  static inline R load(const float* p) { return _mm256_loadu_ps(p); }
  static inline void store(float* p, R v) { _mm256_storeu_ps(p, v); }
  static inline __m256i lanes(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static inline R load_first(const float* p, int n) { return n >= W ? load(p) : _mm256_maskload_ps(p, lanes(n)); }
  static inline void store_first(float* p, R v, int n) {
    if (n >= W) store(p, v); else _mm256_maskstore_ps(p, lanes(n), v);
  }
  static inline R set1(float v) { return _mm256_set1_ps(v); }
  static inline R add(R a, R b) { return _mm256_add_ps(a, b); }
  static inline R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static inline R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static inline R div(R a, R b) { return _mm256_div_ps(a, b); }
  static inline R fmadd(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static inline R fnmadd(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  static inline R min_num(R v, R acc) { return _mm256_min_ps(v, acc); }
  static inline R max_num(R v, R acc) { return _mm256_max_ps(v, acc); }
  static inline R clamp(R x, float lo, float hi) { return _mm256_min_ps(set1(hi), _mm256_max_ps(set1(lo), x)); }
  static inline R round(R x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
  static inline R pow2_minus1(R n) {
    const __m256i e = _mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(126));
    return _mm256_castsi256_ps(_mm256_slli_epi32(e, 23));
  }
  static inline R inf_above(R y, R x, float limit) {
    return _mm256_blendv_ps(y, set1(std::numeric_limits<float>::infinity()), _mm256_cmp_ps(x, set1(limit), _CMP_GT_OQ));
  }
  static inline R zero_below(R y, R x, float limit) {
    return _mm256_blendv_ps(y, _mm256_setzero_ps(), _mm256_cmp_ps(x, set1(limit), _CMP_LT_OQ));
  }
  static inline R abs(R v) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), v); }
  static inline R nan_from(R v, int n) {
    return n >= W ? v : _mm256_blendv_ps(set1(std::numeric_limits<float>::quiet_NaN()), v, _mm256_castsi256_ps(lanes(n)));
  }
};

#else  // portable: four floats, lane by lane (the compiler vectorises the loops)

struct V {
  struct R {
    float v[4];
  };
  static constexpr int W = 4;
  static constexpr int kRows = 2;
  static inline R load(const float* p) {
    R r;
    for (int l = 0; l < W; ++l) r.v[l] = p[l];
    return r;
  }
  static inline void store(float* p, R a) {
    for (int l = 0; l < W; ++l) p[l] = a.v[l];
  }
  static inline R load_first(const float* p, int n) {
    R r;
    for (int l = 0; l < W; ++l) r.v[l] = l < n ? p[l] : 0.0f;
    return r;
  }
  static inline void store_first(float* p, R a, int n) {
    for (int l = 0; l < W && l < n; ++l) p[l] = a.v[l];
  }
  static inline R set1(float s) {
    R r;
    for (int l = 0; l < W; ++l) r.v[l] = s;
    return r;
  }
#define RNNSCOPE_LANES(expr) \
  R r;                       \
  for (int l = 0; l < W; ++l) r.v[l] = (expr); \
  return r
  static inline R add(R a, R b) { RNNSCOPE_LANES(a.v[l] + b.v[l]); }
  static inline R sub(R a, R b) { RNNSCOPE_LANES(a.v[l] - b.v[l]); }
  static inline R mul(R a, R b) { RNNSCOPE_LANES(a.v[l] * b.v[l]); }
  static inline R div(R a, R b) { RNNSCOPE_LANES(a.v[l] / b.v[l]); }
  static inline R fmadd(R a, R b, R c) { RNNSCOPE_LANES(a.v[l] * b.v[l] + c.v[l]); }
  static inline R fnmadd(R a, R b, R c) { RNNSCOPE_LANES(c.v[l] - a.v[l] * b.v[l]); }
  static inline R min_num(R v, R acc) { RNNSCOPE_LANES(v.v[l] < acc.v[l] ? v.v[l] : acc.v[l]); }  // NaN v: acc
  static inline R max_num(R v, R acc) { RNNSCOPE_LANES(v.v[l] > acc.v[l] ? v.v[l] : acc.v[l]); }
  static inline R clamp(R x, float lo, float hi) {  // comparisons with NaN are false: NaN stays
    RNNSCOPE_LANES(x.v[l] < lo ? lo : (x.v[l] > hi ? hi : x.v[l]));
  }
  static inline R round(R x) { RNNSCOPE_LANES(std::nearbyint(x.v[l])); }
  static inline R pow2_minus1(R n) {
    R r;
    for (int l = 0; l < W; ++l) {
      // n is a whole number in [-125, 128] or NaN; NaN is never converted (that would be undefined behaviour)
      const int32_t e = n.v[l] == n.v[l] ? static_cast<int32_t>(n.v[l]) + 126 : 0;
      const uint32_t bits = static_cast<uint32_t>(e) << 23;
      std::memcpy(&r.v[l], &bits, sizeof(float));
    }
    return r;
  }
  static inline R inf_above(R y, R x, float limit) {
    RNNSCOPE_LANES(x.v[l] > limit ? std::numeric_limits<float>::infinity() : y.v[l]);
  }
  static inline R zero_below(R y, R x, float limit) { RNNSCOPE_LANES(x.v[l] < limit ? 0.0f : y.v[l]); }
  static inline R abs(R a) { RNNSCOPE_LANES(std::fabs(a.v[l])); }
  static inline R nan_from(R a, int n) { RNNSCOPE_LANES(l < n ? a.v[l] : std::numeric_limits<float>::quiet_NaN()); }
#undef RNNSCOPE_LANES
};

#endif

// ------------------------------------------------------------------------------------------------ nonlinearities
// exp through a range reduction to [-ln2/2, ln2/2] and a degree-6 Taylor polynomial (relative error about 1e-7 in
// float's normal range; 0 below it, +inf above);
// sigmoid(x) = 1 / (1 + exp(-x)), tanh(x) = 2 sigmoid(2x) - 1 (absolute error about 2e-7).

inline V::R vexp(V::R x) {
  const V::R xc = V::clamp(x, kExpLow, kExpHigh);
  const V::R n = V::round(V::mul(xc, V::set1(kLog2e)));
  V::R r = V::fnmadd(n, V::set1(kLn2Hi), xc);
  r = V::fnmadd(n, V::set1(kLn2Lo), r);
  V::R p = V::set1(1.0f / 720.0f);
  p = V::fmadd(p, r, V::set1(1.0f / 120.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 24.0f));
  p = V::fmadd(p, r, V::set1(1.0f / 6.0f));
  p = V::fmadd(p, r, V::set1(0.5f));
  p = V::fmadd(p, r, V::set1(1.0f));
  p = V::fmadd(p, r, V::set1(1.0f));
  // 2p * 2^(n-1): n reaches 128 near the top of float's range, where 2^n itself would overflow; +inf above it, 0
  // below float's normal range (exp(-inf) = 0, as PyTorch's)
  const V::R y = V::inf_above(V::mul(V::add(p, p), V::pow2_minus1(n)), x, kExpHigh);
  return V::zero_below(y, x, kExpLow);
}

inline V::R vsigmoid(V::R x) {
  const V::R one = V::set1(1.0f);
  return V::div(one, V::add(one, vexp(V::sub(V::set1(0.0f), x))));
}

inline V::R vtanh(V::R x) {
  const V::R one = V::set1(1.0f);
  return V::sub(V::div(V::set1(2.0f), V::add(one, vexp(V::mul(x, V::set1(-2.0f))))), one);
}

// out[i] = f(in[i]) for n values, mode 0 exp, 1 sigmoid, 2 tanh (the tests' view of the nonlinearities)
inline void activation(const float* in, float* out, int64_t n, int64_t mode) {
  for (int64_t i = 0; i < n; i += V::W) {
    const int nw = static_cast<int>(std::min<int64_t>(V::W, n - i));
    const V::R x = V::load_first(in + i, nw);
    V::store_first(out + i, mode == 0 ? vexp(x) : mode == 1 ? vsigmoid(x) : vtanh(x), nw);
  }
}

// ----------------------------------------------------------------------------------------------------- matmul
// acc[r][g] += sum over k < K of a[r * lda + k] * w[(k * NG + g) * W + lane], for the gates g in the bit mask G
// (a GRU's candidate reads x and h in separate sums; zero blocks are skipped, never multiplied: 0 * inf = NaN).

template <int Rn, int NG, int G>
inline void gemm(V::R (&acc)[Rn][NG], const float* a, int64_t lda, const float* w, int64_t K) {
  for (int64_t k = 0; k < K; ++k) {
    V::R b[Rn];
    for (int r = 0; r < Rn; ++r) b[r] = V::set1(a[r * lda + k]);
    const float* wk = w + k * NG * V::W;
    for (int g = 0; g < NG; ++g) {
      if (!((G >> g) & 1)) continue;
      const V::R wg = V::load(wk + g * V::W);
      for (int r = 0; r < Rn; ++r) acc[r][g] = V::fmadd(b[r], wg, acc[r][g]);
    }
  }
}

// Runs tile.run<Rn>(row, p) for a tile of n <= V::kRows rows.
template <class Tile>
RNNSCOPE_INLINE void run_tile(const Tile& tile, int64_t row, int64_t n, int64_t p) {
  switch (n) {
    case 1: tile.template run<1>(row, p); break;
    case 2: if constexpr (V::kRows >= 2) tile.template run<2>(row, p); break;
    case 3: if constexpr (V::kRows >= 3) tile.template run<3>(row, p); break;
    case 4: if constexpr (V::kRows >= 4) tile.template run<4>(row, p); break;
    case 5: if constexpr (V::kRows >= 5) tile.template run<5>(row, p); break;
    case 6: if constexpr (V::kRows >= 6) tile.template run<6>(row, p); break;
    default: break;
  }
}

// ---------------------------------------------------------------------------------------------------- storing
// A tile's variables go first to the thread's staging rows (in cache: stage[(k * kRows + r) * Hp + unit]); once
// every panel of the tile is done, each row's units are copied to their destinations with streaming stores (no read
// of the destination's cache lines, which are new memory, and no eviction of the weights from the cache) where the
// destination is contiguous, element by element where it is strided (several layers in one array).

RNNSCOPE_INLINE void stage_put(float* stage, int64_t Hp, int r, int64_t j0, const V::R* vals, int n_vars) {
  for (int k = 0; k < n_vars; ++k) V::store(stage + (k * V::kRows + r) * Hp + j0, vals[k]);
}

// dst[i] = src[i] for i < n: whole 64-byte lines of dst with streaming stores, the ends with plain ones. The head of
// plain stores up to dst's first line boundary is what makes this safe: a streaming store (vmovntps) to an address
// not aligned to its vector is a general protection fault (a build without the head died of one on the first
// record whose frames did not start on a 64-byte line; test_native.py sweeps every alignment).
RNNSCOPE_INLINE void stream_copy(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if RNNSCOPE_ISA == 512 || RNNSCOPE_ISA == 256
  const uintptr_t address = reinterpret_cast<uintptr_t>(dst);
  if (address % sizeof(float) == 0) {
    const int64_t head = std::min<int64_t>(n, static_cast<int64_t>((64 - address % 64) % 64 / sizeof(float)));
    while (i < head) {
      const int nw = static_cast<int>(std::min<int64_t>(V::W, head - i));
      V::store_first(dst + i, V::load_first(src + i, nw), nw);
      i += nw;
    }
    for (; i + 16 <= n; i += 16) {
#if RNNSCOPE_ISA == 512
      _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
#else
      _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
      _mm256_stream_ps(dst + i + 8, _mm256_loadu_ps(src + i + 8));
#endif
    }
  }
#endif
  for (; i < n; i += V::W) {
    const int nw = static_cast<int>(std::min<int64_t>(V::W, n - i));
    V::store_first(dst + i, V::load_first(src + i, nw), nw);
  }
}

// Units u0..u1 of the n staged rows from `row` at step t to their destinations and to h_seq (h is the last
// variable).
RNNSCOPE_INLINE void flush(const Job& j, const float* stage, int64_t row, int64_t n, int64_t t, int64_t u0,
                           int64_t u1) {
  const Dest& d = j.out;
  for (int64_t r = 0; r < n; ++r) {
    const int64_t off = d.row_offset[row + r] + t * d.time_stride;
    for (int k = 0; k < d.n_vars; ++k) {
      const float* src = stage + (k * V::kRows + r) * j.Hp;
      if (k == d.n_vars - 1) stream_copy(j.h_seq + ((row + r) * j.T + t) * j.H + u0, src + u0, u1 - u0);
      float* base = d.base[k];
      if (!base) continue;
      if (d.unit_stride == 1) {
        stream_copy(base + off + u0, src + u0, u1 - u0);
      } else {
        for (int64_t u = u0; u < u1; ++u) base[off + u * d.unit_stride] = src[u];
      }
    }
  }
}

// Rows r0..r1 in tiles of at most V::kRows rows, balanced (16 rows: 5, 5, 6, never 6, 6, 4; a tile of few rows
// loads the same weights for less work): every panel p0..p1 of a tile (tile.run: matmul, equations, staged
// variables), then the tile's rows out of the stage (no stage: nothing to store).
template <class Tile>
RNNSCOPE_INLINE void for_rows(const Tile& tile, const Job& j, const float* stage, int64_t t, int64_t r0, int64_t r1,
                              int64_t p0, int64_t p1) {
  const int64_t rows = r1 - r0, tiles = (rows + V::kRows - 1) / V::kRows;
  for (int64_t i = 0; i < tiles; ++i) {
    const int64_t r = r0 + i * rows / tiles, n = r0 + (i + 1) * rows / tiles - r;
    for (int64_t p = p0; p < p1; ++p) run_tile(tile, r, n, p);
    if (stage) flush(j, stage, r, n, t, p0 * V::W, std::min(p1 * V::W, j.H));
  }
}

// |h| of one row, step and panel added to the frame's two groups (the summaries' class and segment sums): the
// shared group in the row's own sums, the row's group straight.
RNNSCOPE_INLINE void add_groups(const Job& j, int64_t row, int64_t t, int64_t j0, V::R h) {
  if (!j.groups) return;
  const int32_t* g = j.groups + (row * j.T + t) * 2;
  const V::R a = V::abs(h);
  if (g[0] >= 0) {
    float* sum = j.row_sums + (row * j.n_shared + g[0]) * j.Hp + j0;
    V::store(sum, V::add(V::load(sum), a));
  }
  if (g[1] >= 0) {
    float* sum = j.own_sums + g[1] * j.Hp + j0;
    V::store(sum, V::add(V::load(sum), a));
  }
}

// Running min / max of the kept variables over the rows of one tile (valid frames only, lane by lane, NaN
// skipped), folded into the thread's slot of j.racc once per tile.
template <int NV>
struct TileRanges {
  V::R lo[NV], hi[NV];
  bool any = false;

  TileRanges() {
    for (int k = 0; k < NV; ++k) {
      lo[k] = V::set1(std::numeric_limits<float>::infinity());
      hi[k] = V::set1(-std::numeric_limits<float>::infinity());
    }
  }
  RNNSCOPE_INLINE void add(const Dest& d, const V::R* vals, int nw) {
    for (int k = 0; k < NV; ++k) {
      if (!d.base[k]) continue;
      const V::R v = V::nan_from(vals[k], nw);
      lo[k] = V::min_num(v, lo[k]);
      hi[k] = V::max_num(v, hi[k]);
    }
    any = true;
  }
  RNNSCOPE_INLINE void fold(const Job& j, int64_t slot) const {
    if (!any) return;
    float* acc = j.racc + slot * NV * 2 * V::W;
    for (int k = 0; k < NV; ++k) {
      if (!j.out.base[k]) continue;
      float* a = acc + k * 2 * V::W;
      V::store(a, V::min_num(lo[k], V::load(a)));
      V::store(a + V::W, V::max_num(hi[k], V::load(a + V::W)));
    }
  }
};

RNNSCOPE_INLINE int panel_units(const Job& j, int64_t p) { return static_cast<int>(std::min<int64_t>(V::W, j.H - p * V::W)); }

// The bias row of a panel's packed weights (after its I + H rows) as initial accumulators.
template <int Rn, int NG>
inline void start(V::R (&acc)[Rn][NG], const float* wp, int64_t K) {
  for (int g = 0; g < NG; ++g) {
    const V::R b = V::load(wp + (K * NG + g) * V::W);
    for (int r = 0; r < Rn; ++r) acc[r][g] = b;
  }
}

// ------------------------------------------------------------------------------------------------------- LSTM
// Packed weights per panel: I + H + 1 rows (x, h, bias) of 4 gate vectors (i, f, g, o).
// Variables: input_gate, forget_gate, cell_input, output_gate, c, h.

struct LstmTile {
  const Job& j;
  int64_t t, slot;
  const float* h_prev;
  float* h_next;
  float* stage;

  template <int Rn>
  void run(int64_t row, int64_t p) const {
    const int64_t K = j.I + j.H;
    const float* wp = j.w + p * (K + 1) * 4 * V::W;
    V::R acc[Rn][4];
    start<Rn, 4>(acc, wp, K);
    gemm<Rn, 4, 0xF>(acc, j.x + (row * j.T + t) * j.I, j.T * j.I, wp, j.I);
    gemm<Rn, 4, 0xF>(acc, h_prev + row * j.Hp, j.Hp, wp + j.I * 4 * V::W, j.H);
    const int64_t j0 = p * V::W;
    const int nw = panel_units(j, p);
    TileRanges<6> ranges;
    for (int r = 0; r < Rn; ++r) {
      V::R v[6];
      v[0] = vsigmoid(acc[r][0]);
      v[1] = vsigmoid(acc[r][1]);
      v[2] = vtanh(acc[r][2]);
      v[3] = vsigmoid(acc[r][3]);
      float* c = j.cbuf + (row + r) * j.Hp + j0;
      v[4] = V::fmadd(v[1], V::load(c), V::mul(v[0], v[2]));  // c = f c + i g
      V::store(c, v[4]);
      v[5] = V::mul(v[3], vtanh(v[4]));  // h = o tanh(c)
      if (j.keep) v[5] = V::mul(v[5], V::load(j.keep + j0));
      V::store(h_next + (row + r) * j.Hp + j0, v[5]);
      stage_put(stage, j.Hp, r, j0, v, 6);
      add_groups(j, row + r, t, j0, v[5]);
      if (t < j.out.n_valid[row + r]) ranges.add(j.out, v, nw);
    }
    ranges.fold(j, slot);
  }
};

inline void lstm_step(const Job& j, int64_t t, int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t slot,
                      float* stage, Barrier* barrier) {
  const LstmTile tile{j, t, slot, j.hbuf[t % 2], j.hbuf[(t + 1) % 2], stage};
  for_rows(tile, j, stage, t, r0, r1, p0, p1);
  if (barrier) barrier->wait();  // every unit of h_t is written before any thread reads it at t + 1
}

// -------------------------------------------------------------------------------------------------------- GRU
// Packed weights per panel: rows of x, h, bias with 4 vectors: r, z (x and h), n from x, n from h.
// Variables: reset_gate, update_gate, candidate, h.

struct GruTile {
  const Job& j;
  int64_t t, slot;
  const float* h_prev;
  float* h_next;
  float* stage;

  template <int Rn>
  void run(int64_t row, int64_t p) const {
    const int64_t K = j.I + j.H;
    const float* wp = j.w + p * (K + 1) * 4 * V::W;
    V::R acc[Rn][4];
    start<Rn, 4>(acc, wp, K);
    gemm<Rn, 4, 0x7>(acc, j.x + (row * j.T + t) * j.I, j.T * j.I, wp, j.I);                 // r, z, n from x
    gemm<Rn, 4, 0xB>(acc, h_prev + row * j.Hp, j.Hp, wp + j.I * 4 * V::W, j.H);            // r, z, n from h
    const int64_t j0 = p * V::W;
    const int nw = panel_units(j, p);
    TileRanges<4> ranges;
    for (int r = 0; r < Rn; ++r) {
      V::R v[4];
      v[0] = vsigmoid(acc[r][0]);
      v[1] = vsigmoid(acc[r][1]);
      v[2] = vtanh(V::fmadd(v[0], acc[r][3], acc[r][2]));  // n = tanh(x_n + r h_n)
      const V::R hp = V::load(h_prev + (row + r) * j.Hp + j0);
      v[3] = V::fmadd(v[1], V::sub(hp, v[2]), v[2]);  // h = n + z (h_prev - n)
      if (j.keep) v[3] = V::mul(v[3], V::load(j.keep + j0));
      V::store(h_next + (row + r) * j.Hp + j0, v[3]);
      stage_put(stage, j.Hp, r, j0, v, 4);
      add_groups(j, row + r, t, j0, v[3]);
      if (t < j.out.n_valid[row + r]) ranges.add(j.out, v, nw);
    }
    ranges.fold(j, slot);
  }
};

inline void gru_step(const Job& j, int64_t t, int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t slot,
                     float* stage, Barrier* barrier) {
  const GruTile tile{j, t, slot, j.hbuf[t % 2], j.hbuf[(t + 1) % 2], stage};
  for_rows(tile, j, stage, t, r0, r1, p0, p1);
  if (barrier) barrier->wait();
}

// -------------------------------------------------------------------------------------------------- lazy LSTM
// First matmul (packed like the LSTM's): i, f, o from x and m_{t-1}, the candidate's x part; then m_t = o tanh(c_{t-1})
// of every unit; then the candidate's second matmul reads m_t (w2: H rows of one vector per panel), and the cell.
// Variables: input_gate, forget_gate, cell_input, output_gate, c, h (= m).

struct LazyGatesTile {
  const Job& j;
  int64_t t;
  const float* m_prev;
  float* m_next;

  template <int Rn>
  void run(int64_t row, int64_t p) const {
    const int64_t K = j.I + j.H;
    const float* wp = j.w + p * (K + 1) * 4 * V::W;
    V::R acc[Rn][4];
    start<Rn, 4>(acc, wp, K);
    gemm<Rn, 4, 0xF>(acc, j.x + (row * j.T + t) * j.I, j.T * j.I, wp, j.I);
    gemm<Rn, 4, 0xB>(acc, m_prev + row * j.Hp, j.Hp, wp + j.I * 4 * V::W, j.H);  // the g block reads m_t, later
    const int64_t j0 = p * V::W;
    for (int r = 0; r < Rn; ++r) {
      float* g = j.gbuf + (row + r) * 4 * j.Hp + j0;  // i, f, candidate's x part, o
      const V::R o = vsigmoid(acc[r][3]);
      V::store(g, vsigmoid(acc[r][0]));
      V::store(g + j.Hp, vsigmoid(acc[r][1]));
      V::store(g + 2 * j.Hp, acc[r][2]);
      V::store(g + 3 * j.Hp, o);
      V::R m = V::mul(o, vtanh(V::load(j.cbuf + (row + r) * j.Hp + j0)));  // the output first, from the old cell
      if (j.keep) m = V::mul(m, V::load(j.keep + j0));
      V::store(m_next + (row + r) * j.Hp + j0, m);
    }
  }
};

struct LazyCellTile {
  const Job& j;
  int64_t t, slot;
  const float* m;  // m_t of every unit
  float* stage;

  template <int Rn>
  void run(int64_t row, int64_t p) const {
    const int64_t j0 = p * V::W;
    V::R acc[Rn][1];
    for (int r = 0; r < Rn; ++r) acc[r][0] = V::load(j.gbuf + (row + r) * 4 * j.Hp + 2 * j.Hp + j0);
    gemm<Rn, 1, 1>(acc, m + row * j.Hp, j.Hp, j.w2 + p * j.H * V::W, j.H);  // + W_cm m_t
    const int nw = panel_units(j, p);
    TileRanges<6> ranges;
    for (int r = 0; r < Rn; ++r) {
      const float* g = j.gbuf + (row + r) * 4 * j.Hp + j0;
      V::R v[6];
      v[0] = V::load(g);
      v[1] = V::load(g + j.Hp);
      v[2] = vtanh(acc[r][0]);
      v[3] = V::load(g + 3 * j.Hp);
      float* c = j.cbuf + (row + r) * j.Hp + j0;
      v[4] = V::fmadd(v[1], V::load(c), V::mul(v[0], v[2]));  // the cell last
      V::store(c, v[4]);
      v[5] = V::load(m + (row + r) * j.Hp + j0);
      stage_put(stage, j.Hp, r, j0, v, 6);
      add_groups(j, row + r, t, j0, v[5]);
      if (t < j.out.n_valid[row + r]) ranges.add(j.out, v, nw);
    }
    ranges.fold(j, slot);
  }
};

inline void lazy_step(const Job& j, int64_t t, int64_t r0, int64_t r1, int64_t p0, int64_t p1, int64_t slot,
                      float* stage, Barrier* barrier) {
  const LazyGatesTile gates{j, t, j.hbuf[t % 2], j.hbuf[(t + 1) % 2]};
  for_rows(gates, j, nullptr, t, r0, r1, p0, p1);
  if (barrier) barrier->wait();  // the candidate reads m_t of every unit
  const LazyCellTile cell{j, t, slot, j.hbuf[(t + 1) % 2], stage};
  for_rows(cell, j, stage, t, r0, r1, p0, p1);
}

// ------------------------------------------------------------------------------------------------- the threads
// Thread `tid` of a team of `nt`: whole blocks of rows (each thread runs the whole sequence of its rows, no
// synchronisation), or, with fewer rows than threads (j.n_blocks == 0), its share of the panels of every row with
// one barrier per step. The value ranges go to slot b (block b) or tid (the thread's share).

template <void (*Step)(const Job&, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, float*, Barrier*)>
void run_thread(const Job& j, int tid, int nt, Barrier* barrier) {
  float* stage = j.stage + tid * j.stage_floats;
  if (j.n_blocks > 0) {
    for (int64_t b = tid; b < j.n_blocks; b += nt) {
      const int64_t r0 = b * j.B / j.n_blocks, r1 = (b + 1) * j.B / j.n_blocks;
      for (int64_t t = 0; t < j.T; ++t) Step(j, t, r0, r1, 0, j.panels, b, stage, nullptr);
    }
  } else {
    const int64_t p0 = tid * j.panels / nt, p1 = (tid + 1) * j.panels / nt;
    for (int64_t t = 0; t < j.T; ++t) Step(j, t, 0, j.B, p0, p1, tid, stage, nt > 1 ? barrier : nullptr);
  }
#if RNNSCOPE_ISA == 512 || RNNSCOPE_ISA == 256
  _mm_sfence();  // the streaming stores are visible to every thread once the team is done
#endif
}

inline void lstm_thread(const Job& j, int tid, int nt, Barrier* barrier) { run_thread<lstm_step>(j, tid, nt, barrier); }
inline void gru_thread(const Job& j, int tid, int nt, Barrier* barrier) { run_thread<gru_step>(j, tid, nt, barrier); }
inline void lazy_thread(const Job& j, int tid, int nt, Barrier* barrier) { run_thread<lazy_step>(j, tid, nt, barrier); }
