// Copyright (c) mmext contributors. All rights reserved.
// Multi-scale dilated attention (DilateFormer) on CPU, forward and backward, fused: one task
// per (batch, head, output row) computes the k*k logits of the row, their softmax and the
// weighted sum of the values without materialising any unfolded neighbourhood. Tensors are
// channels-first (B, heads, d, H, W), so the inner loops run along a row (contiguous x) and
// vectorise; a neighbour offset is a shifted read of another row.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include "kernel_utils.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

namespace {

struct Geometry {
  int64_t B, heads, d, H, W, ks, heads_per_group;
  std::vector<int64_t> dilations;
  bool mask;  // out-of-map neighbours: excluded (-inf) or zero keys with logit 0

  int64_t K() const { return ks * ks; }
  int64_t HW() const { return H * W; }
  // row / column shift of offset t for head h
  int64_t dy(int64_t t, int64_t h) const {
    return (t / ks - (ks - 1) / 2) * dilations[h / heads_per_group];
  }
  int64_t dx(int64_t t, int64_t h) const {
    return (t % ks - (ks - 1) / 2) * dilations[h / heads_per_group];
  }
  // columns x whose neighbour x + dx lies in [0, W)
  int64_t x0(int64_t dx) const { return std::max<int64_t>(0, -dx); }
  int64_t x1(int64_t dx) const { return std::max(x0(dx), std::min(W, W - dx)); }
};

Geometry geometry(const torch::Tensor& q, int64_t ks, const std::vector<int64_t>& dilations,
                  bool mask) {
  Geometry g{q.size(0), q.size(1), q.size(2), q.size(3), q.size(4), ks,
             q.size(1) / static_cast<int64_t>(dilations.size()), dilations, mask};
  return g;
}

// grain: rows per task, so that a task does at least ~16k multiply-adds
int64_t grain(const Geometry& g) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.K() * g.d * g.W));
}

template <typename T>
void forward(const Geometry& g, const T scale, const T* q, const T* k, const T* v, T* out,
             T* attn) {
  const int64_t K = g.K(), HW = g.HW(), W = g.W, d = g.d;
  const T fill = g.mask ? -std::numeric_limits<T>::infinity() : T(0);
  mmext::parallel_chunks(g.B * g.heads * g.H, grain(g), [&](int64_t begin, int64_t end) {
    std::vector<T> lg(K * W), mx(W), sum(W);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t y = task % g.H, bh = task / g.H, h = bh % g.heads;
      const T* qb = q + bh * d * HW + y * W;
      const T* kb = k + bh * d * HW;
      const T* vb = v + bh * d * HW;
      T* ob = out + bh * d * HW + y * W;
      T* ab = attn + bh * K * HW + y * W;
      // logits (K, W) of this row
      for (int64_t t = 0; t < K; ++t) {
        T* l = lg.data() + t * W;
        const int64_t yy = y + g.dy(t, h), dx = g.dx(t, h);
        const int64_t a = g.x0(dx), e = g.x1(dx);
        std::fill(l, l + W, fill);
        if (yy < 0 || yy >= g.H) continue;
        std::fill(l + a, l + e, T(0));
        for (int64_t c = 0; c < d; ++c) {
          const T* __restrict qr = qb + c * HW;
          const T* __restrict kr = kb + c * HW + yy * W + dx;
          for (int64_t x = a; x < e; ++x) l[x] += qr[x] * kr[x];
        }
        for (int64_t x = a; x < e; ++x) l[x] *= scale;
      }
      // softmax over the K offsets of every column, max-subtracted
      std::copy(lg.begin(), lg.begin() + W, mx.begin());
      for (int64_t t = 1; t < K; ++t)
        for (int64_t x = 0; x < W; ++x) mx[x] = std::max(mx[x], lg[t * W + x]);
      std::fill(sum.begin(), sum.end(), T(0));
      for (int64_t t = 0; t < K; ++t)
        for (int64_t x = 0; x < W; ++x) {
          const T e = mmext::vexp(lg[t * W + x] - mx[x]);
          lg[t * W + x] = e;
          sum[x] += e;
        }
      for (int64_t x = 0; x < W; ++x) sum[x] = T(1) / sum[x];
      for (int64_t t = 0; t < K; ++t)
        for (int64_t x = 0; x < W; ++x) ab[t * HW + x] = lg[t * W + x] *= sum[x];
      // weighted sum of the values
      for (int64_t c = 0; c < d; ++c) {
        T* __restrict orow = ob + c * HW;
        std::fill(orow, orow + W, T(0));
        for (int64_t t = 0; t < K; ++t) {
          const int64_t yy = y + g.dy(t, h), dx = g.dx(t, h);
          if (yy < 0 || yy >= g.H) continue;
          const T* __restrict a = lg.data() + t * W;
          const T* __restrict vr = vb + c * HW + yy * W + dx;
          for (int64_t x = g.x0(dx), e = g.x1(dx); x < e; ++x) orow[x] += a[x] * vr[x];
        }
      }
    }
  });
}

