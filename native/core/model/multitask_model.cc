#include "core/model/multitask_model.h"

#include <ATen/core/grad_mode.h>
#include <functional>

#include <algorithm>
#include <stdexcept>

#include "core/compat.h"
#include "core/host_memory.h"
#include "core/nn/eval_mode.h"

namespace mtl::model {

// predict's and generate's state: no autograd state at all (InferenceMode), and the model's
// precision: autocast to bf16 on its device, or its int8 packs (refreshed here when a weight
// changed since they were made). The previous autocast state comes back at the end.
class InferenceScope {
 public:
  explicit InferenceScope(MultiTaskModelImpl& model)
      : device_(model.device_.type()),
        wasAutocast_(compat::autocastEnabled(device_)),
        previousDtype_(compat::autocastDtype(device_)),
        int8_(model.precision_ == nn::Precision::kInt8 ? (model.int8_.refresh(model), &model.int8_) : nullptr) {
    if (model.precision_ == nn::Precision::kBf16) {
      compat::setAutocast(device_, true, at::kBFloat16);
    } else if (wasAutocast_) {
      compat::setAutocast(device_, false, previousDtype_);
    }
  }
  ~InferenceScope() {
    if (compat::autocastEnabled(device_) != wasAutocast_ || compat::autocastDtype(device_) != previousDtype_) {
      compat::setAutocast(device_, wasAutocast_, previousDtype_);
    }
  }
  InferenceScope(const InferenceScope&) = delete;
  InferenceScope& operator=(const InferenceScope&) = delete;

  // Outputs as the fp32 path gives them: floating outputs in float32, and ordinary tensors (an
  // inference tensor cannot be changed in place or saved for backward outside InferenceMode).
  static at::Tensor release(const at::Tensor& t) {
    if (!t.defined()) return t;
    c10::InferenceMode off(false);
    return at::isFloatingType(t.scalar_type()) && t.scalar_type() != at::kFloat ? t.to(at::kFloat) : t.clone();
  }

