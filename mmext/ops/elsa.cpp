// Copyright (c) mmext contributors. All rights reserved.
// ELSA's aggregation (Hadamard attention with the ghost head) on CPU, forward and backward:
//   out[c, p] = sum_t v[c, p + off_t] * (mul[c, t] * attn[t, p] + add[c, t])   (zero padding)
// One task per (batch, head, output row) builds each channel's row from the k*k shifted rows of
// v, so neither the unfolded values nor the per-pixel filters exist in memory. Tensors are
// channels-first (B, G, C, H, W) as the convolutions produce them; the inner loops run along a
// row (contiguous x) and vectorise.
#include <torch/extension.h>
#include <ATen/Parallel.h>

#include "kernel_utils.h"

#include <algorithm>
#include <cstdint>
#include <vector>

namespace {

struct Geometry {
  int64_t B, G, C, H, W, ks, dilation;

  int64_t K() const { return ks * ks; }
  int64_t HW() const { return H * W; }
  int64_t dy(int64_t t) const { return (t / ks - ks / 2) * dilation; }
  int64_t dx(int64_t t) const { return (t % ks - ks / 2) * dilation; }
  // columns x whose neighbour x + dx lies in [0, W)
  int64_t x0(int64_t dx) const { return std::max<int64_t>(0, -dx); }
  int64_t x1(int64_t dx) const { return std::max(x0(dx), std::min(W, W - dx)); }
};

// rows per task, so that a task does at least ~16k multiply-adds
int64_t grain(const Geometry& g) {
  return std::max<int64_t>(1, 16384 / std::max<int64_t>(1, g.K() * g.C * g.W));
}

// The ghost filters of head g, channel c: (mul, add) per offset; 1 / 0 when absent.
template <typename T>
struct Ghost {
  const T* mul;
  const T* add;
  T m(int64_t i) const { return mul ? mul[i] : T(1); }
  T a(int64_t i) const { return add ? add[i] : T(0); }
};

template <typename T>
void forward(const Geometry& g, const T* v, const T* attn, Ghost<T> gh, T* out) {
  const int64_t K = g.K(), HW = g.HW(), W = g.W;
  mmext::parallel_chunks(g.B * g.G * g.H, grain(g), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t y = task % g.H, bg = task / g.H, hd = bg % g.G;
      for (int64_t c = 0; c < g.C; ++c) {
        T* __restrict o = out + (bg * g.C + c) * HW + y * W;
        std::fill(o, o + W, T(0));
        for (int64_t t = 0; t < K; ++t) {
          const int64_t yy = y + g.dy(t), dx = g.dx(t);
          if (yy < 0 || yy >= g.H) continue;
          const int64_t i = (hd * g.C + c) * K + t;
          const T m = gh.m(i), ad = gh.a(i);
          const T* __restrict a = attn + (bg * K + t) * HW + y * W;
          const T* __restrict vr = v + (bg * g.C + c) * HW + yy * W + dx;
          for (int64_t x = g.x0(dx), e = g.x1(dx); x < e; ++x) o[x] += (m * a[x] + ad) * vr[x];
        }
      }
    }
  });
}

