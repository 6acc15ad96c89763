#include "napi/model.h"

#include "core/runtime.h"
#include "napi/addon_data.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/named_tensors.h"
#include "napi/options.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

model::HeadConfig readHead(const Napi::Value& value, const std::string& what) {
  const OptionReader o(value, what);
  model::HeadConfig head;
  head.kind = model::parseHeadKind(o.stringOr("kind", ""));
  const int64_t outputs = o.integerOr("classes", o.integerOr("labels", 1));
  head.outputs = outputs;
  head.decoderLayers = o.integerOr("decoderLayers", 0);
  head.labelSmoothing = o.numberOr("labelSmoothing", 0);
  head.ignoreIndex = o.integerOr("ignoreIndex", -100);
  head.vocabSize = o.integerOr("vocabSize", 0);
  head.maxLength = o.integerOr("maxLength", 0);
  head.padId = o.integerOr("padId", 0);
  head.bosId = o.integerOr("bosId", 1);
  head.eosId = o.integerOr("eosId", 2);
  return head;
}

std::vector<std::string> readStrings(const Napi::Value& value, const char* what) {
  if (!value.IsArray()) throw ArgumentError(std::string(what) + " must be an array of strings");
  const auto array = value.As<Napi::Array>();
  std::vector<std::string> out;
  for (uint32_t i = 0; i < array.Length(); ++i) {
    if (!array.Get(i).IsString()) throw ArgumentError(std::string(what) + " must be an array of strings");
    out.push_back(array.Get(i).As<Napi::String>().Utf8Value());
  }
  return out;
}

model::TaskConfig readTask(const Napi::Value& value) {
  const OptionReader o(value, "task");
  model::TaskConfig task;
  task.name = o.stringOr("name", "");
  task.head = readHead(value, "tasks." + task.name);
  return task;
}

// { input, encoder, sharing, tasks: [{ name, kind, ... }] } (lib/model/spec.ts: NativeModelConfig)
model::ModelConfig readConfig(const Napi::Value& value) {
  if (!value.IsObject()) throw ArgumentError("model config must be an object");
  const auto root = value.As<Napi::Object>();
  model::ModelConfig config;
  const OptionReader input(root.Get("input"), "input");
  config.input.vocabSize = input.integerOr("vocabSize", 0);
  config.input.maxLength = input.integer("maxLength");
  config.input.padId = input.integerOr("padId", 0);
  config.input.featureSize = input.integerOr("features", 0);
  const OptionReader enc(root.Get("encoder"), "encoder");
  config.encoder.numLayers = enc.integer("numLayers");
  config.encoder.dModel = enc.integer("dModel");
  config.encoder.nhead = enc.integer("nhead");
  config.encoder.dimFeedforward = enc.integer("dimFeedforward");
  config.encoder.dropout = enc.numberOr("dropout", 0.1);
  config.encoder.activation = enc.stringOr("activation", "relu");
  config.encoder.normFirst = enc.boolean("normFirst", false);
  const OptionReader sharing(root.Get("sharing"), "sharing");
  auto& s = config.sharing;
  s.kind = model::parseSharingKind(sharing.stringOr("kind", ""));
  s.sharedLayers = sharing.integerOr("sharedLayers", 0);
  s.reduction = sharing.integerOr("reduction", 8);
  s.placement = sharing.stringOr("placement", "houlsby");
  s.freezeBackbone = sharing.boolean("freezeBackbone", false);
  s.rank = sharing.integerOr("rank", 8);
  s.alpha = sharing.numberOr("alpha", 16);
  if (sharing.has("targets")) s.targets = readStrings(root.Get("sharing").As<Napi::Object>().Get("targets"), "sharing.targets");
  s.experts = sharing.integerOr("experts", 4);
  s.topK = sharing.integerOr("topK", 0);
  const Napi::Value tasks = root.Get("tasks");
  if (!tasks.IsArray()) throw ArgumentError("tasks must be an array");
  const auto list = tasks.As<Napi::Array>();
  for (uint32_t i = 0; i < list.Length(); ++i) config.tasks.push_back(readTask(list.Get(i)));
  return config;
}

