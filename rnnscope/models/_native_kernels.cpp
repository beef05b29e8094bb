// rnnscope's native capture kernels: LSTM, GRU and lazy-LSTM step loops that keep every internal variable.
//
// Compiled on first use by rnnscope/models/_native.py (torch.utils.cpp_extension) and registered as
// torch.ops.rnnscope_native.*. Every argument is checked on entry (devices, dtypes, shapes, contiguity, offsets and
// strides against the output tensors' sizes): a mistake on the Python side raises a RuntimeError naming the
// argument, never a crash. The op schemas mark every tensor a kernel writes as mutated (Tensor(a!)).
//
// Why it is fast. PyTorch's fused RNN kernels never expose gates or cell states, and a step loop of PyTorch
// operators pays one dispatch per elementwise op per step. Here the batch is split into blocks of rows, one team
// thread per block (the recurrence of a row only reads that row, so a thread runs the whole sequence of its rows
// without synchronisation); with few rows per thread (one long record) the threads share the units of every step
// instead, meeting at one barrier per step (plan() picks). Per step and per panel of 16 (AVX-512), 8 (AVX2) or 4 units, a
// register-tiled matmul of [x_t | h_{t-1}] with the weights, packed once per call, leaves the pre-activations of the
// panel's gates in registers; the cell's equations run on them at once and every variable goes straight into its
// destination: the caller gives one flat tensor per variable, a row offset per batch row and the time and unit
// strides (a (B, T, H) buffer, or a capture's own run arrays). The per-instruction-set code is _native_simd.h.
//
// Threads: the team is PyTorch's intra-op thread count (torch.set_num_threads). Built with OpenMP (GCC: -fopenmp,
// which links the libgomp PyTorch itself loaded, so the team reuses PyTorch's threads) the team is an OpenMP
// parallel region; otherwise std::threads. last_threads() says how many distinct threads ran the last call.
//
// Instruction sets: one build holds AVX-512, AVX2 and portable code and picks the best the CPU has at run time
// (set_isa() overrides it, e.g. to compare them). Results do not depend on the thread count or the split: every
// row's sums run in the same order whatever block or thread computes them.

#include <ATen/ATen.h>
#include <ATen/MemoryOverlap.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <limits>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(__x86_64__) || defined(_M_X64)
#define RNNSCOPE_X86 1
#include <immintrin.h>
#if defined(_MSC_VER) && !defined(__clang__)
#include <intrin.h>
#endif
#endif

#if defined(_MSC_VER) && !defined(__clang__)
#define RNNSCOPE_INLINE __forceinline
#else
#define RNNSCOPE_INLINE inline __attribute__((always_inline))
#endif

namespace {

constexpr float kLog2e = 1.4426950408889634f;
constexpr float kLn2Hi = 0.693145751953125f;  // ln 2 split in two for an exact n * ln2
constexpr float kLn2Lo = 1.428606765330187e-06f;
constexpr float kExpLow = -86.9f;     // exp(x) = 0 below (exp(-86.9) ~ 2e-38 is still a normal float)
constexpr float kExpHigh = 88.7228f;  // exp(x) for x above: +inf (float's largest is exp(88.72284))

// Spin barrier of a team (yields the core after a while: the machine may run more threads than cores).
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    const int generation = generation_.load(std::memory_order_acquire);
    if (arrived_.fetch_add(1, std::memory_order_acq_rel) == n_ - 1) {
      arrived_.store(0, std::memory_order_relaxed);
      generation_.store(generation + 1, std::memory_order_release);
      return;
    }
    for (int spins = 0; generation_.load(std::memory_order_acquire) == generation; ++spins) {
      if (spins < 2048) {
#ifdef RNNSCOPE_X86
        _mm_pause();
#endif
      } else {
        std::this_thread::yield();
      }
    }
  }

 private:
  const int n_;
  std::atomic<int> arrived_{0}, generation_{0};
};

// Where a kernel writes. Variable k of batch row r at step t, unit j goes to
//   base[k] + row_offset[r] + t * time_stride + j * unit_stride      (base[k] == nullptr: variable not kept),
// so the outputs can be (B, T, H) buffers or the run's own (event, time, unit, layer) arrays (rows scattered by
// length order, any window, any layer). Value ranges are measured over the valid steps t < n_valid[r].
struct Dest {
  float* base[6];
  int n_vars;
  const int64_t* row_offset;
  int64_t time_stride, unit_stride;
  const int64_t* n_valid;
};

