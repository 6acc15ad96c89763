#include "napi/train_config.h"

#include "napi/dataset.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

// Reads fields of an option object; absent (undefined/null) fields keep their defaults.
class Fields {
 public:
  Fields(const Napi::Value& value, std::string what) : what_(std::move(what)) {
    if (value.IsObject()) object_ = value.As<Napi::Object>();
    else if (!value.IsUndefined() && !value.IsNull()) throw ArgumentError(what_ + " must be an object");
  }
  bool has(const char* key) const {
    if (object_.IsEmpty()) return false;
    Napi::Value v = object_.Get(key);
    return !v.IsUndefined() && !v.IsNull();
  }
  Napi::Value get(const char* key) const { return has(key) ? object_.Get(key) : Napi::Value(); }
  double number(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    Napi::Value v = object_.Get(key);
    if (!v.IsNumber()) throw ArgumentError(name(key) + " must be a number");
    return v.As<Napi::Number>().DoubleValue();
  }
  int64_t integer(const char* key, int64_t fallback) const {
    const double v = number(key, static_cast<double>(fallback));
    if (v != static_cast<double>(static_cast<int64_t>(v))) throw ArgumentError(name(key) + " must be an integer");
    return static_cast<int64_t>(v);
  }
  std::string string(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    Napi::Value v = object_.Get(key);
    if (!v.IsString()) throw ArgumentError(name(key) + " must be a string");
    return v.As<Napi::String>().Utf8Value();
  }
  bool boolean(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    Napi::Value v = object_.Get(key);
    if (!v.IsBoolean()) throw ArgumentError(name(key) + " must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }
  std::map<std::string, double> numberMap(const char* key) const {
    std::map<std::string, double> out;
    if (!has(key)) return out;
    Fields inner(object_.Get(key), name(key));
    Napi::Array keys = inner.object_.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      const std::string k = keys.Get(i).As<Napi::String>().Utf8Value();
      out[k] = inner.number(k.c_str(), 0);
    }
    return out;
  }
  std::string name(const char* key) const { return what_ + "." + key; }

 private:
  Napi::Object object_;
  std::string what_;
};

}  // namespace

train::WeightingConfig weightingConfigOf(const Napi::Value& value) {
  Fields f(value, "weighting");
  train::WeightingConfig c;
  c.method = f.string("method", c.method);
  c.weights = f.numberMap("weights");
  c.temperature = f.number("temperature", c.temperature);
  c.alpha = f.number("alpha", c.alpha);
  c.c = f.number("c", c.c);
  c.lr = f.number("lr", c.lr);
  c.weightDecay = f.number("gamma", c.weightDecay);
  c.seed = static_cast<uint64_t>(f.integer("seed", 0));
  return c;
}

train::SamplerConfig samplerConfigOf(const Napi::Value& value) {
  Fields f(value, "sampler");
  train::SamplerConfig c;
  c.kind = f.string("kind", c.kind);
  c.temperature = f.number("temperature", c.temperature);
  return c;
}

train::TrainerOptions trainerOptionsOf(const Napi::Value& value) {
  Fields f(value, "options");
  train::TrainerOptions o;
  Fields strategy(f.get("strategy"), "strategy");
  o.strategy.kind = strategy.string("kind", o.strategy.kind);
  o.strategy.every = strategy.string("every", o.strategy.every);
  o.strategy.main = strategy.string("main", "");
  o.strategy.warmupSteps = strategy.integer("warmupSteps", 0);
  o.strategy.rampSteps = strategy.integer("rampSteps", 0);
  o.weighting = weightingConfigOf(f.get("weighting"));
  o.sampler = samplerConfigOf(f.get("sampler"));
  Fields optimizer(f.get("optimizer"), "optimizer");
  o.optimizer.kind = optimizer.string("kind", o.optimizer.kind);
  o.optimizer.lr = optimizer.number("lr", o.optimizer.lr);
  o.optimizer.weightDecay = optimizer.number("weightDecay", o.optimizer.weightDecay);
  o.optimizer.beta1 = optimizer.number("beta1", o.optimizer.beta1);
  o.optimizer.beta2 = optimizer.number("beta2", o.optimizer.beta2);
  o.optimizer.eps = optimizer.number("eps", o.optimizer.eps);
  o.optimizer.momentum = optimizer.number("momentum", o.optimizer.momentum);
  o.optimizer.nesterov = optimizer.boolean("nesterov", false);
  o.optimizer.partLearningRates = optimizer.numberMap("partLearningRates");
  Fields schedule(f.get("schedule"), "schedule");
  o.schedule.kind = schedule.string("kind", o.schedule.kind);
  o.schedule.warmupSteps = schedule.integer("warmupSteps", 0);
  o.schedule.totalSteps = schedule.integer("totalSteps", 0);
  o.batchSize = f.integer("batchSize", o.batchSize);
  o.evalBatchSize = f.integer("evalBatchSize", 0);
  o.clipGradNorm = f.number("clipGradNorm", 0);
  o.accumulateSteps = f.integer("accumulateSteps", 1);
  o.precision = f.string("precision", o.precision);
  o.seed = static_cast<uint64_t>(f.integer("seed", 0));
  o.skipNonFinite = f.string("onNonFinite", "stop") == "skip";
  o.weighting.seed = o.seed;
  return o;
}

