#include "napi/dataset.h"

#include "core/model/head.h"
#include "napi/addon_data.h"
#include "napi/convert.h"
#include "napi/errors.h"
#include "napi/tensor.h"

namespace mtl::napi {

namespace {

int64_t bytesOf(const at::Tensor& t) { return t.defined() ? static_cast<int64_t>(t.numel() * t.element_size()) : 0; }

at::Tensor fieldTensor(const Napi::Object& fields, const char* name, bool required) {
  const Napi::Value value = fields.Get(name);
  if (value.IsUndefined() || value.IsNull()) {
    if (required) throw ArgumentError(std::string("dataset: '") + name + "' is required");
    return at::Tensor();
  }
  return TensorHandle::TensorOf(value, (std::string("dataset: '") + name + "'").c_str());
}

void setIfDefined(Napi::Object& object, const char* name, const at::Tensor& t) {
  if (t.defined()) object.Set(name, TensorHandle::Wrap(object.Env(), t));
}

}  // namespace

void DatasetHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = DefineClass(env, "NativeDataset",
                                    {
                                        InstanceMethod<&DatasetHandle::Size>("size"),
                                        InstanceMethod<&DatasetHandle::MaxLength>("maxLength"),
                                        InstanceMethod<&DatasetHandle::PadId>("padId"),
                                        InstanceMethod<&DatasetHandle::TargetKind>("targetKind"),
                                        InstanceMethod<&DatasetHandle::Batch>("batch"),
                                        InstanceMethod<&DatasetHandle::BatchIndices>("batchIndices"),
                                        InstanceMethod<&DatasetHandle::ShuffledOrder>("shuffledOrder"),
                                        InstanceMethod<&DatasetHandle::Tensors>("tensors"),
                                        InstanceMethod<&DatasetHandle::Dispose>("dispose"),
                                        InstanceMethod<&DatasetHandle::IsDisposed>("isDisposed"),
                                    });
  addonData(env).datasetConstructor = Napi::Persistent(ctor);
  exports.Set("NativeDataset", ctor);
}

std::shared_ptr<const data::Dataset> DatasetHandle::DatasetOf(const Napi::Value& value, const char* what) {
  if (!value.IsObject() || !value.As<Napi::Object>().InstanceOf(addonData(value.Env()).datasetConstructor.Value())) {
    throw ArgumentError(std::string(what) + " must be a dataset");
  }
  auto* handle = Napi::ObjectWrap<DatasetHandle>::Unwrap(value.As<Napi::Object>());
  handle->dataset();  // throws if disposed
  return handle->dataset_;
}

// new NativeDataset({ inputIds, lengths, tokenTypeIds?, targets?, targetLengths?, features? },
//                   targetKind, padId, targetPadId): no targets make an unlabeled data set
// new NativeDataset(base: NativeDataset, { targets, targetLengths? }, targetKind, targetPadId):
//   base's examples with other targets, sharing its input tensors (Dataset::withTargets).
DatasetHandle::DatasetHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DatasetHandle>(info) {
  guard(info.Env(), [&] {
    Args args(info);
    const bool derived =
        args.present(0) && info[0].IsObject() && info[0].As<Napi::Object>().InstanceOf(addonData(info.Env()).datasetConstructor.Value());
    const int fieldsAt = derived ? 1 : 0;
    if (!args.present(fieldsAt) || !info[fieldsAt].IsObject()) {
      throw ArgumentError("dataset: argument " + std::to_string(fieldsAt) + " must be an object of tensors");
    }
    const Napi::Object fields = info[fieldsAt].As<Napi::Object>();
    std::shared_ptr<const data::Dataset> dataset;
    if (derived) {
      const auto base = DatasetOf(info[0], "dataset: argument 0");
      const std::string kind = args.string(2);
      dataset = base->withTargets(fieldTensor(fields, "targets", true), fieldTensor(fields, "targetLengths", false), kind,
                                  model::targetLayoutOf(kind), args.integer(3));
    } else {
      data::DatasetTensors tensors;
      tensors.inputIds = fieldTensor(fields, "inputIds", true);
      tensors.lengths = fieldTensor(fields, "lengths", true);
      tensors.tokenTypeIds = fieldTensor(fields, "tokenTypeIds", false);
      tensors.targets = fieldTensor(fields, "targets", false);
      tensors.targetLengths = fieldTensor(fields, "targetLengths", false);
      tensors.features = fieldTensor(fields, "features", false);
      const std::string kind = args.string(1);
      dataset = std::make_shared<data::Dataset>(std::move(tensors), kind, model::targetLayoutOf(kind), args.integer(2), args.integer(3));
    }
    // A derived data set accounts for its own targets only: the inputs are the base's.
    const auto& held = dataset->tensors();
    std::vector<const at::Tensor*> owned{&held.targets, &held.targetLengths};
    if (!derived) owned.insert(owned.end(), {&held.inputIds, &held.lengths, &held.tokenTypeIds, &held.features});
    for (const at::Tensor* t : owned) accountedBytes_ += bytesOf(*t);
    dataset_ = std::move(dataset);
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), accountedBytes_);
  });
}