// One call of a kernel: the input, the packed weights, the per-row state buffers (Hp = H rounded up to whole
// panels of W units; padded units compute zeros and are never stored) and how the rows are split.
struct Job {
  const float* x;  // (B, T, I)
  int64_t B, T, I, H, Hp, panels;
  const float* w;     // per panel: I + H + 1 rows (x, h, bias) of 4 gate vectors of W floats
  const float* w2;    // lazy LSTM: per panel, H rows of one vector (W_cm^T)
  const float* keep;  // (Hp) 0/1 factors, or null
  float* hbuf[2];     // h_{t-1} read at step t: hbuf[t % 2]; h_t written to the other; (B, Hp) each
  float* cbuf;        // (B, Hp) cell state
  float* gbuf;        // lazy LSTM: (B, 4, Hp) i, f, candidate's x part, o
  float* racc;        // (slots, n_vars, 2, W) running min / max, lane by lane: one slot per block of rows, or
  int64_t slots;      // per thread when the threads share the units of every row
  float* h_seq;       // (B, T, H)
  const int32_t* groups;  // (B, T, 2) or null: the two groups each frame's |h| is added to (-1: none)
  float* row_sums;        // (B, n_shared, Hp): column 0's groups (shared by rows, e.g. classes), row by row
  float* own_sums;        // (n_groups, Hp): column 1's groups (each of one row, e.g. segments)
  int64_t n_shared;
  float* stage;       // per thread stage_floats: a tile's variables before they are copied out
  int64_t stage_floats;
  Dest out;
  int64_t n_blocks;  // > 0: blocks of rows, one thread each; 0: the units of every row split over the threads
};

// One call of an LSTM tape step (_native_tape.h): N rows of H units, gates (i, f, o, g) in a's rows of 4H; a row n
// is path point s = n / R of record r = n % R where the point's projection or the step sums are asked for.
struct TapeJob {
  float* a;               // (N, 4H) the gates
  const float* c_prev;    // (N, H) c_{t-1}
  float* c;               // (N, H) c_t: written by the forward, read by the backward
  float* h;               // (N, H) h_t, written by the forward
  const float* p0;        // (R, 4H) the first layer's projection of the records' path start, or null
  const float* p1;        // (R, 4H) ... of the path's direction
  const float* points;    // (S) forward: the points' alphas; backward: their weights in the step sums
  const float* keep;      // (H) 0/1 unit mask, or null
  const float* dh;        // (N, H) gradient of h_t (the backward)
  float* dc;              // (N, H) gradient of c_t in, of c_{t-1} out
  float* acc;             // (R, 4H) the step sums, or null
  int64_t H, R, S;
};

}  // namespace

// ------------------------------------------------------------------------------------------- per instruction set

#ifdef RNNSCOPE_X86
#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,avx2,fma")
#endif
#define RNNSCOPE_ISA 512
namespace {
namespace isa_avx512 {
#include "_native_simd.h"
#include "_native_tape_simd.h"
}  // namespace isa_avx512
}  // namespace
#undef RNNSCOPE_ISA
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx2,fma"))), apply_to = function)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#endif
#define RNNSCOPE_ISA 256
namespace {
namespace isa_avx2 {
#include "_native_simd.h"
#include "_native_tape_simd.h"
}  // namespace isa_avx2
}  // namespace
#undef RNNSCOPE_ISA
#if defined(__clang__)
#pragma clang attribute pop
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
#endif  // RNNSCOPE_X86

#define RNNSCOPE_ISA 0
namespace {
namespace isa_generic {
#include "_native_simd.h"
#include "_native_tape_simd.h"
}  // namespace isa_generic
}  // namespace
#undef RNNSCOPE_ISA

