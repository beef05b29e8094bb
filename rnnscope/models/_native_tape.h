// The LSTM tape's fused per-frame steps: the ops lstm_tape_forward and lstm_tape_backward (rnnscope.models._bptt,
// the input gradient of integrated gradients by hand).
//
// Included by _native_kernels.cpp inside its anonymous namespace, after the instruction sets, the team of threads
// and the argument checks. Per frame the tape runs, on (N, 4H) gate buffers of N = points x records rows, one GEMM
// each way (PyTorch's) and one of these ops, which do in one pass over memory what a dozen elementwise PyTorch ops
// did in as many (see _native_tape_simd.h for the equations). The rows (or, for the step sums, the records: no two
// threads write the same row of acc) are split over PyTorch's intra-op threads when there are at least as many as
// threads, else the units in whole vectors; a thread gets at least kTapeGrain elements. Every element's numbers are
// the same whatever the split (the step sums run over the points in their order), so results do not depend on the
// thread count.

constexpr int64_t kTapeGrain = 1 << 14;  // elements of the gate buffer a thread gets at the least

struct TapeRange {
  int64_t i0, i1, u0, u1;  // rows (or records) i0..i1, units u0..u1
};

// Thread tid of nt: its items (rows or records) when there are at least nt, else its units in whole vectors of W.
TapeRange tape_range(int64_t items, int64_t H, int64_t W, int tid, int nt) {
  if (items >= nt) return {tid * items / nt, (tid + 1) * items / nt, 0, H};
  const int64_t vectors = (H + W - 1) / W;
  return {0, items, std::min(H, tid * vectors / nt * W), std::min(H, (tid + 1) * vectors / nt * W)};
}

// Runs fn(job, i0, i1, u0, u1) over `items` items of the job's H units on a team; records the threads that ran.
void tape_run(const TapeJob& job, int64_t items, int64_t elements,
              void (*fn)(const TapeJob&, int64_t, int64_t, int64_t, int64_t)) {
  const int64_t W = current_isa().width, vectors = (job.H + W - 1) / W;
  const int threads = at::in_parallel_region() ? 1 : std::max(1, at::get_num_threads());
  const int64_t team = std::max<int64_t>(1, std::min<int64_t>({threads, elements / kTapeGrain,
                                                                std::max(items, vectors)}));
  const int64_t used = run_team(static_cast<int>(team), [&](int tid, int nt) {
    const TapeRange part = tape_range(items, job.H, W, tid, nt);
    if (part.i0 >= part.i1 || part.u0 >= part.u1) return false;
    fn(job, part.i0, part.i1, part.u0, part.u1);
    return true;
  });
  g_last_threads.store(elements > 0 ? used : 0);
}

// (rows, hidden) of c_prev: the sizes every tape op reads; the gates' buffer `a` (rows, 4 * hidden).
std::pair<int64_t, int64_t> tape_sizes(const char* op, const at::Tensor& c_prev, const at::Tensor& a) {
  check_tensor(op, "c_prev", c_prev, at::kFloat, {-1, -1}, "(rows, hidden)");
  const int64_t N = c_prev.size(0), H = c_prev.size(1);
  TORCH_CHECK(H >= 1, "The 'c_prev' argument of rnnscope_native::", op, " must have at least one hidden unit. Got ",
              describe(c_prev), " instead.");
  check_tensor(op, "a", a, at::kFloat, {N, 4 * H}, "(rows, 4 * hidden)");
  return {N, H};
}

// The points (alphas or weights, (points,)) of rows N = points x records; returns the records.
int64_t tape_records(const char* op, const char* name, const at::Tensor& points, int64_t N) {
  check_tensor(op, name, points, at::kFloat, {-1}, "(points,)");
  const int64_t S = points.size(0);
  TORCH_CHECK(S >= 1 && N % S == 0, "The '", name, "' argument of rnnscope_native::", op, " must hold one value per "
              "path point, the rows being points x records (row s * records + r). Got ", S, " values for ", N,
              " rows instead.");
  return N / S;
}

// No tensor the op writes may share memory with another of its tensors (the steps read and write row by row).
void check_apart(const char* op, const std::vector<std::pair<const char*, const at::Tensor*>>& written,
                 const std::vector<std::pair<const char*, const at::Tensor*>>& all) {
  for (const auto& [name, t] : written) {
    for (const auto& [other, u] : all) {
      if (t == u || !t->defined() || !u->defined()) continue;
      TORCH_CHECK(at::get_overlap_status(*t, *u) == at::MemOverlapStatus::No, "The '", name, "' argument of "
                  "rnnscope_native::", op, " shares memory with '", other, "': give each its own buffer.");
    }
  }
}