 private:
  c10::DeviceType device_;
  bool wasAutocast_;
  at::ScalarType previousDtype_;
  c10::InferenceMode inference_;
  nn::Int8Scope int8_;
};

InputEmbeddingImpl::InputEmbeddingImpl(const ModelConfig& config) : input_(config.input), encoder_(config.encoder) {
  const EncoderConfig& e = encoder_;
  const int64_t width = e.embeddingSize > 0 ? e.embeddingSize : e.dModel;
  if (input_.features > 0) {
    features_ = register_module("features", torch::nn::Linear(input_.features, width));
  } else {
    token_ = register_module("token", torch::nn::Embedding(torch::nn::EmbeddingOptions(input_.vocabSize, width).padding_idx(input_.padId)));
  }
  // Dropout follows the whole embedding: inside the sinusoidal module when it is the last step (the
  // package's own layout, unchanged), else after the LayerNorm (BERT).
  const bool bertStyle = e.positions == "learned" || e.typeVocabSize > 0 || e.embeddingNorm;
  if (e.positions == "learned") {
    auto options = torch::nn::EmbeddingOptions(input_.maxLength, width);
    if (e.positionOffset > 0) options.padding_idx(input_.padId);
    learnedPosition_ = register_module("position", torch::nn::Embedding(options));
    at::NoGradGuard noGrad;
    learnedPosition_->weight.normal_(0.0, 0.02);
    if (e.positionOffset > 0) learnedPosition_->weight[input_.padId].zero_();
  } else {
    position_ = register_module(
        "position",
        nn::SinusoidalPositionalEncoding(nn::PositionalEncodingOptions(width, input_.maxLength).dropout(bertStyle ? 0.0 : e.dropout)));
  }
  if (e.typeVocabSize > 0) {
    tokenType_ = register_module("token_type", torch::nn::Embedding(e.typeVocabSize, width));
    at::NoGradGuard noGrad;
    tokenType_->weight.normal_(0.0, 0.02);
  }
  if (e.embeddingNorm) norm_ = register_module("norm", nn::makeLayerNorm(width, e.layerNormEps));
  if (bertStyle) dropout_ = register_module("dropout", nn::makeDropout(e.dropout));
  if (width != e.dModel) projection_ = register_module("projection", nn::makeLinear(width, e.dModel));
}

at::Tensor InputEmbeddingImpl::positionIds(const data::Batch& batch) const {
  const at::Tensor& reference = features_ ? batch.features : batch.inputIds;
  const int64_t length = reference.size(1);
  const int64_t offset = encoder_.positionOffset;
  TORCH_CHECK_VALUE(length + offset <= input_.maxLength, "inputs of ", length, " positions exceed the encoder's ",
                    input_.maxLength - offset, " positions");
  const at::Tensor positions = at::arange(length, reference.options().dtype(at::kLong));
  if (offset == 0) return positions;
  // fairseq / RoBERTa: real tokens count from offset, padding positions take padId.
  const at::Tensor real = paddingMask(batch).logical_not().to(at::kLong);
  return (at::cumsum(real, 1) + (offset - 1)) * real + (1 - real) * input_.padId;
}

at::Tensor InputEmbeddingImpl::forward(const data::Batch& batch) {
  at::Tensor x;
  if (features_) {
    TORCH_CHECK(batch.features.defined() && batch.features.dim() == 3 && batch.features.size(2) == input_.features,
                "this model reads features (B, L, ", input_.features, ")");
    x = features_(batch.features.to(at::kFloat));
  } else {
    TORCH_CHECK(batch.inputIds.defined() && batch.inputIds.dim() == 2, "inputIds must be (B, L) token ids");
    x = token_(batch.inputIds.to(at::kLong));
  }
  if (position_) {
    const at::Tensor positioned = position_(x);
    if (!tokenType_ && !norm_ && !dropout_) return projection_ ? projection_(positioned) : positioned;
    x = positioned;
  }
  if (tokenType_) {
    const bool given = batch.tokenTypeIds.defined() && encoder_.typeVocabSize > 1;
    at::Tensor types;
    if (given) {
      types = batch.tokenTypeIds.to(at::kLong);
      TORCH_CHECK_VALUE(types.sizes() == x.sizes().slice(0, 2), "tokenTypeIds must have the shape of the inputs (B, L)");
      if (!types.is_cuda()) {
        TORCH_CHECK_VALUE(types.numel() == 0 || (types.min().item<int64_t>() >= 0 && types.max().item<int64_t>() < encoder_.typeVocabSize),
                          "tokenTypeIds must lie in [0, ", encoder_.typeVocabSize, ") (the encoder's token types)");
      }
      x = x + tokenType_(types);
    } else {
      // Type 0 everywhere (also RoBERTa's single type): the row broadcast over every position.
      x = x + tokenType_->weight.select(0, 0);
    }
  }
  if (learnedPosition_) x = x + learnedPosition_(positionIds(batch));
  if (norm_) x = norm_(x);
  if (dropout_) x = dropout_(x);
  return projection_ ? projection_(x) : x;
}

at::Tensor InputEmbeddingImpl::paddingMask(const data::Batch& batch) const {
  const at::Tensor& reference = features_ ? batch.features : batch.inputIds;
  if (batch.lengths.defined()) {
    const at::Tensor positions = at::arange(reference.size(1), batch.lengths.options().dtype(at::kLong));
    return positions.unsqueeze(0).ge(batch.lengths.to(at::kLong).unsqueeze(1));
  }
  TORCH_CHECK(!features_, "a features batch needs lengths");
  at::Tensor mask = batch.inputIds.eq(input_.padId);
  // A row of padding only has no position to attend to (its outputs would be NaN).
  TORCH_CHECK_VALUE(mask.size(1) == 0 || !mask.all(1).any().item<bool>(), "a row of inputIds holds padding (padId ", input_.padId,
                    ") only: give it at least one token, or lengths");
  return mask;
}

MultiTaskModelImpl::MultiTaskModelImpl(const ModelConfig& config) : config_(config) {
  embedding_ = register_module("embedding", InputEmbedding(config_));
  sharing_ = makeSharingScheme(config_);
  if (config_.encoder.pooler) pooler_ = register_module("pooler", nn::makeLinear(config_.encoder.dModel, config_.encoder.dModel));
  encoder_ = register_module(
      "encoder", nn::TransformerEncoder(nn::TransformerStackOptions(layerOptions(config_.encoder), sharing_->sharedEncoderLayers())));
  register_module(sharing_->name(), sharing_);
  if (sharing_->sharesDecoder()) {
    int64_t layers = 0;
    for (const auto& task : config_.tasks) layers = std::max(layers, decoderLayersOf(task));
    if (layers > 0) {
      sharedDecoder_ = register_module("decoder", nn::TransformerDecoder(decoderOptions(config_.encoder, layers)));
    }
  }
  tasks_ = register_module("tasks", std::make_shared<torch::nn::Module>());
  const std::vector<TaskConfig> tasks = config_.tasks;
  config_.tasks.clear();
  for (const auto& task : tasks) addTask(task);
  if (sharing_->freezesBackbone()) setTrainable("backbone", false);
}

void MultiTaskModelImpl::addTask(const TaskConfig& task) {
  sharing_->addTask(task.name);
  auto head = makeHead(task, HeadContext{config_, sharedDecoder_, pooler_ ? pooler_.ptr() : nullptr});
  tasks_->register_module(task.name, head);
  heads_[task.name] = head;
  config_.tasks.push_back(task);
  // New parameters follow the model's device (a no-op on CPU).
  if (device_ != c10::Device(c10::kCPU)) moveTo(device_);
}

void MultiTaskModelImpl::removeLastTask() {
  if (config_.tasks.empty()) throw std::invalid_argument("removeLastTask: the model has no task");
  const std::string name = config_.tasks.back().name;
  sharing_->removeTask(name);
  tasks_->unregister_module(name);
  heads_.erase(name);
  config_.tasks.pop_back();
}

void MultiTaskModelImpl::moveTo(const c10::Device& device) {
  TORCH_CHECK_VALUE(device.is_cpu() || precision_ != nn::Precision::kInt8,
                    "a model at precision 'int8' stays on the CPU: set precision 'fp32' or 'bf16' before moving it to ", device.str());
  to(device);
  device_ = device;
}

std::vector<std::string> MultiTaskModelImpl::taskNames() const {
  std::vector<std::string> names;
  for (const auto& task : config_.tasks) names.push_back(task.name);
  return names;
}

HeadImpl& MultiTaskModelImpl::head(const std::string& task) {
  auto found = heads_.find(task);
  if (found == heads_.end()) throw std::invalid_argument("unknown task '" + task + "'");
  return *found->second;
}

data::Batch MultiTaskModelImpl::onDevice(const data::Batch& batch) const {
  // Without a host sync (hostToDevice): a plain copy from pageable memory would wait for every
  // kernel queued so far, the previous task's forward or the previous step's optimizer.
  data::Batch moved = batch;
  for (at::Tensor* t : {&moved.inputIds, &moved.lengths, &moved.tokenTypeIds, &moved.targets, &moved.targetLengths, &moved.features}) {
    if (t->defined()) *t = hostToDevice(*t, device_);
  }
  return moved;
}

std::map<std::string, Encoded> MultiTaskModelImpl::encode(const data::Batch& batch, const std::vector<std::string>& tasks) {
  const at::Tensor x = embedding_->forward(batch);
  const at::Tensor mask = embedding_->paddingMask(batch);
  SharedEncoder shared{*encoder_, sharedEncoderRuns_};
  std::map<std::string, Encoded> encoded;
  for (auto& [task, memory] : sharing_->encode(shared, x, mask, tasks)) encoded[task] = Encoded{memory, mask};
  return encoded;
}

std::map<std::string, TaskResult> MultiTaskModelImpl::forward(const std::map<std::string, data::Batch>& batches, bool computeLoss) {
  // Group the tasks by the inputs they read, in order of first appearance.
  std::vector<std::pair<const c10::TensorImpl*, std::vector<std::string>>> groups;
  for (const auto& [task, batch] : batches) {
    head(task);  // refuses unknown tasks before any work
    const at::Tensor& inputs = batch.features.defined() ? batch.features : batch.inputIds;
    TORCH_CHECK(inputs.defined(), "the batch of task '", task, "' has no inputIds");
    const c10::TensorImpl* key = inputs.unsafeGetTensorImpl();
    auto group = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == key; });
    if (group == groups.end()) {
      groups.push_back({key, {task}});
    } else {
      group->second.push_back(task);
    }
  }
  std::map<std::string, TaskResult> results;
  for (const auto& [key, tasks] : groups) {
    const data::Batch inputs = onDevice(batches.at(tasks.front()));
    auto encoded = encode(inputs, tasks);
    for (const auto& task : tasks) {
      const data::Batch batch = task == tasks.front() ? inputs : onDevice(batches.at(task));
      TaskResult result;
      result.outputs = head(task).forward(encoded.at(task), batch);
      if (computeLoss) {
        TORCH_CHECK(batch.targets.defined(), "task '", task, "' has no targets to compute a loss");
        result.loss = head(task).loss(result.outputs, batch);
      }
      results[task] = result;
    }
  }
  return results;
}