namespace {

// ---------------------------------------------------------------------------------------------- instruction sets

using ThreadFn = void (*)(const Job&, int, int, Barrier*);

struct Isa {
  const char* name;
  int64_t width;
  ThreadFn lstm, gru, lazy;
  void (*activation)(const float*, float*, int64_t, int64_t);
  void (*tape_forward)(const TapeJob&, int64_t, int64_t, int64_t, int64_t);
  void (*tape_backward)(const TapeJob&, int64_t, int64_t, int64_t, int64_t);
};

const Isa kIsas[] = {
#ifdef RNNSCOPE_X86
    {"avx512", 16, isa_avx512::lstm_thread, isa_avx512::gru_thread, isa_avx512::lazy_thread, isa_avx512::activation,
     isa_avx512::tape_forward, isa_avx512::tape_backward},
    {"avx2", 8, isa_avx2::lstm_thread, isa_avx2::gru_thread, isa_avx2::lazy_thread, isa_avx2::activation,
     isa_avx2::tape_forward, isa_avx2::tape_backward},
#endif
    {"generic", 4, isa_generic::lstm_thread, isa_generic::gru_thread, isa_generic::lazy_thread,
     isa_generic::activation, isa_generic::tape_forward, isa_generic::tape_backward},
};

bool cpu_has(const std::string& name) {
  if (name == "generic") return true;
#ifdef RNNSCOPE_X86
#if defined(_MSC_VER) && !defined(__clang__)
  int r[4];
  __cpuid(r, 0);
  if (r[0] < 7) return false;
  __cpuid(r, 1);
  const bool fma = r[2] & (1 << 12), osxsave = r[2] & (1 << 27), avx = r[2] & (1 << 28);
  if (!(fma && osxsave && avx)) return false;
  const unsigned long long xcr0 = _xgetbv(0);
  __cpuidex(r, 7, 0);
  const bool avx2 = (r[1] & (1 << 5)) && (xcr0 & 0x6) == 0x6;
  if (name == "avx2") return avx2;
  const bool f = r[1] & (1 << 16), dq = r[1] & (1 << 17), bw = r[1] & (1 << 30), vl = r[1] & (1u << 31);
  return name == "avx512" && avx2 && f && dq && bw && vl && (xcr0 & 0xE6) == 0xE6;
#else
  __builtin_cpu_init();  // GCC and Clang also check that the OS saves the wider registers
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (name == "avx2") return avx2;
  return name == "avx512" && avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
         __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
#endif
#else
  return false;
#endif
}

const Isa* best_isa() {
  for (const Isa& isa : kIsas) {
    if (cpu_has(isa.name)) return &isa;
  }
  return &kIsas[sizeof(kIsas) / sizeof(kIsas[0]) - 1];
}

std::atomic<const Isa*> g_isa{nullptr};
std::atomic<int64_t> g_last_threads{0};

const Isa& current_isa() {
  const Isa* isa = g_isa.load();
  if (!isa) {
    isa = best_isa();
    g_isa.store(isa);
  }
  return *isa;
}

std::vector<std::string> isas() {
  std::vector<std::string> names;
  for (const Isa& isa : kIsas) {
    if (cpu_has(isa.name)) names.emplace_back(isa.name);
  }
  return names;
}

// "auto" (the best this CPU runs) or one of isas(); returns the instruction set now in use.
std::string set_isa(const std::string& name) {
  if (name == "auto") {
    g_isa.store(best_isa());
    return current_isa().name;
  }
  std::ostringstream known;
  for (const Isa& isa : kIsas) {
    known << (&isa == kIsas ? "" : ", ") << isa.name;
    if (name == isa.name && cpu_has(name)) {
      g_isa.store(&isa);
      return isa.name;
    }
  }
  std::ostringstream have;
  const std::vector<std::string> usable = isas();
  for (size_t i = 0; i < usable.size(); ++i) have << (i ? ", " : "") << usable[i];
  TORCH_CHECK(false, "The 'name' argument of rnnscope_native::set_isa must be 'auto' or an instruction set this CPU "
              "runs (", have.str(), "; known: ", known.str(), "). Got '", name, "' instead.");
  return "";
}

// ---------------------------------------------------------------------------------------------------- threads

// Runs fn(tid, nt) -> bool (did it have work) on a team of n threads at once; returns the number of distinct
// threads that had work. The team is an OpenMP parallel region when built with OpenMP, else std::threads (thread 0
// is the caller). A team smaller than asked for (an OpenMP thread limit) runs everything on its first thread.
template <class F>
int64_t run_team(int n, const F& fn) {
  std::vector<size_t> ids(std::max(n, 1), 0);
  std::vector<char> worked(std::max(n, 1), 0);
  auto member = [&](int tid, int nt) {
    worked[tid] = fn(tid, nt) ? 1 : 0;
    ids[tid] = std::hash<std::thread::id>()(std::this_thread::get_id());
  };
  if (n <= 1) {
    member(0, 1);
  } else {
#ifdef _OPENMP
#pragma omp parallel num_threads(n)
    {
      const int got = omp_get_num_threads(), tid = omp_get_thread_num();
      if (got == n) {
        member(tid, n);
      } else if (tid == 0) {
        member(0, 1);
      }
    }
#else
    std::atomic<int> go{0};  // 1: run; -1: a thread could not be started, the caller runs everything alone
    std::vector<std::thread> threads;
    try {
      for (int tid = 1; tid < n; ++tid) {
        threads.emplace_back([&, tid]() {
          while (go.load(std::memory_order_acquire) == 0) std::this_thread::yield();
          if (go.load() == 1) member(tid, n);
        });
      }
      go.store(1, std::memory_order_release);
      member(0, n);
    } catch (...) {
      go.store(-1, std::memory_order_release);
      for (std::thread& t : threads) t.join();
      std::fill(worked.begin(), worked.end(), 0);
      member(0, 1);
      threads.clear();
    }
    for (std::thread& t : threads) t.join();
#endif
  }
  std::vector<size_t> distinct;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (worked[i] && std::find(distinct.begin(), distinct.end(), ids[i]) == distinct.end()) distinct.push_back(ids[i]);
  }
  return static_cast<int64_t>(distinct.size());
}