template <typename T>
void backward(const Geometry& g, const T scale, const T* q, const T* k, const T* v,
              const T* attn, const T* go, T* gl, T* gq, T* gk, T* gv) {
  const int64_t K = g.K(), HW = g.HW(), W = g.W, d = g.d;
  const int64_t rows = g.B * g.heads * g.H;
  // Pass 1, per query row: d out / d attn, softmax backward (-> gl, d out / d (q.k), the
  // scale included) and grad q, which only the row's own query reads.
  mmext::parallel_chunks(rows, grain(g), [&](int64_t begin, int64_t end) {
    std::vector<T> ga(K * W), dot(W);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t y = task % g.H, bh = task / g.H, h = bh % g.heads;
      const T* gob = go + bh * d * HW + y * W;
      const T* ab = attn + bh * K * HW + y * W;
      T* glb = gl + bh * K * HW + y * W;
      std::fill(ga.begin(), ga.end(), T(0));
      for (int64_t t = 0; t < K; ++t) {
        const int64_t yy = y + g.dy(t, h), dx = g.dx(t, h);
        if (yy < 0 || yy >= g.H) continue;  // zero values: no gradient to the weight
        T* __restrict gar = ga.data() + t * W;
        for (int64_t c = 0; c < d; ++c) {
          const T* __restrict gor = gob + c * HW;
          const T* __restrict vr = v + (bh * d + c) * HW + yy * W + dx;
          for (int64_t x = g.x0(dx), e = g.x1(dx); x < e; ++x) gar[x] += gor[x] * vr[x];
        }
      }
      std::fill(dot.begin(), dot.end(), T(0));
      for (int64_t t = 0; t < K; ++t)
        for (int64_t x = 0; x < W; ++x) dot[x] += ab[t * HW + x] * ga[t * W + x];
      for (int64_t t = 0; t < K; ++t)
        for (int64_t x = 0; x < W; ++x)
          glb[t * HW + x] = scale * ab[t * HW + x] * (ga[t * W + x] - dot[x]);
      for (int64_t c = 0; c < d; ++c) {
        T* __restrict gqr = gq + (bh * d + c) * HW + y * W;
        std::fill(gqr, gqr + W, T(0));
        for (int64_t t = 0; t < K; ++t) {
          const int64_t yy = y + g.dy(t, h), dx = g.dx(t, h);
          if (yy < 0 || yy >= g.H) continue;
          const T* __restrict l = glb + t * HW;
          const T* __restrict kr = k + (bh * d + c) * HW + yy * W + dx;
          for (int64_t x = g.x0(dx), e = g.x1(dx); x < e; ++x) gqr[x] += l[x] * kr[x];
        }
      }
    }
  });
  // Pass 2, per key row: grad k and grad v gather from the queries that saw this key (query
  // = key - offset), so no two tasks write the same element.
  mmext::parallel_chunks(rows, grain(g), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t y = task % g.H, bh = task / g.H, h = bh % g.heads;
      for (int64_t c = 0; c < d; ++c) {
        T* __restrict gkr = gk + (bh * d + c) * HW + y * W;
        T* __restrict gvr = gv + (bh * d + c) * HW + y * W;
        std::fill(gkr, gkr + W, T(0));
        std::fill(gvr, gvr + W, T(0));
        for (int64_t t = 0; t < K; ++t) {
          const int64_t yq = y - g.dy(t, h), dx = g.dx(t, h);
          if (yq < 0 || yq >= g.H) continue;
          // key column x is seen by query column x - dx, which must lie in [0, W)
          const int64_t a = std::max<int64_t>(0, dx), e = std::max(a, std::min(W, W + dx));
          const T* __restrict l = gl + (bh * K + t) * HW + yq * W - dx;
          const T* __restrict p = attn + (bh * K + t) * HW + yq * W - dx;
          const T* __restrict qr = q + (bh * d + c) * HW + yq * W - dx;
          const T* __restrict gor = go + (bh * d + c) * HW + yq * W - dx;
          for (int64_t x = a; x < e; ++x) {
            gkr[x] += l[x] * qr[x];
            gvr[x] += p[x] * gor[x];
          }
        }
      }
    }
  });
}

