#include "napi/metrics.h"

#include "core/metrics/metrics.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

using Fn = Napi::Value (*)(const Napi::CallbackInfo&);

// A metric of two tensors and optional integer options, returning one number.
template <double (*Metric)(const at::Tensor&, const at::Tensor&)>
Napi::Value pairMetric(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return Napi::Number::New(info.Env(), Metric(args.tensor(0), args.tensor(1)));
  });
}

Napi::Value f1(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return Napi::Number::New(info.Env(), metrics::f1(args.tensor(0), args.tensor(1), args.integerOr(2, 1)));
  });
}

Napi::Value f1Macro(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return Napi::Number::New(info.Env(), metrics::f1Macro(args.tensor(0), args.tensor(1), args.integerOr(2, -1)));
  });
}

std::vector<int64_t> sequenceOf(const at::Tensor& t) {
  const at::Tensor flat = t.detach().to(at::kCPU, at::kLong).contiguous().view(-1);
  return {flat.data_ptr<int64_t>(), flat.data_ptr<int64_t>() + flat.numel()};
}

Napi::Value editDistance(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const auto distance = metrics::editDistance(sequenceOf(args.tensor(0)), sequenceOf(args.tensor(1)));
    return Napi::Number::New(info.Env(), static_cast<double>(distance));
  });
}

// Sequences given as a padded tensor and either a lengths tensor or a pad id.
std::vector<std::vector<int64_t>> sequencesAt(const Args& args, size_t i) {
  if (args.isTensor(i + 1)) return metrics::unpad(args.tensor(i), args.tensor(i + 1));
  return metrics::unpad(args.tensor(i), args.integer(i + 1));
}

// sequenceErrors(hypotheses, hypothesisLengths | padId, references, referenceLengths | padId)
Napi::Value sequenceErrors(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const auto errors = metrics::sequenceErrors(sequencesAt(args, 0), sequencesAt(args, 2));
    Napi::Object out = Napi::Object::New(info.Env());
    out.Set("edits", static_cast<double>(errors.edits));
    out.Set("referenceTokens", static_cast<double>(errors.referenceTokens));
    out.Set("wrongSequences", static_cast<double>(errors.wrongSequences));
    out.Set("sequences", static_cast<double>(errors.sequences));
    out.Set("tokenErrorRate", errors.tokenErrorRate());
    out.Set("sequenceErrorRate", errors.sequenceErrorRate());
    return out;
  });
}

Napi::Value averageRanks(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return TensorHandle::Wrap(info.Env(), metrics::averageRanks(args.tensor(0)));
  });
}

std::map<std::string, double> numberMap(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must be an object of numbers");
  const Napi::Object object = value.As<Napi::Object>();
  const Napi::Array keys = object.GetPropertyNames();
  std::map<std::string, double> out;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string key = keys.Get(i).ToString();
    const Napi::Value v = object.Get(key);
    if (!v.IsNumber()) throw ArgumentError(what + "." + key + " must be a number");
    out[key] = v.As<Napi::Number>().DoubleValue();
  }
  return out;
}

Napi::Value glueTaskScore(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return Napi::Number::New(info.Env(), metrics::glueTaskScore(args.string(0), numberMap(info[1], "metrics")));
  });
}

Napi::Value glueAverage(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    if (info.Length() < 1 || !info[0].IsObject()) throw ArgumentError("glueAverage: argument 0 must be an object");
    const Napi::Object tasks = info[0].As<Napi::Object>();
    const Napi::Array names = tasks.GetPropertyNames();
    std::map<std::string, std::map<std::string, double>> results;
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string name = names.Get(i).ToString();
      results[name] = numberMap(tasks.Get(name), name);
    }
    return Napi::Number::New(info.Env(), metrics::glueAverage(results));
  });
}

}  // namespace

void InitMetrics(Napi::Env env, Napi::Object exports) {
  const std::pair<const char*, Fn> functions[] = {
      {"accuracy", &pairMetric<metrics::accuracy>},
      {"f1", &f1},
      {"f1Macro", &f1Macro},
      {"matthewsCorrelation", &pairMetric<metrics::matthewsCorrelation>},
      {"pearson", &pairMetric<metrics::pearson>},
      {"spearman", &pairMetric<metrics::spearman>},
      {"averageRanks", &averageRanks},
      {"editDistance", &editDistance},
      {"sequenceErrors", &sequenceErrors},
      {"glueTaskScore", &glueTaskScore},
      {"glueAverage", &glueAverage},
  };
  Napi::Object table = Napi::Object::New(env);
  for (const auto& [name, fn] : functions) table.Set(name, Napi::Function::New(env, fn, name));
  exports.Set("metrics", table);
}

}  // namespace mtl::napi
