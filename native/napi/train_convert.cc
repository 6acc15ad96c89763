#include "napi/train_convert.h"

#include "napi/dataset.h"
#include "napi/errors.h"
#include "napi/tensor.h"

#include "core/runtime.h"

namespace mtl::napi {

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

namespace {

bool holdsIntegers(const at::Tensor& t) { return at::isIntegralType(t.scalar_type(), /*includeBool=*/false); }

// What a batch given from JavaScript must be (data sets check their own tensors when they are
// built): ids, lengths and indices of an integer dtype (a float id would be truncated), inputs of
// (B, L) with B, L > 0, lengths in [1, L] (a row with no position to attend to gives NaN), and every
// per-row field with B rows. `what` names the batch in the messages.
void checkBatch(const data::Batch& b, const std::string& what) {
  auto fail = [&](const std::string& field, const std::string& message) { throw ArgumentError(what + "." + field + ": " + message); };
  auto integers = [&](const at::Tensor& t, const char* field) {
    if (t.defined() && !holdsIntegers(t)) fail(field, "must hold integers (int64, int32 or uint8), got " + dtypeName(t.scalar_type()));
  };
  integers(b.inputIds, "inputIds");
  integers(b.lengths, "lengths");
  integers(b.tokenTypeIds, "tokenTypeIds");
  integers(b.targetLengths, "targetLengths");
  integers(b.indices, "indices");
  if (b.features.defined() && !at::isFloatingType(b.features.scalar_type()))
    fail("features", "must be floating point, got " + dtypeName(b.features.scalar_type()));
  const bool ids = b.inputIds.defined();
  const at::Tensor& inputs = ids ? b.inputIds : b.features;
  const char* inputName = ids ? "inputIds" : "features";
  if (inputs.dim() != (ids ? 2 : 3))
    fail(inputName, std::string("must be ") + (ids ? "(B, L)" : "(B, L, F)") + ", got shape " + c10::str(inputs.sizes()));
  const int64_t rows = inputs.size(0), width = inputs.size(1);
  if (rows == 0 || width == 0) fail(inputName, "must have at least one row and one position, got shape " + c10::str(inputs.sizes()));
  // A features data set's batches carry both (its padded ids give the row width): they must agree.
  if (ids && b.features.defined() && (b.features.dim() != 3 || b.features.size(0) != rows || b.features.size(1) != width)) {
    fail("features",
         "must be (B, L, F) with the B and L of inputIds " + c10::str(b.inputIds.sizes()) + ", got shape " + c10::str(b.features.sizes()));
  }
  if (ids && b.inputIds.min().item<int64_t>() < 0) fail("inputIds", "must not be negative");
  auto perRow = [&](const at::Tensor& t, const char* field) {
    if (t.defined() && (t.dim() < 1 || t.size(0) != rows))
      fail(field, "must have " + std::to_string(rows) + " rows (one per example), got shape " + c10::str(t.sizes()));
  };
  perRow(b.lengths, "lengths");
  perRow(b.tokenTypeIds, "tokenTypeIds");
  perRow(b.targets, "targets");
  perRow(b.targetLengths, "targetLengths");
  perRow(b.indices, "indices");
  if (b.lengths.defined()) {
    if (b.lengths.dim() != 1) fail("lengths", "must be one-dimensional (B), got shape " + c10::str(b.lengths.sizes()));
    const int64_t shortest = b.lengths.min().item<int64_t>(), longest = b.lengths.max().item<int64_t>();
    if (shortest < 1 || longest > width) {
      fail("lengths", "must lie in [1, " + std::to_string(width) + "] (the row width), got values in [" + std::to_string(shortest) + ", " +
                          std::to_string(longest) + "]");
    }
  }
  if (b.tokenTypeIds.defined() && b.tokenTypeIds.sizes() != b.inputIds.sizes()) fail("tokenTypeIds", "must have the shape of inputIds");
  if (b.targetLengths.defined()) {
    if (b.targetLengths.dim() != 1) fail("targetLengths", "must be one-dimensional (B)");
    if (!b.targets.defined() || b.targets.dim() < 2) fail("targetLengths", "needs targets of (B, T)");
    const int64_t shortest = b.targetLengths.min().item<int64_t>(), longest = b.targetLengths.max().item<int64_t>();
    if (shortest < 0 || longest > b.targets.size(1)) fail("targetLengths", "must lie in [0, " + std::to_string(b.targets.size(1)) + "]");
  }
}

}  // namespace

data::Batch batchOf(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must be a batch object of tensors");
  Napi::Object object = value.As<Napi::Object>();
  auto field = [&](const char* name) -> at::Tensor {
    Napi::Value v = object.Get(name);
    if (v.IsUndefined() || v.IsNull()) return at::Tensor();
    return TensorHandle::TensorOf(v, (what + "." + name).c_str());
  };
  data::Batch b;
  b.indices = field("indices");
  b.inputIds = field("inputIds");
  b.lengths = field("lengths");
  b.tokenTypeIds = field("tokenTypeIds");
  b.targets = field("targets");
  b.targetLengths = field("targetLengths");
  b.features = field("features");
  const at::Tensor& rows = b.inputIds.defined() ? b.inputIds : b.features;
  if (!rows.defined()) throw ArgumentError(what + " needs inputIds or features");
  checkBatch(b, what);
  if (!b.indices.defined()) b.indices = at::arange(rows.size(0), at::kLong);
  return b;
}

std::map<std::string, data::Batch> batchesOf(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must map task names to batches");
  const auto object = value.As<Napi::Object>();
  const auto names = object.GetPropertyNames();
  std::map<std::string, data::Batch> batches;
  for (uint32_t i = 0; i < names.Length(); ++i) {
    const std::string task = names.Get(i).As<Napi::String>().Utf8Value();
    batches[task] = batchOf(object.Get(task), what + "." + task);
  }
  return batches;
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

namespace {

Napi::Array matrixToArray(Napi::Env env, const std::vector<std::vector<double>>& rows) {
  Napi::Array out = Napi::Array::New(env, rows.size());
  for (size_t i = 0; i < rows.size(); ++i) {
    Napi::Array row = Napi::Array::New(env, rows[i].size());
    for (size_t j = 0; j < rows[i].size(); ++j) row.Set(static_cast<uint32_t>(j), rows[i][j]);
    out.Set(static_cast<uint32_t>(i), row);
  }
  return out;
}

}  // namespace

Napi::Object eventToObject(Napi::Env env, const train::ProgressEvent& e) {
  Napi::Object out = Napi::Object::New(env);
  out.Set("kind", e.kind);
  out.Set("step", static_cast<double>(e.step));
  out.Set("epoch", static_cast<double>(e.epoch));
  if (e.kind == "step" || e.kind == "epoch") {
    out.Set("losses", numbersToObject(env, e.losses));
    out.Set("learningRate", e.learningRate);
  }
  if (e.kind == "step") {
    out.Set("lambdas", numbersToObject(env, e.lambdas));
    Napi::Object examples = Napi::Object::New(env);
    for (const auto& [task, rows] : e.examples) examples.Set(task, static_cast<double>(rows));
    out.Set("examples", examples);
    out.Set("stepsPerSecond", e.stepsPerSecond);
    out.Set("examplesPerSecond", e.examplesPerSecond);
    out.Set("threads", e.threads);
    out.Set("communicationSeconds", e.communicationSeconds);
    if (e.diagnostics) {
      const auto& d = *e.diagnostics;
      Napi::Object diagnostics = Napi::Object::New(env);
      Napi::Array tasks = Napi::Array::New(env, d.tasks.size());
      for (size_t i = 0; i < d.tasks.size(); ++i) tasks.Set(static_cast<uint32_t>(i), d.tasks[i]);
      diagnostics.Set("tasks", tasks);
      diagnostics.Set("cosine", matrixToArray(env, d.cosine));
      diagnostics.Set("affinity", matrixToArray(env, d.affinity));
      diagnostics.Set("lookaheadRate", d.lookaheadRate);
      diagnostics.Set("seconds", d.seconds);
      out.Set("diagnostics", diagnostics);
    }
  }
  if (e.kind == "eval") out.Set("metrics", metricsToObject(env, e.metrics));
  if (e.kind == "best") out.Set("value", e.value);
  if (!e.message.empty()) out.Set(e.kind == "checkpoint" || e.kind == "best" ? "path" : "message", e.message);
  return out;
}

}  // namespace mtl::napi
