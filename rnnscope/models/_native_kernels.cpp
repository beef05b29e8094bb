// rnnscope's native capture kernels: LSTM, GRU and lazy-LSTM step loops that keep every internal variable.
//
// Compiled on first use by rnnscope/models/_native.py (torch.utils.cpp_extension) and registered as
// torch.ops.rnnscope_native.*. Every argument is checked on entry (devices, dtypes, shapes, contiguity, offsets and
// strides against the output tensors' sizes): a mistake on the Python side raises a RuntimeError naming the
// argument, never a crash. The op schemas mark every tensor a kernel writes as mutated (Tensor(a!)).
//
// Why it is fast. PyTorch's fused RNN kernels never expose gates or cell states, and a step loop of PyTorch
// operators pays one dispatch per elementwise op per step. Here the batch is split into blocks of 16 rows spread
// over the threads: the recurrence of a row only reads that row, so each thread runs the whole sequence of its rows
// without any synchronisation. Per step a thread makes ONE matmul (input and recurrent weights stacked, so the
// input projection is part of it) and ONE pass over the gate pre-activations that applies the nonlinearities and
// writes every variable straight into its destination: the caller gives one flat tensor per variable, a row
// offset per batch row and the time and unit strides (a (B, T, H) buffer, or a capture's own run arrays).
//
// Nonlinearities: exp through a range reduction to [-ln2/2, ln2/2] and a degree-6 Taylor polynomial (relative
// error about 1e-7), sigmoid(x) = 1 / (1 + exp(-x)), tanh(x) = 2 sigmoid(2x) - 1 (absolute error about 2e-7).
// With AVX2 + FMA eight values at a time (GCC/Clang -mavx2 -mfma, MSVC /arch:AVX2), else the same formulas one
// value at a time (ARM, e.g. Apple silicon, and x86 CPUs without AVX2).

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/library.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#if defined(__AVX2__) && (defined(__FMA__) || defined(_MSC_VER))
#include <immintrin.h>
#define RNNSCOPE_AVX2 1
#endif

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2Hi = 0.693145751953125f;     // ln 2 split in two for an exact n * ln2
constexpr float kLn2Lo = 1.428606765330187e-06f;
constexpr float kExpMin = -87.3f;                 // exp(kExpMin) is still a normal float
constexpr float kExpMax = 88.3f;

inline float exp_scalar(float x) {
  x = std::min(std::max(x, kExpMin), kExpMax);
  const float n = std::nearbyint(x * kLog2e);
  float r = x - n * kLn2Hi;
  r = r - n * kLn2Lo;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  const int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float sigmoid_scalar(float x) { return 1.0f / (1.0f + exp_scalar(-x)); }
inline float tanh_scalar(float x) { return 2.0f / (1.0f + exp_scalar(-2.0f * x)) - 1.0f; }

#ifdef RNNSCOPE_AVX2
inline __m256 exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(kExpMin)), _mm256_set1_ps(kExpMax));
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Hi), x);
  r = _mm256_fnmadd_ps(n, _mm256_set1_ps(kLn2Lo), r);
  __m256 p = _mm256_set1_ps(1.0f / 720.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

inline __m256 sigmoid8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_sub_ps(_mm256_setzero_ps(), x))));
}

inline __m256 tanh8(__m256 x) {
  const __m256 one = _mm256_set1_ps(1.0f);
  const __m256 e = exp8(_mm256_mul_ps(x, _mm256_set1_ps(-2.0f)));
  return _mm256_sub_ps(_mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(one, e)), one);
}
#endif

// out[j] = f(v[j]) for n values (out may be v): eight at a time with vec, the tail with scalar.
#ifdef RNNSCOPE_AVX2
#define RNNSCOPE_MAP(vec, scalar)                                                                               \
  [](const float* v, float* out, int64_t n) {                                                                   \
    int64_t j = 0;                                                                                              \
    for (; j + 8 <= n; j += 8) _mm256_storeu_ps(out + j, vec(_mm256_loadu_ps(v + j)));                          \
    for (; j < n; ++j) out[j] = scalar(v[j]);                                                                   \
  }
#else
#define RNNSCOPE_MAP(vec, scalar)                                                                               \
  [](const float* v, float* out, int64_t n) {                                                                   \
    for (int64_t j = 0; j < n; ++j) out[j] = scalar(v[j]);                                                      \
  }
#endif