std::map<std::string, at::Tensor> MultiTaskModelImpl::taskLosses(const std::map<std::string, data::Batch>& batches) {
  std::map<std::string, at::Tensor> losses;
  for (auto& [task, result] : forward(batches, true)) losses[task] = result.loss;
  return losses;
}

at::Tensor MultiTaskModelImpl::predict(const std::string& task, const data::Batch& batch) {
  nn::EvalMode eval(*this);  // inference: no dropout, whatever mode the caller left
  HeadImpl& taskHead = head(task);
  InferenceScope scope(*this);
  const data::Batch inputs = onDevice(batch);
  return InferenceScope::release(taskHead.predict(encode(inputs, {task}).at(task), inputs));
}

void MultiTaskModelImpl::setPrecision(nn::Precision precision) {
  if (precision == nn::Precision::kInt8) {
    TORCH_CHECK_VALUE(device_.is_cpu(), "precision 'int8' runs on the CPU only; this model is on ", device_.str());
    TORCH_CHECK_NOT_IMPLEMENTED(!nn::int8Engine().empty(), "precision 'int8' needs a quantized engine, and this libtorch has none");
    int8_.refresh(*this);
  } else {
    int8_ = nn::Int8Linears();
  }
  precision_ = precision;
}

BackboneOutput MultiTaskModelImpl::encodeBackbone(const data::Batch& batch) {
  const data::Batch inputs = onDevice(batch);
  BackboneOutput out;
  out.hidden = encoder_->forward(embedding_->forward(inputs), {}, embedding_->paddingMask(inputs));
  if (pooler_) out.pooled = at::tanh(pooler_(out.hidden.select(1, 0)));
  return out;
}