template <typename T>
void backward(const Geometry& g, const T* v, const T* attn, Ghost<T> gh, const T* go, T* gv,
              T* ga, T* gmul, T* gadd) {
  const int64_t K = g.K(), HW = g.HW(), W = g.W;
  const int64_t rows = g.B * g.G * g.H;
  if (ga) {  // per query row: d out / d attn[t] = sum_c mul[c, t] * go[c] * v[c, p + off_t]
    mmext::parallel_chunks(rows, grain(g), [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t y = task % g.H, bg = task / g.H, hd = bg % g.G;
        for (int64_t t = 0; t < K; ++t) {
          T* __restrict gar = ga + (bg * K + t) * HW + y * W;
          std::fill(gar, gar + W, T(0));
          const int64_t yy = y + g.dy(t), dx = g.dx(t);
          if (yy < 0 || yy >= g.H) continue;
          for (int64_t c = 0; c < g.C; ++c) {
            const T m = gh.m((hd * g.C + c) * K + t);
            const T* __restrict gor = go + (bg * g.C + c) * HW + y * W;
            const T* __restrict vr = v + (bg * g.C + c) * HW + yy * W + dx;
            for (int64_t x = g.x0(dx), e = g.x1(dx); x < e; ++x) gar[x] += m * gor[x] * vr[x];
          }
        }
      }
    });
  }
  if (gv) {  // per key row: gather from the queries p = key - off_t that read it
    mmext::parallel_chunks(rows, grain(g), [&](int64_t begin, int64_t end) {
      for (int64_t task = begin; task < end; ++task) {
        const int64_t y = task % g.H, bg = task / g.H, hd = bg % g.G;
        for (int64_t c = 0; c < g.C; ++c) {
          T* __restrict gvr = gv + (bg * g.C + c) * HW + y * W;
          std::fill(gvr, gvr + W, T(0));
          for (int64_t t = 0; t < K; ++t) {
            const int64_t yq = y - g.dy(t), dx = g.dx(t);
            if (yq < 0 || yq >= g.H) continue;
            const int64_t i = (hd * g.C + c) * K + t;
            const T m = gh.m(i), ad = gh.a(i);
            const int64_t a = std::max<int64_t>(0, dx), e = std::max(a, std::min(W, W + dx));
            const T* __restrict p = attn + (bg * K + t) * HW + yq * W - dx;
            const T* __restrict gor = go + (bg * g.C + c) * HW + yq * W - dx;
            for (int64_t x = a; x < e; ++x) gvr[x] += (m * p[x] + ad) * gor[x];
          }
        }
      }
    });
  }
  if (gmul || gadd) {  // per (head, channel): sums over batch and pixels, no write conflicts
    mmext::parallel_chunks(g.G * g.C, 1, [&](int64_t begin, int64_t end) {
      // per-column partial sums (K, W): element-wise accumulation vectorises, a horizontal
      // sum per row would not (without -ffast-math); reduced in double at the end
      std::vector<T> sm(K * W), sa(K * W);
      for (int64_t gc = begin; gc < end; ++gc) {
        const int64_t hd = gc / g.C, c = gc % g.C;
        std::fill(sm.begin(), sm.end(), T(0));
        std::fill(sa.begin(), sa.end(), T(0));
        for (int64_t b = 0; b < g.B; ++b) {
          const int64_t bg = b * g.G + hd;
          for (int64_t y = 0; y < g.H; ++y)
            for (int64_t t = 0; t < K; ++t) {
              const int64_t yy = y + g.dy(t), dx = g.dx(t);
              if (yy < 0 || yy >= g.H) continue;
              const T* __restrict gor = go + (bg * g.C + c) * HW + y * W;
              const T* __restrict vr = v + (bg * g.C + c) * HW + yy * W + dx;
              const T* __restrict a = attn + (bg * K + t) * HW + y * W;
              T* __restrict pa = sa.data() + t * W;
              T* __restrict pm = sm.data() + t * W;
              const int64_t x0 = g.x0(dx), x1 = g.x1(dx);
              if (gmul)
                for (int64_t x = x0; x < x1; ++x) {
                  const T p = gor[x] * vr[x];
                  pa[x] += p;
                  pm[x] += p * a[x];
                }
              else
                for (int64_t x = x0; x < x1; ++x) pa[x] += gor[x] * vr[x];
            }
        }
        for (int64_t t = 0; t < K; ++t) {
          double m = 0., ad = 0.;
          for (int64_t x = 0; x < W; ++x) {
            m += sm[t * W + x];
            ad += sa[t * W + x];
          }
          if (gmul) gmul[gc * K + t] = static_cast<T>(m);
          if (gadd) gadd[gc * K + t] = static_cast<T>(ad);
        }
      }
    });
  }
}