std::string parallel_backend() {
#ifdef _OPENMP
  return "openmp";
#else
  return "threads";
#endif
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

// Sums of |h| by group of frames: groups (B, T, 2) int32 gives each frame two rows of group_sums (G, H) (-1: none):
// column 0 groups shared by rows (e.g. classes), column 1 groups of one row each (e.g. segments); both or neither.
void check_groups(const char* op, const Sizes& z, const c10::optional<at::Tensor>& groups,
                  const c10::optional<at::Tensor>& group_sums) {
  TORCH_CHECK(groups.has_value() == group_sums.has_value(), "The 'groups' and 'group_sums' arguments of "
              "rnnscope_native::", op, " go together (the frames' groups and where their sums of |h| go). Got ",
              groups.has_value() ? "groups without group_sums" : "group_sums without groups", " instead.");
  if (!groups.has_value()) return;
  check_tensor(op, "groups", *groups, at::kInt, {z.B, z.T, 2}, "(batch, time, 2)");
  check_tensor(op, "group_sums", *group_sums, at::kFloat, {-1, z.H}, "(groups, hidden)");
  const int32_t* g = groups->data_ptr<int32_t>();
  const int64_t n = groups->numel(), G = group_sums->size(0);
  const auto [lo, hi] = n ? std::minmax_element(g, g + n) : std::make_pair(g, g);
  TORCH_CHECK(n == 0 || (*lo >= -1 && *hi < G), "The 'groups' argument of rnnscope_native::", op, " must hold rows of "
              "group_sums (0 to ", G - 1, ") or -1. Got values from ", n ? *lo : 0, " to ", n ? *hi : 0, " instead.");
  std::vector<int64_t> owner(G, -1);
  for (int64_t i = 1; i < n; i += 2) {
    const int64_t row = i / (2 * z.T), group = g[i];
    if (group < 0) continue;
    TORCH_CHECK(owner[group] < 0 || owner[group] == row, "The 'groups' argument of rnnscope_native::", op, " must give "
                "in its column 1 groups of one batch row each (a segment belongs to one record). Got group ", group,
                " in rows ", owner[group], " and ", row, " instead; shared groups go in column 0.");
    owner[group] = row;
  }
}

// The destinations: outputs[k] (one per variable, `names`), each written at row_offsets[r] + t * time_stride +
// j * unit_stride for row r, frame t < T, unit j < H; h_seq (B, T, H), h_last / c_last (B, H), n_valid (B) and
// ranges (n_vars, 2): the min and max of each kept variable over the valid frames.
void check_outputs(const char* op, const std::vector<const char*>& names, const Sizes& z,
                   const c10::List<c10::optional<at::Tensor>>& outputs, const at::Tensor& row_offsets,
                   int64_t time_stride, int64_t unit_stride, const at::Tensor& h_seq, const at::Tensor& h_last,
                   const c10::optional<at::Tensor>& c_last, const at::Tensor& n_valid, const at::Tensor& ranges,
                   const c10::optional<at::Tensor>& groups, const c10::optional<at::Tensor>& group_sums) {
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
  check_tensor(op, "ranges", ranges, at::kFloat, {n_vars, 2}, "(variables, 2)");
  check_groups(op, z, groups, group_sums);
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
      const at::Tensor &n_valid, at::Tensor &ranges, const c10::optional<at::Tensor>&groups,                     \
      const c10::optional<at::Tensor>&group_sums

// Every tensor a kernel writes is marked as mutated (alias sets a, b, c, d, e, f).
#define RNNSCOPE_OUTPUT_SCHEMA                                                                                   \
  "Tensor(a!)?[] outputs, Tensor row_offsets, int time_stride, int unit_stride, Tensor(b!) h_seq, "           \
  "Tensor(c!) h_last, Tensor(d!)? c_last, Tensor n_valid, Tensor(e!) ranges, Tensor? groups=None, "           \
  "Tensor(f!)? group_sums=None) -> ()"

#define RNNSCOPE_CHECK_OUTPUTS(op, ...)                                                                          \
  check_outputs(op, {__VA_ARGS__}, z, outputs, row_offsets, time_stride, unit_stride, h_seq, h_last, c_last,     \
                n_valid, ranges, groups, group_sums)

// ------------------------------------------------------------------------------------------------------ driver

// w (K, NG * H), row-major, columns gate after gate -> per panel of W units: K rows of NG vectors of W floats
// (units past H zero).
at::Tensor pack(const at::Tensor& w, int64_t H, int64_t NG, int64_t W) {
  const int64_t K = w.size(0), panels = (H + W - 1) / W;
  at::Tensor out = at::zeros({panels * K * NG * W}, w.options());
  const float* src = w.data_ptr<float>();
  float* dst = out.data_ptr<float>();
  for (int64_t p = 0; p < panels; ++p) {
    const int64_t n = std::min(W, H - p * W);
    for (int64_t k = 0; k < K; ++k) {
      for (int64_t g = 0; g < NG; ++g) {
        std::memcpy(dst + ((p * K + k) * NG + g) * W, src + k * NG * H + g * H + p * W, n * sizeof(float));
      }
    }
  }
  return out;
}

enum class Cell { lstm, gru, lazy };

struct Call {  // what an op hands to run()
  Cell cell;
  const at::Tensor& x;
  const at::Tensor& w;
  const at::Tensor* w_cm;
  const at::Tensor& h0;
  const at::Tensor* c0;
  const c10::optional<at::Tensor>& keep;
};

// Rows into blocks (one thread each; at most kMaxRows rows, in a multiple of the team size), or the units of every
// step split over the threads (one barrier per step), whichever gives a thread less to do: a thread streams the
// weights of its panels once per tile of rows, so its time goes as its panels x max(its rows, 4) (below about 4
// rows the weights' bandwidth, not the multiplications, sets the pace). One record on 2 threads: split; 32 records
// on 2 threads: blocks of 16; 32 records on 64 threads: split.
constexpr int64_t kMaxRows = 64;

struct Plan {
  int team;
  int64_t n_blocks;  // 0: split
};

Plan plan(int64_t B, int64_t panels, int threads) {
  const int64_t row_team = std::max<int64_t>(1, std::min<int64_t>(threads, B));
  const int64_t split_team = std::max<int64_t>(1, std::min<int64_t>(threads, panels));
  const int64_t row_cost = panels * std::max<int64_t>((B + row_team - 1) / row_team, 4);
  const int64_t split_cost = (panels + split_team - 1) / split_team * std::max<int64_t>(B, 4);
  if (B == 0 || (split_team > 1 && split_cost < row_cost)) return {static_cast<int>(B ? split_team : 1), 0};
  int64_t blocks = std::max<int64_t>(row_team, (B + kMaxRows - 1) / kMaxRows);
  blocks = std::min(B, (blocks + row_team - 1) / row_team * row_team);
  return {static_cast<int>(std::min<int64_t>(row_team, blocks)), blocks};
}
constexpr int64_t kMaxTileRows = 6;  // the largest register tile (V::kRows) of any instruction set

void run(const Call& call, const Sizes& z, RNNSCOPE_OUTPUT_ARGS) {
  const Isa& isa = current_isa();
  const int64_t B = z.B, T = z.T, H = z.H, W = isa.width;
  const int64_t panels = (H + W - 1) / W, Hp = panels * W;
  const int64_t n_vars = static_cast<int64_t>(outputs.size());
  const int threads = at::in_parallel_region() ? 1 : std::max(1, at::get_num_threads());
  Job j{};
  j.B = B, j.T = T, j.I = z.I, j.H = H, j.Hp = Hp, j.panels = panels;
  const Plan split = plan(B, panels, threads);
  const int team = split.team;
  j.n_blocks = split.n_blocks;
  j.slots = split.n_blocks > 0 ? split.n_blocks : team;
  // inputs, packed weights, state buffers (zeros in the padded units: no stray values, no denormals)
  const at::Tensor packed = pack(call.w, H, 4, W);
  const at::Tensor packed_cm = call.w_cm ? pack(*call.w_cm, H, 1, W) : at::Tensor();
  at::Tensor keep_p;
  if (call.keep.has_value()) {
    keep_p = at::zeros({Hp}, call.x.options());
    keep_p.narrow(0, 0, H).copy_(*call.keep);
  }
  at::Tensor state = at::zeros({(call.cell == Cell::lazy ? 7 : 3) * B * Hp}, call.x.options());
  float* sd = state.data_ptr<float>();
  const float* h0 = call.h0.data_ptr<float>();
  const float* c0 = call.c0 ? call.c0->data_ptr<float>() : nullptr;
  for (int64_t r = 0; r < B; ++r) {
    std::memcpy(sd + r * Hp, h0 + r * H, H * sizeof(float));
    if (c0) std::memcpy(sd + (2 * B + r) * Hp, c0 + r * H, H * sizeof(float));
  }
  at::Tensor racc = at::empty({j.slots * n_vars, 2, W}, call.x.options());
  // sums of |h|: column 0 row by row, column 1 straight (its groups are of one row: no two threads add alike),
  // added up in a fixed order afterwards, so the sums do not depend on the thread count either
  const int64_t G = group_sums.has_value() ? group_sums->size(0) : 0;
  int64_t shared = 0;
  if (G) {
    const int32_t* g = groups->data_ptr<int32_t>();
    for (int64_t i = 0; i < groups->numel(); i += 2) shared = std::max<int64_t>(shared, g[i] + 1);
  }
  at::Tensor sums = at::zeros({G ? (B * shared + G) * Hp : 0}, call.x.options());
  j.groups = G ? groups->data_ptr<int32_t>() : nullptr;
  j.row_sums = G ? sums.data_ptr<float>() : nullptr;
  j.own_sums = G ? sums.data_ptr<float>() + B * shared * Hp : nullptr;
  j.n_shared = shared;
  j.stage_floats = (kMaxTileRows * n_vars * Hp + 15) / 16 * 16;  // whole 64-byte lines per thread
  at::Tensor stage = at::empty({team * j.stage_floats}, call.x.options());
  j.stage = stage.data_ptr<float>();
  racc.select(1, 0).fill_(std::numeric_limits<float>::infinity());
  racc.select(1, 1).fill_(-std::numeric_limits<float>::infinity());
  j.x = call.x.data_ptr<float>();
  j.w = packed.data_ptr<float>();
  j.w2 = call.w_cm ? packed_cm.data_ptr<float>() : nullptr;
  j.keep = call.keep.has_value() ? keep_p.data_ptr<float>() : nullptr;
  j.hbuf[0] = sd, j.hbuf[1] = sd + B * Hp, j.cbuf = sd + 2 * B * Hp;
  j.gbuf = call.cell == Cell::lazy ? sd + 3 * B * Hp : nullptr;
  j.racc = racc.data_ptr<float>();
  j.h_seq = h_seq.data_ptr<float>();
  j.out.n_vars = static_cast<int>(n_vars);
  for (int64_t k = 0; k < n_vars; ++k) {
    const c10::optional<at::Tensor> o = outputs.get(k);
    j.out.base[k] = o.has_value() ? o->data_ptr<float>() : nullptr;
  }
  j.out.row_offset = row_offsets.data_ptr<int64_t>();
  j.out.time_stride = time_stride, j.out.unit_stride = unit_stride;
  j.out.n_valid = n_valid.data_ptr<int64_t>();
  const ThreadFn fn = call.cell == Cell::lstm ? isa.lstm : call.cell == Cell::gru ? isa.gru : isa.lazy;
  Barrier barrier(team);
  const int64_t used = run_team(team, [&](int tid, int nt) {
    fn(j, tid, nt, &barrier);
    return j.n_blocks > 0 ? tid < j.n_blocks : tid * panels / nt < (tid + 1) * panels / nt;
  });
  g_last_threads.store(B > 0 && T > 0 ? used : 0);
  // the last state, and the value ranges (NaN skipped; +inf / -inf when no frame is valid)
  float* hl = h_last.data_ptr<float>();
  float* cl = c_last.has_value() ? c_last->data_ptr<float>() : nullptr;
  for (int64_t r = 0; r < B; ++r) {
    std::memcpy(hl + r * H, j.hbuf[T % 2] + r * Hp, H * sizeof(float));
    if (cl) std::memcpy(cl + r * H, j.cbuf + r * Hp, H * sizeof(float));
  }
  if (G) {  // the sums of |h| added to group_sums, rows in order
    float* gs = group_sums->data_ptr<float>();
    for (int64_t r = 0; r < B; ++r) {
      for (int64_t g = 0; g < shared; ++g) {
        const float* a = j.row_sums + (r * shared + g) * Hp;
        for (int64_t u = 0; u < H; ++u) gs[g * H + u] += a[u];
      }
    }
    for (int64_t g = 0; g < G; ++g) {
      const float* a = j.own_sums + g * Hp;
      for (int64_t u = 0; u < H; ++u) gs[g * H + u] += a[u];
    }
  }
  const float* rd = j.racc;
  float* out = ranges.data_ptr<float>();
  for (int64_t k = 0; k < n_vars; ++k) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int64_t s = 0; s < j.slots; ++s) {
      const float* a = rd + (s * n_vars + k) * 2 * W;
      for (int64_t l = 0; l < W; ++l) {
        lo = a[l] < lo ? a[l] : lo;
        hi = a[W + l] > hi ? a[W + l] : hi;
      }
    }
    out[k * 2] = lo;
    out[k * 2 + 1] = hi;
  }
}

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
  run({Cell::lstm, x, w, nullptr, h0, &c0, keep}, z, outputs, row_offsets, time_stride, unit_stride, h_seq, h_last,
      c_last, n_valid, ranges, groups, group_sums);
}