void check(const torch::Tensor& t, const torch::Tensor& like, const char* name) {
  TORCH_CHECK(t.device().is_cpu() && t.is_contiguous() && t.scalar_type() == like.scalar_type() &&
                  t.sizes() == like.sizes(),
              "msda kernel: ", name, " must be a contiguous CPU tensor of shape ", like.sizes(),
              " and dtype ", like.scalar_type(), ", got ", t.toString(), " of shape ", t.sizes());
}

Geometry checked(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                 int64_t ks, const std::vector<int64_t>& dilations, bool mask) {
  TORCH_CHECK(q.dim() == 5 && (q.scalar_type() == at::kFloat || q.scalar_type() == at::kDouble),
              "msda kernel: q must be (B, heads, d, H, W) float32 / float64, got ", q.toString(),
              " of shape ", q.sizes());
  check(q, q, "q");
  check(k, q, "k");
  check(v, q, "v");
  TORCH_CHECK(ks >= 1 && ks % 2 == 1, "msda kernel: kernel_size must be odd, got ", ks);
  TORCH_CHECK(!dilations.empty() && q.size(1) % static_cast<int64_t>(dilations.size()) == 0,
              "msda kernel: heads (", q.size(1), ") must be a multiple of len(dilations)");
  return geometry(q, ks, dilations, mask);
}

}  // namespace

// Returns (out, attn): out like q, attn (B, heads, k*k, H, W), the softmax weights of the
// logits scale * <q, k>.
std::vector<torch::Tensor> msda_forward(torch::Tensor q, torch::Tensor k, torch::Tensor v,
                                        double scale, int64_t ks, std::vector<int64_t> dilations,
                                        bool mask) {
  const Geometry g = checked(q, k, v, ks, dilations, mask);
  auto out = torch::empty_like(q);
  auto attn = torch::empty({g.B, g.heads, g.K(), g.H, g.W}, q.options());
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "msda_forward", [&] {
    forward<scalar_t>(g, static_cast<scalar_t>(scale), q.data_ptr<scalar_t>(),
                      k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), out.data_ptr<scalar_t>(),
                      attn.data_ptr<scalar_t>());
  });
  return {out, attn};
}

// Returns (grad_q, grad_k, grad_v).
std::vector<torch::Tensor> msda_backward(torch::Tensor grad_out, torch::Tensor q, torch::Tensor k,
                                         torch::Tensor v, torch::Tensor attn, double scale,
                                         int64_t ks, std::vector<int64_t> dilations, bool mask) {
  const Geometry g = checked(q, k, v, ks, dilations, mask);
  check(grad_out, q, "grad_out");
  TORCH_CHECK(attn.is_contiguous() && attn.scalar_type() == q.scalar_type() &&
                  attn.sizes() == at::IntArrayRef({g.B, g.heads, g.K(), g.H, g.W}),
              "msda kernel: attn must be (B, heads, k*k, H, W) like the forward's");
  auto gl = torch::empty_like(attn);
  auto gq = torch::empty_like(q), gk = torch::empty_like(k), gv = torch::empty_like(v);
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "msda_backward", [&] {
    backward<scalar_t>(g, static_cast<scalar_t>(scale), q.data_ptr<scalar_t>(),
                       k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), attn.data_ptr<scalar_t>(),
                       grad_out.data_ptr<scalar_t>(),
                       gl.data_ptr<scalar_t>(), gq.data_ptr<scalar_t>(), gk.data_ptr<scalar_t>(),
                       gv.data_ptr<scalar_t>());
  });
  return {gq, gk, gv};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &msda_forward, "MSDA forward: (out, attn)");
  m.def("parallel_width", &mmext::parallel_width, "threads a parallel region runs on");
  m.def("backward", &msda_backward, "MSDA backward: (grad_q, grad_k, grad_v)");
}
