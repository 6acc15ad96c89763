// A native-resident data set: every example already tokenized, padded and stored as tensors, so
// that a C++ training loop can draw batches without crossing into JavaScript.
#pragma once
#include <ATen/ATen.h>
#include <c10/util/Optional.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace mtl::data {

// How a task kind's targets are laid out (each head declares its own, see model/head.h):
//   dtype  int64 for class ids and token ids, float32 for values
//   dims   of the targets tensor, the example dimension included ([N] is 1, [N, T] is 2)
//   trim   how a batch cuts the target columns: not at all, to the batch's input width (one
//          target per input position), or to the batch's longest target (targetLengths, which
//          the data set then requires).
struct TargetLayout {
  enum class Trim { None, ToInputs, ToTargetLengths };
  at::ScalarType dtype = at::kLong;
  int64_t dims = 1;
  Trim trim = Trim::None;
};

// The tensors a data set is built from. Optional members are undefined tensors when absent.
struct DatasetTensors {
  at::Tensor inputIds;       // int64 [N, L], right-padded with padId
  at::Tensor lengths;        // int64 [N], tokens before padding (1..L)
  at::Tensor tokenTypeIds;   // optional int64 [N, L]: segment of each token (0 first, 1 second)
  at::Tensor targets;        // laid out as the task kind's TargetLayout; undefined: unlabeled
  at::Tensor targetLengths;  // ToTargetLengths layouts: int64 [N], tokens of each target before padding
  at::Tensor features;       // optional float32 [N, L, F]: a vector per input position
};

// One batch: the selected rows, with padding trimmed to the longest row of the batch, so short
// batches do not pay for the data set's longest example.
struct Batch {
  at::Tensor indices;  // int64 [B]: rows of the data set, in batch order
  at::Tensor inputIds;
  at::Tensor lengths;
  at::Tensor tokenTypeIds;   // undefined when the data set has none
  at::Tensor targets;        // undefined for an unlabeled data set
  at::Tensor targetLengths;  // undefined unless the layout trims to target lengths
  at::Tensor features;       // undefined when the data set has none
};

class Dataset {
 public:
  // Checks every shape and dtype (errors name the field) and keeps the tensors contiguous on CPU.
  // `kind` is the task kind the targets are for (a head's name); undefined targets make an
  // unlabeled data set (predict only).
  Dataset(DatasetTensors tensors, std::string kind, TargetLayout layout, int64_t padId, int64_t targetPadId);

  // A data set of the same examples with other targets (another task's labels of the same
  // inputs). It shares this one's input tensors, without a copy; the trainer gives tasks whose
  // data sets share inputs the same rows each step, so the model encodes them once for all.
  // `targets` and `targetLengths` as in DatasetTensors.
  std::shared_ptr<Dataset> withTargets(const at::Tensor& targets, const at::Tensor& targetLengths, std::string kind, TargetLayout layout,
                                       int64_t targetPadId) const;
  // Whether both were built on the same input tensors (one is, or both are, withTargets of another).
  bool sharesInputsWith(const Dataset& other) const;

  int64_t size() const { return tensors_.inputIds.size(0); }
  int64_t maxLength() const { return tensors_.inputIds.size(1); }
  const std::string& kind() const { return kind_; }
  bool labeled() const { return tensors_.targets.defined(); }
  int64_t padId() const { return padId_; }
  int64_t targetPadId() const { return targetPadId_; }
  bool hasTokenTypes() const { return tensors_.tokenTypeIds.defined(); }
  bool hasFeatures() const { return tensors_.features.defined(); }
  const DatasetTensors& tensors() const { return tensors_; }

  // The rows `indices` (int64 [B], each in [0, size)), trimmed to the batch's longest input
  // (and longest target for Sequence).
  Batch batch(const at::Tensor& indices) const;
  // This data set's targets for the rows of `inputs`, a batch of a data set sharing these inputs
  // (sharesInputsWith): the very same input tensors, gathered once for all the tasks reading them.
  Batch batchWithInputsOf(const Batch& inputs) const;

  // A permutation of 0..size-1 drawn from its own generator seeded with `seed`: the same seed
  // gives the same order on every run and platform, whatever the global RNG state is.
  at::Tensor shuffledOrder(uint64_t seed) const;

  // Row indices split into consecutive batches of `batchSize` (the last one shorter unless
  // dropLast), in data set order or, with a seed, in shuffledOrder(seed).
  std::vector<at::Tensor> batchIndices(int64_t batchSize, c10::optional<uint64_t> seed, bool dropLast) const;

 private:
  Dataset(const Dataset& inputsOf, const at::Tensor& targets, const at::Tensor& targetLengths, std::string kind, TargetLayout layout,
          int64_t targetPadId);
  void setTargets(const at::Tensor& targets, const at::Tensor& targetLengths);
  // Gathers b.indices' targets, trimmed as b's inputs are.
  void addTargets(Batch& b) const;

  DatasetTensors tensors_;
  std::string kind_;
  TargetLayout layout_;
  int64_t padId_;
  int64_t targetPadId_;
};

}  // namespace mtl::data
