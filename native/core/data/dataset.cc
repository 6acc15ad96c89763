#include "core/data/dataset.h"

#include <ATen/CPUGeneratorImpl.h>
#include <c10/util/Exception.h>

namespace mtl::data {

namespace {

void checkRows(const at::Tensor& t, const char* field, int64_t rows, int64_t dims) {
  TORCH_CHECK_VALUE(t.dim() == dims, "dataset: '", field, "' must have ", dims, " dimensions, got shape ", t.sizes());
  TORCH_CHECK_VALUE(t.size(0) == rows, "dataset: '", field, "' must have ", rows, " rows (one per example), got ", t.size(0));
}

at::Tensor asCpu(const at::Tensor& t, at::ScalarType dtype, const char* field) {
  TORCH_CHECK_VALUE(t.defined(), "dataset: '", field, "' is required");
  TORCH_CHECK_VALUE(!t.is_floating_point() || at::isFloatingType(dtype), "dataset: '", field, "' must hold integers, got ",
                    t.scalar_type());
  // copy=true: the data set owns its storage, so later in-place changes to the caller's tensor
  // cannot alter it (and a CUDA tensor comes back to the host, where batches are gathered).
  return t.detach().to(at::kCPU, dtype, /*non_blocking=*/false, /*copy=*/true).contiguous();
}

}  // namespace

Dataset::Dataset(DatasetTensors t, std::string kind, TargetLayout layout, int64_t padId, int64_t targetPadId)
    : kind_(std::move(kind)), layout_(layout), padId_(padId), targetPadId_(targetPadId) {
  tensors_.inputIds = asCpu(t.inputIds, at::kLong, "inputIds");
  TORCH_CHECK_VALUE(tensors_.inputIds.dim() == 2, "dataset: 'inputIds' must be [examples, length], got shape ", tensors_.inputIds.sizes());
  const int64_t n = tensors_.inputIds.size(0);
  const int64_t width = tensors_.inputIds.size(1);
  TORCH_CHECK_VALUE(n > 0, "dataset: the data set is empty ('inputIds' has no rows)");
  TORCH_CHECK_VALUE(width > 0, "dataset: 'inputIds' rows have length 0");

  tensors_.lengths = asCpu(t.lengths, at::kLong, "lengths");
  checkRows(tensors_.lengths, "lengths", n, 1);
  TORCH_CHECK_VALUE(tensors_.lengths.min().item<int64_t>() >= 1 && tensors_.lengths.max().item<int64_t>() <= width,
                    "dataset: 'lengths' must lie in [1, ", width, "]");

  if (t.tokenTypeIds.defined()) {
    tensors_.tokenTypeIds = asCpu(t.tokenTypeIds, at::kLong, "tokenTypeIds");
    checkRows(tensors_.tokenTypeIds, "tokenTypeIds", n, 2);
    TORCH_CHECK_VALUE(tensors_.tokenTypeIds.size(1) == width, "dataset: 'tokenTypeIds' must have the shape of 'inputIds'");
  }
  if (t.features.defined()) {
    tensors_.features = asCpu(t.features, at::kFloat, "features");
    // One vector per input position, what a features model embeds, padded like inputIds.
    checkRows(tensors_.features, "features", n, 3);
    TORCH_CHECK_VALUE(tensors_.features.size(1) == width, "dataset: per-position 'features' must have the length of 'inputIds' (", width,
                      "), got ", tensors_.features.size(1));
  }

  setTargets(t.targets, t.targetLengths);
}

Dataset::Dataset(const Dataset& inputsOf, const at::Tensor& targets, const at::Tensor& targetLengths, std::string kind, TargetLayout layout,
                 int64_t targetPadId)
    : kind_(std::move(kind)), layout_(layout), padId_(inputsOf.padId_), targetPadId_(targetPadId) {
  tensors_.inputIds = inputsOf.tensors_.inputIds;
  tensors_.lengths = inputsOf.tensors_.lengths;
  tensors_.tokenTypeIds = inputsOf.tensors_.tokenTypeIds;
  tensors_.features = inputsOf.tensors_.features;
  setTargets(targets, targetLengths);
}

std::shared_ptr<Dataset> Dataset::withTargets(const at::Tensor& targets, const at::Tensor& targetLengths, std::string kind,
                                              TargetLayout layout, int64_t targetPadId) const {
  return std::shared_ptr<Dataset>(new Dataset(*this, targets, targetLengths, std::move(kind), layout, targetPadId));
}

bool Dataset::sharesInputsWith(const Dataset& other) const { return tensors_.inputIds.is_same(other.tensors_.inputIds); }

void Dataset::setTargets(const at::Tensor& targets, const at::Tensor& targetLengths) {
  if (!targets.defined()) return;  // unlabeled
  const int64_t n = size();
  tensors_.targets = asCpu(targets, layout_.dtype, "targets");
  checkRows(tensors_.targets, "targets", n, layout_.dims);
  if (layout_.trim == TargetLayout::Trim::ToInputs) {
    TORCH_CHECK_VALUE(tensors_.targets.size(1) == maxLength(), "dataset: ", kind_,
                      " 'targets' must have the shape of 'inputIds' (one target per token)");
  }
  if (layout_.trim == TargetLayout::Trim::ToTargetLengths) {
    tensors_.targetLengths = asCpu(targetLengths, at::kLong, "targetLengths");
    checkRows(tensors_.targetLengths, "targetLengths", n, 1);
    TORCH_CHECK_VALUE(
        tensors_.targetLengths.min().item<int64_t>() >= 0 && tensors_.targetLengths.max().item<int64_t>() <= tensors_.targets.size(1),
        "dataset: 'targetLengths' must lie in [0, ", tensors_.targets.size(1), "]");
  }
}

namespace {
// The rows `indices` of `t`, cut to `columns`: narrow() is a view, contiguous() gives the batch its
// own compact storage.
at::Tensor trimmedRows(const at::Tensor& t, const at::Tensor& indices, int64_t columns) {
  return t.index_select(0, indices).narrow(1, 0, columns).contiguous();
}
}  // namespace

Batch Dataset::batch(const at::Tensor& indicesIn) const {
  TORCH_CHECK_VALUE(indicesIn.dim() == 1, "dataset batch: 'indices' must be one-dimensional");
  const at::Tensor indices = indicesIn.detach().to(at::kCPU, at::kLong).contiguous();
  TORCH_CHECK_VALUE(indices.numel() > 0, "dataset batch: 'indices' is empty");
  TORCH_CHECK_INDEX(indices.min().item<int64_t>() >= 0 && indices.max().item<int64_t>() < size(),
                    "dataset batch: 'indices' must lie in [0, ", size(), ")");

  Batch b;
  b.indices = indices;
  b.lengths = tensors_.lengths.index_select(0, indices);
  const int64_t width = b.lengths.max().item<int64_t>();
  b.inputIds = trimmedRows(tensors_.inputIds, indices, width);
  if (hasTokenTypes()) b.tokenTypeIds = trimmedRows(tensors_.tokenTypeIds, indices, width);
  if (hasFeatures()) b.features = trimmedRows(tensors_.features, indices, width);
  addTargets(b);
  return b;
}

Batch Dataset::batchWithInputsOf(const Batch& inputs) const {
  Batch b;
  b.indices = inputs.indices;
  b.lengths = inputs.lengths;
  b.inputIds = inputs.inputIds;
  b.tokenTypeIds = inputs.tokenTypeIds;
  b.features = inputs.features;
  addTargets(b);
  return b;
}

void Dataset::addTargets(Batch& b) const {
  if (!labeled()) return;
  switch (layout_.trim) {
    case TargetLayout::Trim::ToInputs:
      b.targets = trimmedRows(tensors_.targets, b.indices, b.inputIds.size(1));
      break;
    case TargetLayout::Trim::ToTargetLengths: {
      b.targetLengths = tensors_.targetLengths.index_select(0, b.indices);
      const int64_t targetWidth = std::max<int64_t>(b.targetLengths.max().item<int64_t>(), 1);
      b.targets = trimmedRows(tensors_.targets, b.indices, targetWidth);
      break;
    }
    case TargetLayout::Trim::None:
      b.targets = tensors_.targets.index_select(0, b.indices);
  }
}

at::Tensor Dataset::shuffledOrder(uint64_t seed) const {
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  return at::randperm(size(), generator, at::TensorOptions().dtype(at::kLong));
}

std::vector<at::Tensor> Dataset::batchIndices(int64_t batchSize, c10::optional<uint64_t> seed, bool dropLast) const {
  TORCH_CHECK_VALUE(batchSize > 0, "dataset batches: 'batchSize' must be positive, got ", batchSize);
  const at::Tensor order = seed.has_value() ? shuffledOrder(*seed) : at::arange(size(), at::kLong);
  std::vector<at::Tensor> batches;
  for (int64_t start = 0; start < size(); start += batchSize) {
    const int64_t count = std::min(batchSize, size() - start);
    if (dropLast && count < batchSize) break;
    batches.push_back(order.narrow(0, start, count).clone());
  }
  return batches;
}

}  // namespace mtl::data