Generated MultiTaskModelImpl::generate(const std::string& task, const data::Batch& batch, const GenerateOptions& options) {
  nn::EvalMode eval(*this);
  HeadImpl& taskHead = head(task);
  Generated generated;
  {
    InferenceScope scope(*this);
    const data::Batch inputs = onDevice(batch);
    generated = taskHead.generate(encode(inputs, {task}).at(task), options);
  }
  generated.sequences = InferenceScope::release(generated.sequences);
  generated.scores = InferenceScope::release(generated.scores);
  return generated;
}

std::map<std::string, TaskPrediction> MultiTaskModelImpl::predictTasks(const std::vector<std::string>& tasks, const data::Batch& batch,
                                                                       const GenerateOptions& options) {
  TORCH_CHECK_VALUE(!tasks.empty(), "predictTasks needs at least one task");
  for (const auto& task : tasks) head(task);  // refuses unknown tasks before any work
  nn::EvalMode eval(*this);
  std::map<std::string, TaskPrediction> results;
  {
    InferenceScope scope(*this);
    const data::Batch inputs = onDevice(batch);
    auto encoded = encode(inputs, tasks);
    for (const auto& task : tasks) {
      HeadImpl& taskHead = head(task);
      TaskPrediction result;
      if (generatesOf(taskKind(task))) {
        Generated generated = taskHead.generate(encoded.at(task), options);
        result.predictions = generated.sequences;
        result.scores = generated.scores;
      } else {
        result.outputs = taskHead.forward(encoded.at(task), inputs);
        result.predictions = taskHead.predict(encoded.at(task), inputs);
      }
      results[task] = result;
    }
  }
  for (auto& [task, result] : results) {
    for (at::Tensor* t : {&result.outputs, &result.predictions, &result.scores}) *t = InferenceScope::release(*t);
  }
  return results;
}

std::string MultiTaskModelImpl::ownerOf(const std::string& name) const {
  const auto underTask = [&](const std::string& prefix) -> std::string {
    if (name.rfind(prefix, 0) != 0) return "";
    const size_t end = name.find('.', prefix.size());
    const std::string task = name.substr(prefix.size(), end == std::string::npos ? std::string::npos : end - prefix.size());
    return heads_.count(task) ? task : "";
  };
  std::string owner = underTask("tasks.");
  if (owner.empty()) owner = underTask(std::string(sharing_->name()) + ".");
  return owner;
}