using MapFn = void (*)(const float*, float*, int64_t);
const MapFn exp_to = RNNSCOPE_MAP(exp8, exp_scalar);
const MapFn sigmoid_to = RNNSCOPE_MAP(sigmoid8, sigmoid_scalar);
const MapFn tanh_to = RNNSCOPE_MAP(tanh8, tanh_scalar);

inline void sigmoid_inplace(float* v, int64_t n) { sigmoid_to(v, v, n); }
inline void tanh_inplace(float* v, int64_t n) { tanh_to(v, v, n); }

// Rows per block. Fixed, so the blocks (and so every matmul's shape and the rounding of the results) do not
// depend on the number of threads: a capture gives the same bits with 1 or 16 threads.
constexpr int64_t kRowsPerBlock = 16;

// Runs fn(first_row, last_row) on blocks of rows spread over PyTorch's intra-op threads, with the caller's
// autograd mode.
template <typename F>
void for_row_blocks(int64_t rows, const F& fn) {
  const int64_t blocks = (rows + kRowsPerBlock - 1) / kRowsPerBlock;
  const bool inference = c10::InferenceMode::is_enabled();
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    c10::InferenceMode inference_guard(inference);
    at::NoGradGuard no_grad;
    for (int64_t b = b0; b < b1; ++b) fn(b * kRowsPerBlock, std::min(rows, (b + 1) * kRowsPerBlock));
  });
}

// Copies x[r, t, :] (x is (B, T, I)) into the first I columns of the per-thread buffer xh (rows, I + H + 1):
// [x_t | h_{t-1} | 1], so one matmul with w = [W_ih^T; W_hh^T; bias] gives every pre-activation.
inline void load_inputs(const float* x, int64_t T, int64_t I, int64_t t, int64_t r0, int64_t n_rows, float* xh,
                        int64_t K) {
  for (int64_t r = 0; r < n_rows; ++r) std::memcpy(xh + r * K, x + ((r0 + r) * T + t) * I, I * sizeof(float));
}

// One thread's block of rows: the matmul input xh = [x_t | h_{t-1} | 1] (rows, I + H + 1) and the gate
// pre-activations of the step.
struct Block {
  int64_t r0, n, index, I, H, K, T;
  at::Tensor xh, gates;
  float* xhd;
  const float* x;

  Block(const at::Tensor& x_, const at::Tensor& h0, int64_t first, int64_t last, int64_t gate_columns)
      : r0(first), n(last - first), index(first / kRowsPerBlock), I(x_.size(2)), H(h0.size(1)),
        K(x_.size(2) + h0.size(1) + 1), T(x_.size(1)), xh(at::empty({last - first, K}, x_.options())),
        gates(at::empty({last - first, gate_columns}, x_.options())), xhd(xh.data_ptr<float>()),
        x(x_.data_ptr<float>()) {
    for (int64_t r = 0; r < n; ++r) {
      std::memcpy(h(r), h0.data_ptr<float>() + (r0 + r) * H, H * sizeof(float));
      xhd[r * K + K - 1] = 1.0f;
    }
  }

  float* h(int64_t r) { return xhd + r * K + I; }  // h_{t-1} of row r, where the matmul reads it

  // Loads x_t and makes the step's one matmul; returns the pre-activations (rows, gate_columns).
  float* step(int64_t t, const at::Tensor& w) {
    load_inputs(x, T, I, t, r0, n, xhd, K);
    at::mm_out(gates, xh, w);
    return gates.data_ptr<float>();
  }
};

// Where a kernel writes. Variable k of batch row r at step t, unit j goes to
//   base[k] + row_offset[r] + t * time_stride + j * unit_stride      (base[k] == nullptr: variable not kept),
// so the outputs can be (B, T, H) buffers or the run's own (event, time, unit, layer) arrays (rows scattered by
// length order, any window, any layer). Also: h of every step into h_seq (B, T, H) (the next layer's input), the
// last state into h_last / c_last (B, H), and the min / max of each kept variable over the valid steps
// (t < n_valid[r]) of each block of rows into ranges (blocks, n_vars, 2).
struct Outputs {
  std::vector<float*> base;
  const int64_t* row_offset;
  int64_t time_stride, unit_stride, T, H;
  float* h_seq;
  float* h_last;
  float* c_last;
  const int64_t* n_valid;
  float* ranges;
  int64_t n_vars;

