// The tensor op table: each entry is a name and a small adapter from JavaScript arguments to one
// ATen call. InitTensorOps exposes every entry as exports.ops.<name>(self, ...args). Argument
// positions follow PyTorch's signatures; lib/tensor.ts validates and names them first.
#include <ATen/ScalarOps.h>
#include <ATen/core/Reduction.h>
#include <variant>

#include "core/runtime.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/model.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

// Nothing (in-place ops: JavaScript returns the tensor it called), one tensor, or several.
using OpResult = std::variant<std::monostate, at::Tensor, std::vector<at::Tensor>>;
using OpAdapter = OpResult (*)(const Args&);
struct OpEntry {
  const char* name;
  OpAdapter adapter;
};

// A tensor operand, or a number turned into a "wrapped number" tensor so type promotion is
// PyTorch's: float32 + 2 stays float32, int64 * 2.5 becomes float32.
at::Tensor operand(const Args& a, size_t i) {
  if (i < a.size()) {
    if (const at::Tensor* tensor = TensorHandle::Find(a.value(i))) return *tensor;
  }
  return at::native::wrapped_scalar_tensor(a.scalar(i));
}

int64_t reduction(const Args& a, size_t i) {
  const std::string name = a.stringOr(i, "mean");
  if (name == "mean") return at::Reduction::Mean;
  if (name == "sum") return at::Reduction::Sum;
  if (name == "none") return at::Reduction::None;
  throw ArgumentError("reduction must be 'mean', 'sum' or 'none'");
}

std::vector<at::Tensor> pair(std::tuple<at::Tensor, at::Tensor> values) { return {std::get<0>(values), std::get<1>(values)}; }

#define OP(name, body)                            \
  {                                               \
    name, [](const Args& a) -> OpResult { body; } \
  }
#define UNARY(name, call) OP(name, return call(a.tensor(0)))
#define BINARY(name, call) OP(name, return call(a.tensor(0), operand(a, 1)))
// In place: refused on a tensor of a model a native job runs on (napi/model.h).
#define INPLACE(name, statement) OP(name, at::Tensor self = a.tensor(0); refuseIfBusy(self, name); statement; return std::monostate{})