// ------------------------------------------------------------------------------------------------------- GRU
// w (I + H + 1, 4H): columns [r, z | n from x | n from h]: rows of x hold [W_ir W_iz W_in 0]^T, rows of h hold
// [W_hr W_hz 0 W_hn]^T (masked columns already zeroed; the zero blocks are skipped, never multiplied), the last row
// [b_ir + b_hr, b_iz + b_hz, b_in, b_hn]. Variables, in this order: reset_gate r, update_gate z, candidate n, h.
void gru_trace(const at::Tensor& x, const at::Tensor& w, const at::Tensor& h0, const c10::optional<at::Tensor>& keep,
               RNNSCOPE_OUTPUT_ARGS) {
  const char* op = "gru_trace";
  const Sizes z = check_inputs(op, x, h0, "h0");
  check_tensor(op, "w", w, at::kFloat, {z.I + z.H + 1, 4 * z.H}, "(input + hidden + 1, 4 * hidden)");
  check_optional(op, "keep", keep, at::kFloat, {z.H}, "(hidden,)");
  RNNSCOPE_CHECK_OUTPUTS(op, "reset_gate", "update_gate", "candidate", "h");
  run({Cell::gru, x, w, nullptr, h0, nullptr, keep}, z, outputs, row_offsets, time_stride, unit_stride, h_seq,
      h_last, c_last, n_valid, ranges, groups, group_sums);
}