const data::Dataset& DatasetHandle::dataset() const {
  if (!dataset_) throw DisposedError("dataset was disposed");
  return *dataset_;
}

Napi::Value DatasetHandle::Size(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::Number::New(info.Env(), static_cast<double>(dataset().size())); });
}

Napi::Value DatasetHandle::MaxLength(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::Number::New(info.Env(), static_cast<double>(dataset().maxLength())); });
}

Napi::Value DatasetHandle::PadId(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::Number::New(info.Env(), static_cast<double>(dataset().padId())); });
}

Napi::Value DatasetHandle::TargetKind(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&] { return Napi::String::New(info.Env(), dataset().kind()); });
}

// batch(indices: tensor) -> { indices, inputIds, lengths, tokenTypeIds?, targets, targetLengths?, features? }
Napi::Value DatasetHandle::Batch(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    const data::Batch b = dataset().batch(args.tensor(0));
    Napi::Object out = Napi::Object::New(info.Env());
    setIfDefined(out, "indices", b.indices);
    setIfDefined(out, "inputIds", b.inputIds);
    setIfDefined(out, "lengths", b.lengths);
    setIfDefined(out, "tokenTypeIds", b.tokenTypeIds);
    setIfDefined(out, "targets", b.targets);
    setIfDefined(out, "targetLengths", b.targetLengths);
    setIfDefined(out, "features", b.features);
    return out;
  });
}

// batchIndices(batchSize, seed?, dropLast?) -> tensor[]
Napi::Value DatasetHandle::BatchIndices(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    c10::optional<uint64_t> seed;
    if (args.present(1)) seed = static_cast<uint64_t>(args.integer(1));
    const auto batches = dataset().batchIndices(args.integer(0), seed, args.boolean(2, false));
    Napi::Array out = Napi::Array::New(info.Env(), batches.size());
    for (size_t i = 0; i < batches.size(); ++i) out.Set(static_cast<uint32_t>(i), TensorHandle::Wrap(info.Env(), batches[i]));
    return out;
  });
}

Napi::Value DatasetHandle::ShuffledOrder(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    Args args(info);
    return TensorHandle::Wrap(info.Env(), dataset().shuffledOrder(static_cast<uint64_t>(args.integer(0))));
  });
}

// The whole data set's tensors, for inspection; they share storage with the data set.
Napi::Value DatasetHandle::Tensors(const Napi::CallbackInfo& info) {
  return guard(info.Env(), [&]() -> Napi::Value {
    const auto& t = dataset().tensors();
    Napi::Object out = Napi::Object::New(info.Env());
    setIfDefined(out, "inputIds", t.inputIds);
    setIfDefined(out, "lengths", t.lengths);
    setIfDefined(out, "tokenTypeIds", t.tokenTypeIds);
    setIfDefined(out, "targets", t.targets);
    setIfDefined(out, "targetLengths", t.targetLengths);
    setIfDefined(out, "features", t.features);
    return out;
  });
}

Napi::Value DatasetHandle::Dispose(const Napi::CallbackInfo& info) {
  if (dataset_) {
    dataset_.reset();
    Napi::MemoryManagement::AdjustExternalMemory(info.Env(), -accountedBytes_);
    accountedBytes_ = 0;
  }
  return info.Env().Undefined();
}

Napi::Value DatasetHandle::IsDisposed(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), !dataset_); }

}  // namespace mtl::napi