  Outputs(const c10::List<c10::optional<at::Tensor>>& outputs, const at::Tensor& row_offsets, int64_t time_stride_,
          int64_t unit_stride_, at::Tensor& h_seq_, at::Tensor& h_last_, const c10::optional<at::Tensor>& c_last_,
          const at::Tensor& n_valid_, at::Tensor& ranges_)
      : row_offset(row_offsets.data_ptr<int64_t>()), time_stride(time_stride_), unit_stride(unit_stride_),
        T(h_seq_.size(1)), H(h_seq_.size(2)), h_seq(h_seq_.data_ptr<float>()), h_last(h_last_.data_ptr<float>()),
        c_last(c_last_.has_value() ? c_last_->data_ptr<float>() : nullptr), n_valid(n_valid_.data_ptr<int64_t>()),
        ranges(ranges_.data_ptr<float>()), n_vars(static_cast<int64_t>(outputs.size())) {
    for (const c10::optional<at::Tensor>& o : outputs) base.push_back(o.has_value() ? o->data_ptr<float>() : nullptr);
  }

  // Variables of one row at one step, each in scratch + k * H: kept ones are stored and their range updated.
  void put(const float* scratch, int64_t row, int64_t t, int64_t block) const {
    const bool valid = t < n_valid[row];
    for (int64_t k = 0; k < n_vars; ++k) {
      const float* v = scratch + k * H;
      if (base[k]) {
        float* dst = base[k] + row_offset[row] + t * time_stride;
        if (unit_stride == 1) {
          std::memcpy(dst, v, H * sizeof(float));
        } else {
          for (int64_t j = 0; j < H; ++j) dst[j * unit_stride] = v[j];
        }
        if (valid) update_range(v, ranges + (block * n_vars + k) * 2);
      }
    }
    std::memcpy(h_seq + (row * T + t) * H, scratch + (n_vars - 1) * H, H * sizeof(float));  // h is always last
  }

  void update_range(const float* v, float* range) const {
    float lo = range[0], hi = range[1];
    int64_t j = 0;
#ifdef RNNSCOPE_AVX2
    __m256 vlo = _mm256_set1_ps(lo), vhi = _mm256_set1_ps(hi);
    for (; j + 8 <= H; j += 8) {
      const __m256 x = _mm256_loadu_ps(v + j);
      vlo = _mm256_min_ps(vlo, x);
      vhi = _mm256_max_ps(vhi, x);
    }
    float l8[8], h8[8];
    _mm256_storeu_ps(l8, vlo);
    _mm256_storeu_ps(h8, vhi);
    for (int q = 0; q < 8; ++q) { lo = std::min(lo, l8[q]); hi = std::max(hi, h8[q]); }
#endif
    for (; j < H; ++j) { lo = std::min(lo, v[j]); hi = std::max(hi, v[j]); }
    range[0] = lo;
    range[1] = hi;
  }

  void finish(int64_t row, const float* h, const float* c) const {
    std::memcpy(h_last + row * H, h, H * sizeof(float));
    if (c_last && c) std::memcpy(c_last + row * H, c, H * sizeof(float));
  }
};

inline void init_ranges(at::Tensor& ranges) {
  auto r = ranges.view({-1, 2});
  r.select(1, 0).fill_(std::numeric_limits<float>::infinity());
  r.select(1, 1).fill_(-std::numeric_limits<float>::infinity());
}

// Running min / max of up to 8 variables: vector lanes plus a scalar tail, folded into Outputs::ranges at the end.
struct Ranges {
  float lo[8], hi[8];
#ifdef RNNSCOPE_AVX2
  __m256 vlo[8], vhi[8];
#endif
  Ranges() {
    for (int k = 0; k < 8; ++k) {
      lo[k] = std::numeric_limits<float>::infinity();
      hi[k] = -std::numeric_limits<float>::infinity();
#ifdef RNNSCOPE_AVX2
      vlo[k] = _mm256_set1_ps(lo[k]);
      vhi[k] = _mm256_set1_ps(hi[k]);
#endif
    }
  }
  void fold_into(float* ranges, int64_t n_vars) {
    for (int64_t k = 0; k < n_vars; ++k) {
      float l = lo[k], h = hi[k];
#ifdef RNNSCOPE_AVX2
      float l8[8], h8[8];
      _mm256_storeu_ps(l8, vlo[k]);
      _mm256_storeu_ps(h8, vhi[k]);
      for (int q = 0; q < 8; ++q) { l = std::min(l, l8[q]); h = std::max(h, h8[q]); }
#endif
      ranges[k * 2] = std::min(ranges[k * 2], l);
      ranges[k * 2 + 1] = std::max(ranges[k * 2 + 1], h);
    }
  }
};