// ------------------------------------------------------------------------------------------------- lazy LSTM
// w (I + H + 1, 4H): columns (i, f, g, o); rows of x hold W_ih^T; rows of m_{t-1} hold [U_i U_f 0 U_o]^T (the zero
// block is skipped); the last row b_ih + b_hh; w_cm (H, H) = W_cm^T (the g block reading m_t); masked columns
// already zeroed. Variables, in this order: input_gate, forget_gate, cell_input, output_gate, c, h (= m).
void lazy_lstm_trace(const at::Tensor& x, const at::Tensor& w, const at::Tensor& w_cm, const at::Tensor& m0,
                     const at::Tensor& c0, const c10::optional<at::Tensor>& keep, RNNSCOPE_OUTPUT_ARGS) {
  const char* op = "lazy_lstm_trace";
  const Sizes z = check_inputs(op, x, m0, "m0");
  check_tensor(op, "w", w, at::kFloat, {z.I + z.H + 1, 4 * z.H}, "(input + hidden + 1, 4 * hidden)");
  check_tensor(op, "w_cm", w_cm, at::kFloat, {z.H, z.H}, "(hidden, hidden)");
  check_tensor(op, "c0", c0, at::kFloat, {z.B, z.H}, "(batch, hidden)");
  check_optional(op, "keep", keep, at::kFloat, {z.H}, "(hidden,)");
  RNNSCOPE_CHECK_OUTPUTS(op, "input_gate", "forget_gate", "cell_input", "output_gate", "c", "h");
  run({Cell::lazy, x, w, &w_cm, m0, &c0, keep}, z, outputs, row_offsets, time_stride, unit_stride, h_seq, h_last,
      c_last, n_valid, ranges, groups, group_sums);
}