// { inputIds?, lengths?, features?, targets?, targetLengths? } -> Batch
data::Batch readBatch(const Napi::Value& value, const std::string& what) {
  if (!value.IsObject()) throw ArgumentError(what + " must be an object of tensors");
  const auto fields = value.As<Napi::Object>();
  const auto field = [&](const char* name) {
    const Napi::Value v = fields.Get(name);
    if (v.IsUndefined() || v.IsNull()) return at::Tensor();
    return TensorHandle::TensorOf(v, (what + "." + name).c_str());
  };
  data::Batch batch;
  batch.inputIds = field("inputIds");
  batch.lengths = field("lengths");
  batch.features = field("features");
  batch.targets = field("targets");
  batch.targetLengths = field("targetLengths");
  batch.tokenTypeIds = field("tokenTypeIds");
  return batch;
}

}  // namespace

void NativeMultiTaskModel::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(
      env, "NativeMultiTaskModel",
      {InstanceMethod<&NativeMultiTaskModel::Forward>("forward"),
       InstanceMethod<&NativeMultiTaskModel::Predict>("predict"),
       InstanceMethod<&NativeMultiTaskModel::Generate>("generate"),
       InstanceMethod<&NativeMultiTaskModel::AddTask>("addTask"),
       InstanceMethod<&NativeMultiTaskModel::Summary>("summary"),
       InstanceMethod<&NativeMultiTaskModel::NamedParameters>("namedParameters"),
       InstanceMethod<&NativeMultiTaskModel::NamedBuffers>("namedBuffers"),
       InstanceMethod<&NativeMultiTaskModel::LoadStateDict>("loadStateDict"),
       InstanceMethod<&NativeMultiTaskModel::SetTrainable>("setTrainable"),
       InstanceMethod<&NativeMultiTaskModel::PartParameterNames>("partParameterNames"),
       InstanceMethod<&NativeMultiTaskModel::Train>("train"),
       InstanceMethod<&NativeMultiTaskModel::IsTraining>("isTraining"),
       InstanceMethod<&NativeMultiTaskModel::To>("to"),
       InstanceMethod<&NativeMultiTaskModel::SharedEncoderRuns>("sharedEncoderRuns"),
       InstanceMethod<&NativeMultiTaskModel::ParameterGroups>("parameterGroups")});
  addonData(env).modelConstructor = Napi::Persistent(ctor);
  registerTrainable<NativeMultiTaskModel>(env, ctor);
  exports.Set("NativeMultiTaskModel", ctor);
}

std::shared_ptr<model::MultiTaskModelImpl> NativeMultiTaskModel::ModelOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addonData(value.Env()).modelConstructor.Value())) {
    throw ArgumentError(std::string(what) + " must be a multi-task model");
  }
  return Napi::ObjectWrap<NativeMultiTaskModel>::Unwrap(value.As<Napi::Object>())->model_;
}

// new NativeMultiTaskModel(config, device?)
NativeMultiTaskModel::NativeMultiTaskModel(const Napi::CallbackInfo& info) : Napi::ObjectWrap<NativeMultiTaskModel>(info) {
  guard(info.Env(), [&] {
    Args args(info);
    model_ = std::make_shared<model::MultiTaskModelImpl>(readConfig(args.value(0)));
    if (args.present(1)) model_->moveTo(parseDevice(args.string(1)));
  });
}

// forward({ [task]: batch }, computeLoss) -> { [task]: { outputs, loss? } }. Tasks given the same
// input tensor share one encoder run.
Napi::Value NativeMultiTaskModel::Forward(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    if (!args.present(0) || !info[0].IsObject()) throw ArgumentError("argument 0 must be an object of batches by task");
    const auto byTask = info[0].As<Napi::Object>();
    std::map<std::string, data::Batch> batches;
    const auto names = byTask.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); ++i) {
      const std::string task = names.Get(i).As<Napi::String>().Utf8Value();
      batches[task] = readBatch(byTask.Get(task), "batches." + task);
    }
    const auto results = model_->forward(batches, args.boolean(1, true));
    auto out = Napi::Object::New(info.Env());
    for (const auto& [task, result] : results) {
      auto entry = Napi::Object::New(info.Env());
      entry.Set("outputs", TensorHandle::Wrap(info.Env(), result.outputs));
      if (result.loss.defined()) entry.Set("loss", TensorHandle::Wrap(info.Env(), result.loss));
      out.Set(task, entry);
    }
    return out;
  });
}

// predict(task, batch) -> tensor
Napi::Value NativeMultiTaskModel::Predict(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return TensorHandle::Wrap(info.Env(), model_->predict(args.string(0), readBatch(args.value(1), "batch")));
  });
}