std::vector<std::pair<std::string, at::Tensor>> MultiTaskModelImpl::partParameters(const std::string& part) {
  const std::string scheme = std::string(sharing_->name()) + ".";
  const auto startsWith = [](const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; };
  std::function<bool(const std::string&)> inPart;
  if (part == "embedding" || part == "encoder" || part == "decoder") {
    inPart = [&, prefix = part + "."](const std::string& n) { return startsWith(n, prefix); };
  } else if (part == "backbone") {
    inPart = [&](const std::string& n) { return ownerOf(n).empty(); };
  } else if (part == "sharing") {
    inPart = [&](const std::string& n) { return startsWith(n, scheme); };
  } else if (part == "heads") {
    inPart = [&](const std::string& n) { return startsWith(n, "tasks."); };
  } else if (heads_.count(part)) {
    inPart = [&](const std::string& n) { return ownerOf(n) == part; };
  } else {
    throw std::invalid_argument("unknown part '" + part +
                                "': expected embedding, encoder, decoder, backbone, sharing, heads or a task name");
  }
  std::vector<std::pair<std::string, at::Tensor>> selected;
  for (const auto& p : named_parameters()) {
    if (inPart(p.key())) selected.emplace_back(p.key(), p.value());
  }
  return selected;
}

void MultiTaskModelImpl::setTrainable(const std::string& part, bool trainable) {
  for (auto& [name, parameter] : partParameters(part)) parameter.set_requires_grad(trainable);
}

ModelSummary MultiTaskModelImpl::summary() const {
  ModelSummary s;
  for (const auto& task : config_.tasks) s.perTask[task.name] = 0;
  for (const auto& p : named_parameters()) {
    const int64_t n = p.value().numel();
    s.total += n;
    s.bytes += n * static_cast<int64_t>(p.value().element_size());
    if (p.value().requires_grad()) s.trainable += n;
    const std::string owner = ownerOf(p.key());
    if (owner.empty()) {
      s.shared += n;
    } else {
      s.perTask[owner] += n;
    }
  }
  for (const auto& b : named_buffers()) s.bytes += b.value().numel() * static_cast<int64_t>(b.value().element_size());
  return s;
}

std::vector<at::Tensor> MultiTaskModelImpl::sharedParameters() {
  std::vector<at::Tensor> shared;
  for (const auto& p : named_parameters()) {
    if (p.value().requires_grad() && ownerOf(p.key()).empty()) shared.push_back(p.value());
  }
  return shared;
}

std::vector<at::Tensor> MultiTaskModelImpl::lastSharedParameters() {
  // The scheme's shared block comes after the encoder when it has one (mmoe's experts);
  // otherwise the last shared encoder layer.
  std::vector<at::Tensor> last;
  for (const auto& p : sharing_->sharedParameters(taskNames())) {
    if (p.requires_grad()) last.push_back(p);
  }
  if (!last.empty()) return last;
  for (const auto& p : encoder_->layers->ptr(encoder_->layers->size() - 1)->parameters()) {
    if (p.requires_grad()) last.push_back(p);
  }
  return last;
}

std::string MultiTaskModelImpl::taskKind(const std::string& task) const {
  for (const auto& t : config_.tasks) {
    if (t.name == task) return t.kind;
  }
  throw std::invalid_argument("unknown task '" + task + "'");
}

std::unique_ptr<HeadEvaluator> MultiTaskModelImpl::evaluator(const std::string& task) { return head(task).makeEvaluator(); }

std::vector<train::ParameterGroup> MultiTaskModelImpl::parameterGroups() {
  std::vector<train::ParameterGroup> groups;
  groups.push_back({"shared", {}, {}});
  std::map<std::string, size_t> index;
  for (const auto& task : config_.tasks) {
    index[task.name] = groups.size();
    groups.push_back({"task:" + task.name, {}, {}});
  }
  for (const auto& p : named_parameters()) {
    if (!p.value().requires_grad()) continue;
    const std::string owner = ownerOf(p.key());
    auto& group = groups[owner.empty() ? 0 : index.at(owner)];
    group.parameters.push_back(p.value());
    group.parameterNames.push_back(p.key());
  }
  return groups;
}

}  // namespace mtl::model