// The nonlinearities alone, with the instruction set in use, for the tests: mode 0 exp, 1 sigmoid, 2 tanh.
at::Tensor activation(const at::Tensor& x, int64_t mode) {
  TORCH_CHECK(x.device().is_cpu() && x.scalar_type() == at::kFloat, "The 'x' argument of rnnscope_native::activation ",
              "must be a float32 CPU tensor. Got ", describe(x), " instead.");
  TORCH_CHECK(mode >= 0 && mode <= 2, "The 'mode' argument of rnnscope_native::activation must be 0 (exp), 1 ",
              "(sigmoid) or 2 (tanh). Got ", mode, " instead.");
  at::Tensor in = x.contiguous();
  at::Tensor out = at::empty_like(in);
  current_isa().activation(in.data_ptr<float>(), out.data_ptr<float>(), in.numel(), mode);
  return out;
}

#include "_native_tape.h"

}  // namespace

TORCH_LIBRARY(rnnscope_native, m) {
  m.def("lstm_trace(Tensor x, Tensor w, Tensor h0, Tensor c0, Tensor? keep, " RNNSCOPE_OUTPUT_SCHEMA,
        &lstm_trace);
  m.def("gru_trace(Tensor x, Tensor w, Tensor h0, Tensor? keep, " RNNSCOPE_OUTPUT_SCHEMA, &gru_trace);
  m.def("lazy_lstm_trace(Tensor x, Tensor w, Tensor w_cm, Tensor m0, Tensor c0, Tensor? keep, "
        RNNSCOPE_OUTPUT_SCHEMA,
        &lazy_lstm_trace);
  // the tape's steps are CPU kernels of the dispatcher (not catch-all functions): PyTorch's dispatch modes see
  // them (benchmarks/bench_attribution.py --count and the tests count the ops a frame runs)
  m.def("lstm_tape_forward(Tensor(a!) a, Tensor c_prev, Tensor(b!) c, Tensor(c!) h, Tensor? p0, Tensor? p1, "
        "Tensor? alphas, Tensor? keep) -> ()");
  m.def("lstm_tape_backward(Tensor(a!) a, Tensor c, Tensor c_prev, Tensor dh, Tensor(b!) dc, Tensor? keep, "
        "Tensor(c!)? acc, Tensor? weights) -> ()");
  m.def("activation(Tensor x, int mode) -> Tensor", &activation);
  m.def("vectorized() -> bool", []() -> bool { return std::string(current_isa().name) != "generic"; });
  m.def("isa() -> str", []() -> std::string { return current_isa().name; });
  m.def("isas() -> str[]", &isas);
  m.def("set_isa(str name) -> str", &set_isa);
  m.def("last_threads() -> int", []() -> int64_t { return g_last_threads.load(); });
  m.def("parallel_backend() -> str", &parallel_backend);
}

TORCH_LIBRARY_IMPL(rnnscope_native, CPU, m) {
  m.impl("lstm_tape_forward", &lstm_tape_forward);
  m.impl("lstm_tape_backward", &lstm_tape_backward);
}