// a (N, 4H): gates (i, f, o, g) before their nonlinearity (the recurrent product, plus the input projection unless
// p0 is given); c_prev (N, H); c, h (N, H) written; p0, p1 (R, 4H) and alphas (S,), N = S R, all or none: the
// first layer's projection of path point s of record r, p0[r] + alphas[s] p1[r], added to row s R + r; keep (H).
void lstm_tape_forward(at::Tensor& a, const at::Tensor& c_prev, at::Tensor& c, at::Tensor& h,
                       const c10::optional<at::Tensor>& p0, const c10::optional<at::Tensor>& p1,
                       const c10::optional<at::Tensor>& alphas, const c10::optional<at::Tensor>& keep) {
  const char* op = "lstm_tape_forward";
  const auto [N, H] = tape_sizes(op, c_prev, a);
  check_tensor(op, "c", c, at::kFloat, {N, H}, "(rows, hidden)");
  check_tensor(op, "h", h, at::kFloat, {N, H}, "(rows, hidden)");
  check_optional(op, "keep", keep, at::kFloat, {H}, "(hidden,)");
  TORCH_CHECK(p0.has_value() == p1.has_value() && p0.has_value() == alphas.has_value(), "The 'p0', 'p1' and "
              "'alphas' arguments of rnnscope_native::", op, " go together (the point's projection p0 + alpha p1). "
              "Got ", p0.has_value() ? "" : "no ", "p0, ", p1.has_value() ? "" : "no ", "p1 and ",
              alphas.has_value() ? "" : "no ", "alphas instead.");
  TapeJob j{};
  if (p0.has_value()) {
    j.R = tape_records(op, "alphas", *alphas, N);
    check_tensor(op, "p0", *p0, at::kFloat, {j.R, 4 * H}, "(records, 4 * hidden)");
    check_tensor(op, "p1", *p1, at::kFloat, {j.R, 4 * H}, "(records, 4 * hidden)");
    j.p0 = p0->data_ptr<float>(), j.p1 = p1->data_ptr<float>(), j.points = alphas->data_ptr<float>();
  }
  const at::Tensor none;
  check_apart(op, {{"a", &a}, {"c", &c}, {"h", &h}},
              {{"a", &a}, {"c_prev", &c_prev}, {"c", &c}, {"h", &h}, {"p0", p0 ? &*p0 : &none},
               {"p1", p1 ? &*p1 : &none}, {"alphas", alphas ? &*alphas : &none}, {"keep", keep ? &*keep : &none}});
  j.a = a.data_ptr<float>(), j.c_prev = c_prev.data_ptr<float>(), j.c = c.data_ptr<float>();
  j.h = h.data_ptr<float>(), j.keep = keep ? keep->data_ptr<float>() : nullptr, j.H = H;
  tape_run(j, N, N * 4 * H, current_isa().tape_forward);
}

// a (N, 4H): the gates after their nonlinearity (the forward's), replaced by the gradients of their
// pre-activations; c, c_prev (N, H) the cell at t and t - 1; dh (N, H) the gradient of h_t (masked by keep here);
// dc (N, H) that of c_t, replaced by that of c_{t-1}; acc (R, 4H) and weights (S,), N = S R, both or neither:
// acc[r] += sum_s weights[s] dGates[s R + r].
void lstm_tape_backward(at::Tensor& a, const at::Tensor& c, const at::Tensor& c_prev, const at::Tensor& dh,
                        at::Tensor& dc, const c10::optional<at::Tensor>& keep, const c10::optional<at::Tensor>& acc,
                        const c10::optional<at::Tensor>& weights) {
  const char* op = "lstm_tape_backward";
  const auto [N, H] = tape_sizes(op, c_prev, a);
  check_tensor(op, "c", c, at::kFloat, {N, H}, "(rows, hidden)");
  check_tensor(op, "dh", dh, at::kFloat, {N, H}, "(rows, hidden)");
  check_tensor(op, "dc", dc, at::kFloat, {N, H}, "(rows, hidden)");
  check_optional(op, "keep", keep, at::kFloat, {H}, "(hidden,)");
  TORCH_CHECK(acc.has_value() == weights.has_value(), "The 'acc' and 'weights' arguments of rnnscope_native::", op,
              " go together (the step sums and the points' weights). Got ", acc.has_value() ? "acc" : "weights",
              " alone instead.");
  TapeJob j{};
  if (acc.has_value()) {
    j.R = tape_records(op, "weights", *weights, N);
    j.S = N / j.R;
    check_tensor(op, "acc", *acc, at::kFloat, {j.R, 4 * H}, "(records, 4 * hidden)");
    j.acc = acc->data_ptr<float>(), j.points = weights->data_ptr<float>();
  }
  const at::Tensor none;
  check_apart(op, {{"a", &a}, {"dc", &dc}, {"acc", acc ? &*acc : &none}},
              {{"a", &a}, {"c", &c}, {"c_prev", &c_prev}, {"dh", &dh}, {"dc", &dc}, {"keep", keep ? &*keep : &none},
               {"acc", acc ? &*acc : &none}, {"weights", weights ? &*weights : &none}});
  j.a = a.data_ptr<float>(), j.c = c.data_ptr<float>(), j.c_prev = c_prev.data_ptr<float>();
  j.dh = dh.data_ptr<float>(), j.dc = dc.data_ptr<float>(), j.keep = keep ? keep->data_ptr<float>() : nullptr;
  j.H = H;
  tape_run(j, acc.has_value() ? j.R : N, N * 4 * H, current_isa().tape_backward);
}