// One row of one LSTM step, straight into the destinations (unit stride 1): dst[k] of (i, f, g, o, c, h), each
// possibly null; c updated in place; h also to h_seq and h_next; ranges of the kept variables when `valid`.
inline void lstm_step_direct(const float* gr, float* c, const float* keep, int64_t H, float* const* dst, float* h_seq,
                             float* h_next, bool valid, Ranges& acc) {
  int64_t j = 0;
#ifdef RNNSCOPE_AVX2
  for (; j + 8 <= H; j += 8) {
    __m256 v[6];
    v[0] = sigmoid8(_mm256_loadu_ps(gr + j));
    v[1] = sigmoid8(_mm256_loadu_ps(gr + H + j));
    v[2] = tanh8(_mm256_loadu_ps(gr + 2 * H + j));
    v[3] = sigmoid8(_mm256_loadu_ps(gr + 3 * H + j));
    v[4] = _mm256_fmadd_ps(v[1], _mm256_loadu_ps(c + j), _mm256_mul_ps(v[0], v[2]));
    v[5] = _mm256_mul_ps(v[3], tanh8(v[4]));
    if (keep) v[5] = _mm256_mul_ps(v[5], _mm256_loadu_ps(keep + j));
    _mm256_storeu_ps(c + j, v[4]);
    _mm256_storeu_ps(h_seq + j, v[5]);
    _mm256_storeu_ps(h_next + j, v[5]);
    for (int k = 0; k < 6; ++k) {
      if (!dst[k]) continue;
      _mm256_storeu_ps(dst[k] + j, v[k]);
      if (valid) {
        acc.vlo[k] = _mm256_min_ps(acc.vlo[k], v[k]);
        acc.vhi[k] = _mm256_max_ps(acc.vhi[k], v[k]);
      }
    }
  }
#endif
  for (; j < H; ++j) {
    float v[6];
    v[0] = sigmoid_scalar(gr[j]);
    v[1] = sigmoid_scalar(gr[H + j]);
    v[2] = tanh_scalar(gr[2 * H + j]);
    v[3] = sigmoid_scalar(gr[3 * H + j]);
    v[4] = v[1] * c[j] + v[0] * v[2];
    v[5] = v[3] * tanh_scalar(v[4]);
    if (keep) v[5] *= keep[j];
    c[j] = v[4];
    h_seq[j] = v[5];
    h_next[j] = v[5];
    for (int k = 0; k < 6; ++k) {
      if (!dst[k]) continue;
      dst[k][j] = v[k];
      if (valid) {
        acc.lo[k] = std::min(acc.lo[k], v[k]);
        acc.hi[k] = std::max(acc.hi[k], v[k]);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------- argument checks
// Every op checks its arguments before touching memory. Messages say what was expected, what arrived and, where it
// helps, how to fix it; they surface in Python as RuntimeError.

const char* dtype_name(at::ScalarType t) {
  switch (t) {
    case at::kFloat: return "float32";
    case at::kDouble: return "float64";
    case at::kHalf: return "float16";
    case at::kBFloat16: return "bfloat16";
    case at::kLong: return "int64";
    case at::kInt: return "int32";
    case at::kBool: return "bool";
    default: return c10::toString(t);
  }
}

std::string describe(const at::Tensor& t) {
  std::ostringstream s;
  s << "a tensor of dtype " << dtype_name(t.scalar_type()) << ", shape " << t.sizes() << " on " << t.device()
    << (t.is_contiguous() ? "" : " (not contiguous)");
  return s.str();
}

std::string shape_text(const std::vector<int64_t>& shape) {  // -1 = any size
  std::ostringstream s;
  s << "[";
  for (size_t d = 0; d < shape.size(); ++d) s << (d ? ", " : "") << (shape[d] < 0 ? std::string("*") : std::to_string(shape[d]));
  s << "]";
  return s.str();
}

// A contiguous CPU tensor of dtype `dtype` and shape `shape` (-1: any size); `dims` names the dimensions.
void check_tensor(const char* op, const char* name, const at::Tensor& t, at::ScalarType dtype,
                  const std::vector<int64_t>& shape, const char* dims) {
  bool ok = t.device().is_cpu() && t.scalar_type() == dtype && t.is_contiguous() &&
            t.dim() == static_cast<int64_t>(shape.size());
  for (size_t d = 0; ok && d < shape.size(); ++d) ok = shape[d] < 0 || t.size(d) == shape[d];
  TORCH_CHECK(ok, "The '", name, "' argument of rnnscope_native::", op, " must be a contiguous ", dtype_name(dtype),
              " CPU tensor of shape ", dims, " = ", shape_text(shape), ". Got ", describe(t), " instead.");
}

void check_optional(const char* op, const char* name, const c10::optional<at::Tensor>& t, at::ScalarType dtype,
                    const std::vector<int64_t>& shape, const char* dims) {
  if (t.has_value()) check_tensor(op, name, *t, dtype, shape, dims);
}

// The sizes every kernel reads from x (B, T, I) and its initial output state (B, H).
struct Sizes {
  int64_t B, T, I, H;
};

Sizes check_inputs(const char* op, const at::Tensor& x, const at::Tensor& h0, const char* h0_name) {
  check_tensor(op, "x", x, at::kFloat, {-1, -1, -1}, "(batch, time, input)");
  const int64_t B = x.size(0);
  check_tensor(op, h0_name, h0, at::kFloat, {B, -1}, "(batch, hidden)");
  const int64_t H = h0.size(1);
  TORCH_CHECK(H >= 1, "The '", h0_name, "' argument of rnnscope_native::", op,
              " must have at least one hidden unit. Got ", describe(h0), " instead.");
  return {B, x.size(1), x.size(2), H};
}

// The destinations: outputs[k] (one per variable, `names`), each written at row_offsets[r] + t * time_stride +
// j * unit_stride for row r, frame t < T, unit j < H; h_seq (B, T, H), h_last / c_last (B, H), n_valid (B) and
// ranges (blocks, n_vars, 2).
void check_outputs(const char* op, const std::vector<const char*>& names, const Sizes& z,
                   const c10::List<c10::optional<at::Tensor>>& outputs, const at::Tensor& row_offsets,
                   int64_t time_stride, int64_t unit_stride, const at::Tensor& h_seq, const at::Tensor& h_last,
                   const c10::optional<at::Tensor>& c_last, const at::Tensor& n_valid, const at::Tensor& ranges,
                   int64_t rows_per_block) {
  const int64_t n_vars = static_cast<int64_t>(names.size());
  std::ostringstream order;
  for (size_t k = 0; k < names.size(); ++k) order << (k ? ", " : "") << names[k];
  TORCH_CHECK(static_cast<int64_t>(outputs.size()) == n_vars, "The 'outputs' argument of rnnscope_native::", op,
              " must hold ", n_vars, " entries (a tensor or None for each of ", order.str(), "). Got ",
              outputs.size(), " instead.");
  check_tensor(op, "row_offsets", row_offsets, at::kLong, {z.B}, "(batch,)");
  check_tensor(op, "n_valid", n_valid, at::kLong, {z.B}, "(batch,)");
  TORCH_CHECK(time_stride >= 1 && unit_stride >= 1, "The 'time_stride' and 'unit_stride' arguments of rnnscope_native::",
              op, " must be >= 1 (elements between frames, between units). Got ", time_stride, " and ", unit_stride,
              " instead.");
  check_tensor(op, "h_seq", h_seq, at::kFloat, {z.B, z.T, z.H}, "(batch, time, hidden)");
  check_tensor(op, "h_last", h_last, at::kFloat, {z.B, z.H}, "(batch, hidden)");
  check_optional(op, "c_last", c_last, at::kFloat, {z.B, z.H}, "(batch, hidden)");
  const int64_t blocks = (z.B + rows_per_block - 1) / rows_per_block;
  check_tensor(op, "ranges", ranges, at::kFloat, {blocks, n_vars, 2}, "(blocks of rows_per_block() rows, variables, 2)");
  if (z.B == 0 || z.T == 0) return;
  const int64_t* off = row_offsets.data_ptr<int64_t>();
  const int64_t lowest = *std::min_element(off, off + z.B), highest = *std::max_element(off, off + z.B);
  const int64_t reach = highest + (z.T - 1) * time_stride + (z.H - 1) * unit_stride;  // last element written
  for (int64_t k = 0; k < n_vars; ++k) {
    const c10::optional<at::Tensor> o = outputs.get(k);
    if (!o.has_value()) continue;
    check_tensor(op, names[k], *o, at::kFloat, std::vector<int64_t>(o->dim(), -1), "(any)");
    TORCH_CHECK(lowest >= 0 && reach < o->numel(), "The 'outputs' argument of rnnscope_native::", op, " is too small for ",
                names[k], ": it has ", o->numel(), " elements, but row offsets from ", lowest, " to ", highest,
                " with time_stride ", time_stride, ", unit_stride ", unit_stride, ", ", z.T, " frames and ", z.H,
                " units reach element ", reach, ". Give offsets and strides that stay inside every output.");
  }
}

#define RNNSCOPE_OUTPUT_ARGS                                                                                     \
  const c10::List<c10::optional<at::Tensor>>&outputs, const at::Tensor &row_offsets, int64_t time_stride,         \
      int64_t unit_stride, at::Tensor &h_seq, at::Tensor &h_last, const c10::optional<at::Tensor>&c_last,         \
      const at::Tensor &n_valid, at::Tensor &ranges

// Every tensor a kernel writes is marked as mutated (alias sets a, b, c, d, e).
#define RNNSCOPE_OUTPUT_SCHEMA                                                                                   \
  "Tensor(a!)?[] outputs, Tensor row_offsets, int time_stride, int unit_stride, Tensor(b!) h_seq, "           \
  "Tensor(c!) h_last, Tensor(d!)? c_last, Tensor n_valid, Tensor(e!) ranges) -> ()"

#define RNNSCOPE_CHECK_OUTPUTS(op, ...)                                                                          \
  check_outputs(op, {__VA_ARGS__}, z, outputs, row_offsets, time_stride, unit_stride, h_seq, h_last, c_last,     \
                n_valid, ranges, kRowsPerBlock)

// ------------------------------------------------------------------------------------------------------ LSTM
// x (B, T, I); w (I + H + 1, 4H) = [W_ih^T; W_hh^T; b_ih + b_hh] (masked columns of W_hh already zeroed), gate
// order (i, f, g, o); h0, c0 (B, H); keep (H) 0/1 factor or undefined.
// Variables, in this order: input_gate, forget_gate, cell_input, output_gate, c, h.
void lstm_trace(const at::Tensor& x, const at::Tensor& w, const at::Tensor& h0, const at::Tensor& c0,
                const c10::optional<at::Tensor>& keep, RNNSCOPE_OUTPUT_ARGS) {
  const char* op = "lstm_trace";
  const Sizes z = check_inputs(op, x, h0, "h0");
  check_tensor(op, "w", w, at::kFloat, {z.I + z.H + 1, 4 * z.H}, "(input + hidden + 1, 4 * hidden)");
  check_tensor(op, "c0", c0, at::kFloat, {z.B, z.H}, "(batch, hidden)");
  check_optional(op, "keep", keep, at::kFloat, {z.H}, "(hidden,)");
  RNNSCOPE_CHECK_OUTPUTS(op, "input_gate", "forget_gate", "cell_input", "output_gate", "c", "h");
  const int64_t B = z.B, T = z.T, H = z.H;
  init_ranges(ranges);
  const Outputs out(outputs, row_offsets, time_stride, unit_stride, h_seq, h_last, c_last, n_valid, ranges);
  const float* kd = keep.has_value() ? keep->data_ptr<float>() : nullptr;
  for_row_blocks(B, [&](int64_t r0, int64_t r1) {
    Block blk(x, h0, r0, r1, 4 * H);
    at::Tensor c_prev = c0.slice(0, r0, r1).clone();
    std::vector<float> scratch(6 * H);
    Ranges acc;
    float* cp = c_prev.data_ptr<float>();
    for (int64_t t = 0; t < T; ++t) {
      const float* g = blk.step(t, w);
      for (int64_t r = 0; r < blk.n; ++r) {
        const int64_t row = r0 + r;
        if (out.unit_stride == 1) {  // the common case: every variable stored as it is computed
          float* dst[6];
          for (int k = 0; k < 6; ++k) dst[k] = out.base[k] ? out.base[k] + out.row_offset[row] + t * out.time_stride : nullptr;
          lstm_step_direct(g + r * 4 * H, cp + r * H, kd, H, dst, out.h_seq + (row * T + t) * H, blk.h(r),
                           t < out.n_valid[row], acc);
        } else {  // strided destinations (several layers): compute into scratch rows, then store and measure
          float* dst[6];
          for (int k = 0; k < 6; ++k) dst[k] = scratch.data() + k * H;
          lstm_step_direct(g + r * 4 * H, cp + r * H, kd, H, dst, out.h_seq + (row * T + t) * H, blk.h(r), false, acc);
          out.put(scratch.data(), row, t, blk.index);
        }
      }
    }
    acc.fold_into(out.ranges + blk.index * out.n_vars * 2, out.n_vars);
    for (int64_t r = 0; r < blk.n; ++r) out.finish(r0 + r, blk.h(r), cp + r * H);
  });
}

// ------------------------------------------------------------------------------------------------------- GRU
// w (I + H + 1, 4H): columns [r, z | n from x | n from h]: rows of x hold [W_ir W_iz W_in 0]^T, rows of h hold
// [W_hr W_hz 0 W_hn]^T (masked columns already zeroed), the last row [b_ir + b_hr, b_iz + b_hz, b_in, b_hn].
// Variables, in this order: reset_gate r, update_gate z, candidate n, h.
void gru_trace(const at::Tensor& x, const at::Tensor& w, const at::Tensor& h0, const c10::optional<at::Tensor>& keep,
               RNNSCOPE_OUTPUT_ARGS) {
  const char* op = "gru_trace";
  const Sizes z = check_inputs(op, x, h0, "h0");
  check_tensor(op, "w", w, at::kFloat, {z.I + z.H + 1, 4 * z.H}, "(input + hidden + 1, 4 * hidden)");
  check_optional(op, "keep", keep, at::kFloat, {z.H}, "(hidden,)");
  RNNSCOPE_CHECK_OUTPUTS(op, "reset_gate", "update_gate", "candidate", "h");
  const int64_t B = z.B, T = z.T, H = z.H;
  init_ranges(ranges);
  const Outputs out(outputs, row_offsets, time_stride, unit_stride, h_seq, h_last, c_last, n_valid, ranges);
  const float* kd = keep.has_value() ? keep->data_ptr<float>() : nullptr;
  for_row_blocks(B, [&](int64_t r0, int64_t r1) {
    Block blk(x, h0, r0, r1, 4 * H);
    std::vector<float> scratch(4 * H);
    for (int64_t t = 0; t < T; ++t) {
      float* g = blk.step(t, w);
      for (int64_t r = 0; r < blk.n; ++r) {
        float* gr = g + r * 4 * H;
        sigmoid_inplace(gr, 2 * H);
        float* nx = gr + 2 * H;
        const float* nh = gr + 3 * H;
        for (int64_t j = 0; j < H; ++j) nx[j] += gr[j] * nh[j];
        tanh_inplace(nx, H);
        float* h_prev = blk.h(r);
        float* oh = scratch.data() + 3 * H;
        for (int64_t j = 0; j < H; ++j) oh[j] = nx[j] + gr[H + j] * (h_prev[j] - nx[j]);  // (1 - z) n + z h
        if (kd) for (int64_t j = 0; j < H; ++j) oh[j] *= kd[j];
        std::memcpy(scratch.data(), gr, 3 * H * sizeof(float));  // r, z, n
        std::memcpy(h_prev, oh, H * sizeof(float));
        out.put(scratch.data(), r0 + r, t, blk.index);
      }
    }
    for (int64_t r = 0; r < blk.n; ++r) out.finish(r0 + r, blk.h(r), nullptr);
  });
}

// ------------------------------------------------------------------------------------------------- lazy LSTM
// w (I + H + 1, 4H): columns (i, f, g, o); rows of x hold W_ih^T; rows of m_{t-1} hold [U_i U_f 0 U_o]^T; the last
// row b_ih + b_hh; w_cm (H, H) = W_cm^T (the g block reading m_t); masked columns already zeroed.
// Variables, in this order: input_gate, forget_gate, cell_input, output_gate, c, h (= m).
void lazy_lstm_trace(const at::Tensor& x, const at::Tensor& w, const at::Tensor& w_cm, const at::Tensor& m0,
                     const at::Tensor& c0, const c10::optional<at::Tensor>& keep, RNNSCOPE_OUTPUT_ARGS) {
  const char* op = "lazy_lstm_trace";
  const Sizes z = check_inputs(op, x, m0, "m0");
  check_tensor(op, "w", w, at::kFloat, {z.I + z.H + 1, 4 * z.H}, "(input + hidden + 1, 4 * hidden)");
  check_tensor(op, "w_cm", w_cm, at::kFloat, {z.H, z.H}, "(hidden, hidden)");
  check_tensor(op, "c0", c0, at::kFloat, {z.B, z.H}, "(batch, hidden)");
  check_optional(op, "keep", keep, at::kFloat, {z.H}, "(hidden,)");
  RNNSCOPE_CHECK_OUTPUTS(op, "input_gate", "forget_gate", "cell_input", "output_gate", "c", "h");
  const int64_t B = z.B, T = z.T, H = z.H;
  init_ranges(ranges);
  const Outputs out(outputs, row_offsets, time_stride, unit_stride, h_seq, h_last, c_last, n_valid, ranges);
  const float* kd = keep.has_value() ? keep->data_ptr<float>() : nullptr;
  for_row_blocks(B, [&](int64_t r0, int64_t r1) {
    Block blk(x, m0, r0, r1, 4 * H);
    at::Tensor m = at::empty({blk.n, H}, x.options());
    at::Tensor gm = at::empty({blk.n, H}, x.options());
    at::Tensor c_prev = c0.slice(0, r0, r1).clone();
    std::vector<float> scratch(6 * H);
    float* md = m.data_ptr<float>();
    float* cp = c_prev.data_ptr<float>();
    for (int64_t t = 0; t < T; ++t) {
      float* g = blk.step(t, w);
      for (int64_t r = 0; r < blk.n; ++r) {  // i, f, o, then m_t = o tanh(c_{t-1})
        float* gr = g + r * 4 * H;
        sigmoid_inplace(gr, 2 * H);
        sigmoid_inplace(gr + 3 * H, H);
        float* mr = md + r * H;
        tanh_to(cp + r * H, mr, H);
        for (int64_t j = 0; j < H; ++j) mr[j] *= gr[3 * H + j];
        if (kd) for (int64_t j = 0; j < H; ++j) mr[j] *= kd[j];
      }
      at::mm_out(gm, m, w_cm);  // the candidate reads the new output m_t
      const float* gmd = gm.data_ptr<float>();
      for (int64_t r = 0; r < blk.n; ++r) {
        float* gr = g + r * 4 * H;
        float* gg = gr + 2 * H;
        for (int64_t j = 0; j < H; ++j) gg[j] += gmd[r * H + j];
        tanh_inplace(gg, H);
        float* c = cp + r * H;
        for (int64_t j = 0; j < H; ++j) c[j] = gr[H + j] * c[j] + gr[j] * gg[j];
        std::memcpy(scratch.data(), gr, 4 * H * sizeof(float));  // i, f, g, o
        std::memcpy(scratch.data() + 4 * H, c, H * sizeof(float));
        std::memcpy(scratch.data() + 5 * H, md + r * H, H * sizeof(float));
        std::memcpy(blk.h(r), md + r * H, H * sizeof(float));
        out.put(scratch.data(), r0 + r, t, blk.index);
      }
    }
    for (int64_t r = 0; r < blk.n; ++r) out.finish(r0 + r, md + r * H, cp + r * H);
  });
}

// The nonlinearities alone, for the tests: mode 0 exp, 1 sigmoid, 2 tanh.
at::Tensor activation(const at::Tensor& x, int64_t mode) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat, "The 'x' argument of rnnscope_native::activation ",
              "must be a float32 CPU tensor. Got ", describe(x), " instead.");
  TORCH_CHECK(mode >= 0 && mode <= 2, "The 'mode' argument of rnnscope_native::activation must be 0 (exp), 1 ",
              "(sigmoid) or 2 (tanh). Got ", mode, " instead.");
  at::Tensor out = x.contiguous().clone();
  float* v = out.data_ptr<float>();
  (mode == 0 ? exp_to : mode == 1 ? sigmoid_to : tanh_to)(v, v, out.numel());
  return out;
}

bool vectorized() {
#ifdef RNNSCOPE_AVX2
  return true;
#else
  return false;
#endif
}

}  // namespace

TORCH_LIBRARY(rnnscope_native, m) {
  m.def("lstm_trace(Tensor x, Tensor w, Tensor h0, Tensor c0, Tensor? keep, " RNNSCOPE_OUTPUT_SCHEMA,
        &lstm_trace);
  m.def("gru_trace(Tensor x, Tensor w, Tensor h0, Tensor? keep, " RNNSCOPE_OUTPUT_SCHEMA, &gru_trace);
  m.def("lazy_lstm_trace(Tensor x, Tensor w, Tensor w_cm, Tensor m0, Tensor c0, Tensor? keep, "
        RNNSCOPE_OUTPUT_SCHEMA,
        &lazy_lstm_trace);
  m.def("activation(Tensor x, int mode) -> Tensor", &activation);
  m.def("vectorized() -> bool", &vectorized);
  m.def("rows_per_block() -> int", []() -> int64_t { return kRowsPerBlock; });
}