Geometry checked(const torch::Tensor& v, const torch::Tensor& attn, const torch::Tensor& mul,
                 const torch::Tensor& add, int64_t ks, int64_t dilation) {
  TORCH_CHECK(v.dim() == 5 && v.device().is_cpu() && v.is_contiguous() &&
                  (v.scalar_type() == at::kFloat || v.scalar_type() == at::kDouble),
              "elsa kernel: v must be a contiguous (B, G, C, H, W) float32 / float64 CPU tensor, "
              "got ", v.toString(), " of shape ", v.sizes());
  TORCH_CHECK(ks >= 1 && ks % 2 == 1 && dilation >= 1,
              "elsa kernel: kernel_size must be odd and dilation >= 1, got ", ks, ", ", dilation);
  const Geometry g{v.size(0), v.size(1), v.size(2), v.size(3), v.size(4), ks, dilation};
  TORCH_CHECK(attn.is_contiguous() && attn.scalar_type() == v.scalar_type() &&
                  attn.sizes() == at::IntArrayRef({g.B, g.G, g.K(), g.H, g.W}),
              "elsa kernel: attn must be contiguous (B, G, k*k, H, W) like v, got ",
              attn.sizes());
  for (const auto* t : {&mul, &add})
    TORCH_CHECK(t->numel() == 0 || (t->is_contiguous() && t->scalar_type() == v.scalar_type() &&
                                    t->sizes() == at::IntArrayRef({g.G, g.C, g.K()})),
                "elsa kernel: ghost filters must be empty or contiguous (G, C, k*k), got ",
                t->sizes());
  return g;
}

template <typename T>
Ghost<T> ghost(const torch::Tensor& mul, const torch::Tensor& add) {
  return {mul.numel() ? mul.data_ptr<T>() : nullptr, add.numel() ? add.data_ptr<T>() : nullptr};
}

template <typename T>
T* ptr_or_null(torch::Tensor& t) {
  return t.defined() ? t.data_ptr<T>() : nullptr;
}

}  // namespace

// mul / add: (G, C, k*k) or empty (all ones / all zeros).
torch::Tensor elsa_forward(torch::Tensor v, torch::Tensor attn, torch::Tensor mul,
                           torch::Tensor add, int64_t ks, int64_t dilation) {
  const Geometry g = checked(v, attn, mul, add, ks, dilation);
  auto out = torch::empty_like(v);
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "elsa_forward", [&] {
    forward<scalar_t>(g, v.data_ptr<scalar_t>(), attn.data_ptr<scalar_t>(),
                      ghost<scalar_t>(mul, add), out.data_ptr<scalar_t>());
  });
  return out;
}

// Returns (grad_v, grad_attn, grad_mul, grad_add); a gradient not asked for (needs[i] false,
// or an absent ghost filter) is an undefined tensor.
std::vector<torch::Tensor> elsa_backward(torch::Tensor grad_out, torch::Tensor v,
                                         torch::Tensor attn, torch::Tensor mul, torch::Tensor add,
                                         int64_t ks, int64_t dilation, std::vector<bool> needs) {
  const Geometry g = checked(v, attn, mul, add, ks, dilation);
  TORCH_CHECK(grad_out.is_contiguous() && grad_out.sizes() == v.sizes() &&
                  grad_out.scalar_type() == v.scalar_type(),
              "elsa kernel: grad_out must be contiguous and like v");
  TORCH_CHECK(needs.size() == 4, "elsa kernel: needs has one flag per input");
  torch::Tensor gv, ga, gm, gadd;
  if (needs[0]) gv = torch::empty_like(v);
  if (needs[1]) ga = torch::empty_like(attn);
  if (needs[2] && mul.numel()) gm = torch::empty_like(mul);
  if (needs[3] && add.numel()) gadd = torch::empty_like(add);
  AT_DISPATCH_FLOATING_TYPES(v.scalar_type(), "elsa_backward", [&] {
    backward<scalar_t>(g, v.data_ptr<scalar_t>(), attn.data_ptr<scalar_t>(),
                       ghost<scalar_t>(mul, add), grad_out.data_ptr<scalar_t>(),
                       ptr_or_null<scalar_t>(gv), ptr_or_null<scalar_t>(ga),
                       ptr_or_null<scalar_t>(gm), ptr_or_null<scalar_t>(gadd));
  });
  return {gv, ga, gm, gadd};
}

PYBIND11_MODULE(TORCH_EXTENSION_NAME, m) {
  m.def("forward", &elsa_forward, "ELSA aggregation forward");
  m.def("parallel_width", &mmext::parallel_width, "threads a parallel region runs on");
  m.def("backward", &elsa_backward, "ELSA aggregation backward: (grad_v, grad_attn, grad_mul, "
                                    "grad_add)");
}