// generate(task, batch, { beamSize, maxLength, lengthPenalty }) -> { sequences, scores }
Napi::Value NativeMultiTaskModel::Generate(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    model::GenerateOptions options;
    if (args.present(2)) {
      const OptionReader o(args.value(2), "generate options");
      options.beamSize = o.integerOr("beamSize", 1);
      options.maxLength = o.integerOr("maxLength", 0);
      options.lengthPenalty = o.numberOr("lengthPenalty", 0);
    }
    const model::Generated generated = model_->generate(args.string(0), readBatch(args.value(1), "batch"), options);
    auto out = Napi::Object::New(info.Env());
    out.Set("sequences", TensorHandle::Wrap(info.Env(), generated.sequences));
    out.Set("scores", TensorHandle::Wrap(info.Env(), generated.scores));
    return out;
  });
}

// addTask({ name, kind, ... })
Napi::Value NativeMultiTaskModel::AddTask(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    model_->addTask(readTask(Args(info).value(0)));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::Summary(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const model::ModelSummary s = model_->summary();
    const auto env = info.Env();
    auto out = Napi::Object::New(env);
    out.Set("total", Napi::Number::New(env, static_cast<double>(s.total)));
    out.Set("shared", Napi::Number::New(env, static_cast<double>(s.shared)));
    out.Set("trainable", Napi::Number::New(env, static_cast<double>(s.trainable)));
    out.Set("bytes", Napi::Number::New(env, static_cast<double>(s.bytes)));
    auto perTask = Napi::Object::New(env);
    for (const auto& [task, n] : s.perTask) perTask.Set(task, Napi::Number::New(env, static_cast<double>(n)));
    out.Set("perTask", perTask);
    return out;
  });
}

Napi::Value NativeMultiTaskModel::NamedParameters(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    nn::NamedTensors items;
    for (const auto& p : model_->named_parameters()) items.emplace_back(p.key(), p.value());
    return namedTensorsToJs(info.Env(), items);
  });
}

Napi::Value NativeMultiTaskModel::NamedBuffers(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    nn::NamedTensors items;
    for (const auto& b : model_->named_buffers()) items.emplace_back(b.key(), b.value());
    return namedTensorsToJs(info.Env(), items);
  });
}

// loadStateDict(names, tensors, strict) -> { missing, unexpected }
Napi::Value NativeMultiTaskModel::LoadStateDict(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] {
    Args args(info);
    return stateDictMismatchToJs(info.Env(), nn::loadStateDict(*model_, namedTensorsFromArgs(args, 0, 1), args.boolean(2, true)));
  });
}

// setTrainable(part, trainable)
Napi::Value NativeMultiTaskModel::SetTrainable(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    model_->setTrainable(args.string(0), args.boolean(1, true));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::PartParameterNames(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto parts = model_->partParameters(Args(info).string(0));
    auto names = Napi::Array::New(info.Env(), parts.size());
    for (uint32_t i = 0; i < parts.size(); ++i) names.Set(i, parts[i].first);
    return names;
  });
}

Napi::Value NativeMultiTaskModel::Train(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    model_->train(Args(info).boolean(0, true));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::IsTraining(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), model_->is_training());
}

Napi::Value NativeMultiTaskModel::To(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    model_->moveTo(parseDevice(Args(info).string(0)));
    return info.Env().Undefined();
  });
}

Napi::Value NativeMultiTaskModel::SharedEncoderRuns(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(model_->sharedEncoderRuns()));
}

// parameterGroups() -> [{ name, parameterNames, sharedWeighting }]: the trainer's view (TrainableModel),
// for tests and tools; sharedWeighting counts sharedParameters() and lastSharedParameters().
Napi::Value NativeMultiTaskModel::ParameterGroups(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto env = info.Env();
    const auto groups = model_->parameterGroups();
    auto list = Napi::Array::New(env, groups.size());
    for (uint32_t i = 0; i < groups.size(); ++i) {
      auto group = Napi::Object::New(env);
      group.Set("name", groups[i].name);
      auto names = Napi::Array::New(env, groups[i].parameterNames.size());
      for (uint32_t j = 0; j < groups[i].parameterNames.size(); ++j) names.Set(j, groups[i].parameterNames[j]);
      group.Set("parameterNames", names);
      list.Set(i, group);
    }
    auto out = Napi::Object::New(env);
    out.Set("groups", list);
    out.Set("sharedParameters", Napi::Number::New(env, static_cast<double>(model_->sharedParameters().size())));
    out.Set("lastSharedParameters", Napi::Number::New(env, static_cast<double>(model_->lastSharedParameters().size())));
    return out;
  });
}

}  // namespace mtl::napi