const OpEntry kOps[] = {
    // unary math
    UNARY("exp", at::exp),
    UNARY("log", at::log),
    UNARY("sqrt", at::sqrt),
    UNARY("rsqrt", at::rsqrt),
    UNARY("abs", at::abs),
    UNARY("neg", at::neg),
    UNARY("tanh", at::tanh),
    UNARY("sigmoid", at::sigmoid),
    UNARY("relu", at::relu),
    UNARY("silu", at::silu),
    UNARY("sin", at::sin),
    UNARY("cos", at::cos),
    UNARY("floor", at::floor),
    UNARY("ceil", at::ceil),
    UNARY("round", at::round),
    UNARY("sign", at::sign),
    UNARY("reciprocal", at::reciprocal),
    UNARY("square", at::square),
    UNARY("log1p", at::log1p),
    UNARY("expm1", at::expm1),
    UNARY("erf", at::erf),
    UNARY("logicalNot", at::logical_not),
    UNARY("isnan", at::isnan),
    UNARY("isinf", at::isinf),
    UNARY("isfinite", at::isfinite),
    OP("gelu", return at::gelu(a.tensor(0), a.stringOr(1, "none"))),
    // arithmetic, comparisons and logic; the second operand is a tensor or a number
    OP("add", return at::add(a.tensor(0), operand(a, 1), a.scalarOr(2, 1))),
    OP("sub", return at::sub(a.tensor(0), operand(a, 1), a.scalarOr(2, 1))),
    BINARY("mul", at::mul),
    BINARY("div", at::div),
    BINARY("pow", at::pow),
    BINARY("remainder", at::remainder),
    BINARY("maximum", at::maximum),
    BINARY("minimum", at::minimum),
    BINARY("atan2", at::atan2),
    BINARY("eq", at::eq),
    BINARY("ne", at::ne),
    BINARY("lt", at::lt),
    BINARY("le", at::le),
    BINARY("gt", at::gt),
    BINARY("ge", at::ge),
    BINARY("logicalAnd", at::logical_and),
    BINARY("logicalOr", at::logical_or),
    BINARY("logicalXor", at::logical_xor),
    OP("equal", return at::scalar_tensor(at::equal(a.tensor(0), a.tensor(1)), at::kBool)),
    OP("allclose", return at::scalar_tensor(at::allclose(a.tensor(0), a.tensor(1), a.numberOr(2, 1e-5), a.numberOr(3, 1e-8)), at::kBool)),
    // in place
    INPLACE("add_", self.add_(operand(a, 1), a.scalarOr(2, 1))),
    INPLACE("sub_", self.sub_(operand(a, 1), a.scalarOr(2, 1))),
    INPLACE("mul_", self.mul_(operand(a, 1))),
    INPLACE("div_", self.div_(operand(a, 1))),
    INPLACE("fill_", self.fill_(a.scalar(1))),
    INPLACE("zero_", self.zero_()),
    INPLACE("copy_", self.copy_(a.tensor(1))),
    INPLACE("clamp_", self.clamp_(a.optionalScalar(1), a.optionalScalar(2))),
    // matrix products
    OP("matmul", return at::matmul(a.tensor(0), a.tensor(1))),
    OP("mm", return at::mm(a.tensor(0), a.tensor(1))),
    OP("bmm", return at::bmm(a.tensor(0), a.tensor(1))),
    OP("outer", return at::outer(a.tensor(0), a.tensor(1))),
    // reductions: (dim?, keepdim?)
    OP("sum",
       {
         if (!a.present(1)) return at::sum(a.tensor(0), a.optionalDtype(3));
         return at::sum(a.tensor(0), a.integers(1), a.boolean(2, false), a.optionalDtype(3));
       }),
    OP("mean",
       {
         if (!a.present(1)) return at::mean(a.tensor(0), a.optionalDtype(3));
         return at::mean(a.tensor(0), a.integers(1), a.boolean(2, false), a.optionalDtype(3));
       }),
    OP("prod",
       {
         if (!a.present(1)) return at::prod(a.tensor(0));
         return at::prod(a.tensor(0), a.integer(1), a.boolean(2, false));
       }),
    OP("max",
       {
         if (!a.present(1)) return at::max(a.tensor(0));
         return pair(at::max(a.tensor(0), a.integer(1), a.boolean(2, false)));
       }),
    OP("min",
       {
         if (!a.present(1)) return at::min(a.tensor(0));
         return pair(at::min(a.tensor(0), a.integer(1), a.boolean(2, false)));
       }),
    OP("argmax", return at::argmax(a.tensor(0), a.optionalInteger(1), a.boolean(2, false))),
    OP("argmin", return at::argmin(a.tensor(0), a.optionalInteger(1), a.boolean(2, false))),
    // std/var(dim?, unbiased = true, keepdim = false), as torch.std(input, dim, unbiased, keepdim)
    OP("std",
       {
         if (!a.present(1)) return at::std(a.tensor(0), a.boolean(2, true));
         return at::std(a.tensor(0), at::OptionalIntArrayRef(a.integers(1)), a.boolean(2, true), a.boolean(3, false));
       }),
    OP("var",
       {
         if (!a.present(1)) return at::var(a.tensor(0), a.boolean(2, true));
         return at::var(a.tensor(0), at::OptionalIntArrayRef(a.integers(1)), a.boolean(2, true), a.boolean(3, false));
       }),
    OP("logsumexp", return at::logsumexp(a.tensor(0), a.integers(1), a.boolean(2, false))),
    OP("all",
       {
         if (!a.present(1)) return at::all(a.tensor(0));
         return at::all(a.tensor(0), a.integer(1), a.boolean(2, false));
       }),
    OP("any",
       {
         if (!a.present(1)) return at::any(a.tensor(0));
         return at::any(a.tensor(0), a.integer(1), a.boolean(2, false));
       }),
    OP("norm",
       {
         if (!a.present(2)) return at::norm(a.tensor(0), a.scalarOr(1, 2));
         return at::norm(a.tensor(0), a.scalarOr(1, 2), a.integers(2), a.boolean(3, false));
       }),
    OP("cumsum", return at::cumsum(a.tensor(0), a.integer(1))),
    // shapes and views
    OP("reshape", return at::reshape(a.tensor(0), a.integers(1))),
    OP("view", return a.tensor(0).view(a.integers(1))),
    OP("permute", return a.tensor(0).permute(a.integers(1))),
    OP("transpose", return at::transpose(a.tensor(0), a.integer(1), a.integer(2))),
    UNARY("t", at::t),
    OP("squeeze",
       {
         if (!a.present(1)) return at::squeeze(a.tensor(0));
         return at::squeeze(a.tensor(0), a.integer(1));
       }),
    OP("unsqueeze", return at::unsqueeze(a.tensor(0), a.integer(1))),
    OP("expand", return a.tensor(0).expand(a.integers(1))),
    OP("repeat", return a.tensor(0).repeat(a.integers(1))),
    OP("flatten", return at::flatten(a.tensor(0), a.integerOr(1, 0), a.integerOr(2, -1))),
    OP("contiguous", return a.tensor(0).contiguous()),
    UNARY("clone", at::clone),
    OP("detach", return a.tensor(0).detach()),
    OP("cat", return at::cat(a.tensors(0), a.integerOr(1, 0))),
    OP("stack", return at::stack(a.tensors(0), a.integerOr(1, 0))),
    OP("split",
       {
         const auto sizes = a.integers(1);
         if (a.value(1).IsNumber()) return at::split(a.tensor(0), sizes[0], a.integerOr(2, 0));
         return at::split_with_sizes(a.tensor(0), sizes, a.integerOr(2, 0));
       }),
    OP("chunk", return at::chunk(a.tensor(0), a.integer(1), a.integerOr(2, 0))),
    // indexing
    OP("select", return at::select(a.tensor(0), a.integer(1), a.integer(2))),
    OP("narrow", return at::narrow(a.tensor(0), a.integer(1), a.integer(2), a.integer(3))),
    OP("slice", return at::slice(a.tensor(0), a.integerOr(1, 0), a.optionalInteger(2), a.optionalInteger(3), a.integerOr(4, 1))),
    OP("indexSelect", return at::index_select(a.tensor(0), a.integer(1), a.tensor(2))),
    OP("gather", return at::gather(a.tensor(0), a.integer(1), a.tensor(2))),
    OP("scatter",
       {
         if (a.isTensor(3)) return at::scatter(a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3));
         return at::scatter(a.tensor(0), a.integer(1), a.tensor(2), a.scalar(3));
       }),
    OP("scatterAdd", return at::scatter_add(a.tensor(0), a.integer(1), a.tensor(2), a.tensor(3))),
    OP("maskedFill",
       {
         if (a.isTensor(2)) return at::masked_fill(a.tensor(0), a.tensor(1), a.tensor(2));
         return at::masked_fill(a.tensor(0), a.tensor(1), a.scalar(2));
       }),
    OP("where", return at::where(a.tensor(0), operand(a, 1), operand(a, 2))),
    OP("topk", return pair(at::topk(a.tensor(0), a.integer(1), a.integerOr(2, -1), a.boolean(3, true), a.boolean(4, true)))),
    OP("sort", return pair(at::sort(a.tensor(0), a.integerOr(1, -1), a.boolean(2, false)))),
    OP("clamp", return at::clamp(a.tensor(0), a.optionalScalar(1), a.optionalScalar(2))),
    OP("triu", return at::triu(a.tensor(0), a.integerOr(1, 0))),
    OP("tril", return at::tril(a.tensor(0), a.integerOr(1, 0))),
    // neural-network functions
    OP("softmax", return at::softmax(a.tensor(0), a.integer(1), a.optionalDtype(2))),
    OP("logSoftmax", return at::log_softmax(a.tensor(0), a.integer(1), a.optionalDtype(2))),
    OP("layerNorm", return at::layer_norm(a.tensor(0), a.integers(1), a.optionalTensor(2), a.optionalTensor(3), a.numberOr(4, 1e-5))),
    OP("dropout", return at::dropout(a.tensor(0), a.numberOr(1, 0.5), a.boolean(2, true))),
    // embedding(weight, indices, paddingIdx = -1), as at::embedding; F.embedding's argument order
    // (input, weight) is restored in lib/nn/functional.ts.
    OP("embedding", return at::embedding(a.tensor(0), a.tensor(1), a.integerOr(2, -1))),
    OP("linear", return at::linear(a.tensor(0), a.tensor(1), a.optionalTensor(2))),
    // losses
    OP("crossEntropy", return at::cross_entropy_loss(a.tensor(0), a.tensor(1), a.optionalTensor(2), reduction(a, 3), a.integerOr(4, -100),
                                                     a.numberOr(5, 0.0))),
    OP("nllLoss", return at::nll_loss(a.tensor(0), a.tensor(1), a.optionalTensor(2), reduction(a, 3), a.integerOr(4, -100))),
    OP("mseLoss", return at::mse_loss(a.tensor(0), a.tensor(1), reduction(a, 2))),
    OP("binaryCrossEntropyWithLogits",
       return at::binary_cross_entropy_with_logits(a.tensor(0), a.tensor(1), a.optionalTensor(2), a.optionalTensor(3), reduction(a, 4))),
    // conversions: to(dtype?, device?)
    OP("to",
       {
         const at::Tensor& self = a.tensor(0);
         const auto dtype = a.optionalDtype(1).value_or(self.scalar_type());
         const auto device = a.present(2) ? parseDevice(a.string(2)) : self.device();
         return self.to(device, dtype);
       }),
    // creation: (shape, dtype?, device?), others as noted
    OP("zeros", return at::zeros(a.integers(0), a.options(1, 2))),
    OP("ones", return at::ones(a.integers(0), a.options(1, 2))),
    OP("empty", return at::empty(a.integers(0), a.options(1, 2))),
    OP("full", return at::full(a.integers(0), a.scalar(1), a.options(2, 3))),  // (shape, value, dtype?, device?)
    OP("rand", return at::rand(a.integers(0), a.options(1, 2))),
    OP("randn", return at::randn(a.integers(0), a.options(1, 2))),
    OP("randint",
       return at::randint(a.integer(0), a.integer(1), a.integers(2), a.options(3, 4).dtype(a.optionalDtype(3).value_or(at::kLong)))),
    OP("arange", return at::arange(a.scalar(0), a.scalar(1), a.scalar(2), a.options(3, 4))),  // (start, end, step, ...)
    OP("linspace", return at::linspace(a.scalar(0), a.scalar(1), a.integer(2), a.options(3, 4))),
    OP("eye", return at::eye(a.integer(0), a.integerOr(1, a.integer(0)), a.options(2, 3))),
    OP("scalarTensor", return at::scalar_tensor(a.scalar(0), a.options(1, 2))),
    // *Like(self, dtype?, device?)
    OP("zerosLike", return at::zeros_like(a.tensor(0), a.options(1, 2))),
    OP("onesLike", return at::ones_like(a.tensor(0), a.options(1, 2))),
    OP("fullLike", return at::full_like(a.tensor(0), a.scalar(1), a.options(2, 3))),
    OP("randLike", return at::rand_like(a.tensor(0), a.options(1, 2))),
    OP("randnLike", return at::randn_like(a.tensor(0), a.options(1, 2))),
    OP("multinomial", return at::multinomial(a.tensor(0), a.integer(1), a.boolean(2, false))),
};

#undef OP
#undef UNARY
#undef BINARY
#undef INPLACE

Napi::Value toJs(Napi::Env env, OpResult&& result) {
  if (auto* tensor = std::get_if<at::Tensor>(&result)) return TensorHandle::Wrap(env, std::move(*tensor));
  if (auto* tensors = std::get_if<std::vector<at::Tensor>>(&result)) {
    auto array = Napi::Array::New(env, tensors->size());
    for (size_t i = 0; i < tensors->size(); ++i) array.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(env, std::move((*tensors)[i])));
    return array;
  }
  return env.Undefined();
}

Napi::Value callOp(const Napi::CallbackInfo& info) {
  const auto* entry = static_cast<const OpEntry*>(info.Data());
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return toJs(info.Env(), entry->adapter(args));
  });
}

}  // namespace

void InitTensorOps(Napi::Env env, Napi::Object exports) {
  auto ops = Napi::Object::New(env);
  for (const OpEntry& entry : kOps) {
    ops.Set(entry.name, Napi::Function::New(env, callOp, entry.name, const_cast<OpEntry*>(&entry)));
  }
  exports.Set("ops", ops);
}

}  // namespace mtl::napi