train::FitOptions fitOptionsOf(const Napi::Value& value) {
  Fields f(value, "fit options");
  train::FitOptions o;
  o.epochs = f.integer("epochs", 0);
  o.steps = f.integer("steps", 0);
  if (f.has("evalSets")) o.evalSets = datasetsOf(f.get("evalSets"), "evalSets");
  o.evalEvery = f.integer("evalEvery", 0);
  o.checkpointDir = f.string("checkpointDir", "");
  o.checkpointEvery = f.integer("checkpointEvery", 0);
  o.resumeFrom = f.string("resumeFrom", "");
  o.progressEvery = f.integer("progressEvery", 1);
  if (f.has("earlyStopping")) {
    Fields es(f.get("earlyStopping"), "earlyStopping");
    o.hasEarlyStopping = true;
    o.earlyStopping.metric = es.string("metric", "loss");
    o.earlyStopping.patience = es.integer("patience", 3);
    o.earlyStopping.mode = es.string("mode", o.earlyStopping.metric == "loss" ? "min" : "max");
    o.earlyStopping.minDelta = es.number("minDelta", 0);
  }
  return o;
}

train::testing::ReferenceModelConfig referenceModelConfigOf(const Napi::Value& value) {
  Fields f(value, "referenceModel");
  train::testing::ReferenceModelConfig c;
  c.inputDim = f.integer("inputDim", 0);
  c.vocabSize = f.integer("vocabSize", 0);
  c.embedDim = f.integer("embedDim", 0);
  c.dropout = f.number("dropout", 0);
  c.device = f.string("device", "cpu");
  if (f.has("hidden")) {
    Napi::Value hidden = f.get("hidden");
    if (!hidden.IsArray()) throw ArgumentError("referenceModel.hidden must be an array of sizes");
    Napi::Array sizes = hidden.As<Napi::Array>();
    c.hidden.clear();
    for (uint32_t i = 0; i < sizes.Length(); ++i) c.hidden.push_back(static_cast<int64_t>(sizes.Get(i).As<Napi::Number>().DoubleValue()));
  }
  Napi::Value tasks = f.get("tasks");
  if (!tasks.IsArray()) throw ArgumentError("referenceModel.tasks must be an array of { name, kind, outputs }");
  Napi::Array list = tasks.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) {
    Fields t(list.Get(i), "referenceModel.tasks[" + std::to_string(i) + "]");
    train::testing::ReferenceTask task;
    task.name = t.string("name", "");
    task.kind = t.string("kind", task.kind);
    task.outputs = t.integer("outputs", task.kind == "regression" ? 1 : 2);
    c.tasks.push_back(task);
  }
  return c;
}

train::Datasets datasetsOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject()) throw ArgumentError(std::string(what) + " must be an object mapping task names to data sets");
  Napi::Object object = value.As<Napi::Object>();
  Napi::Array keys = object.GetPropertyNames();
  train::Datasets out;
  for (uint32_t i = 0; i < keys.Length(); ++i) {
    const std::string task = keys.Get(i).As<Napi::String>().Utf8Value();
    out[task] = DatasetHandle::DatasetOf(object.Get(task), (std::string(what) + "." + task).c_str());
  }
  return out;
}

data::Batch batchOf(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must be a batch object of tensors");
  Napi::Object object = value.As<Napi::Object>();
  auto field = [&](const char* name, bool required) -> at::Tensor {
    Napi::Value v = object.Get(name);
    if (v.IsUndefined() || v.IsNull()) {
      if (required) throw ArgumentError(what + "." + name + " is required");
      return at::Tensor();
    }
    return TensorHandle::TensorOf(v, (what + "." + name).c_str());
  };
  data::Batch b;
  b.indices = field("indices", false);
  b.inputIds = field("inputIds", false);
  b.lengths = field("lengths", false);
  b.tokenTypeIds = field("tokenTypeIds", false);
  b.targets = field("targets", true);
  b.targetLengths = field("targetLengths", false);
  b.features = field("features", false);
  if (!b.indices.defined()) b.indices = at::arange(b.targets.size(0), at::kLong);
  return b;
}

Napi::Object numbersToObject(Napi::Env env, const std::map<std::string, double>& values) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [k, v] : values) out.Set(k, v);
  return out;
}

Napi::Object metricsToObject(Napi::Env env, const train::Metrics& metrics) {
  Napi::Object out = Napi::Object::New(env);
  for (const auto& [task, values] : metrics) out.Set(task, numbersToObject(env, values));
  return out;
}

Napi::Object eventToObject(Napi::Env env, const train::ProgressEvent& e) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("type", e.kind);
  out.Set("step", static_cast<double>(e.step));
  out.Set("epoch", static_cast<double>(e.epoch));
  if (e.kind == "step" || e.kind == "epoch") {
    out.Set("losses", numbersToObject(env, e.losses));
    out.Set("learningRate", e.learningRate);
  }
  if (e.kind == "step") {
    out.Set("lambdas", numbersToObject(env, e.lambdas));
    out.Set("stepsPerSecond", e.stepsPerSecond);
    out.Set("examplesPerSecond", e.examplesPerSecond);
    out.Set("threads", e.threads);
  }
  if (e.kind == "eval") out.Set("metrics", metricsToObject(env, e.metrics));
  if (!e.message.empty()) out.Set(e.kind == "checkpoint" ? "path" : "message", e.message);
  return out;
}

}  // namespace mtl::napi
