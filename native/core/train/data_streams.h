// The training data of a fit: for each task, an endless sequence of rows in seeded passes over its
// data set; tasks whose data sets share inputs (Dataset::withTargets) read one stream, so they get
// the same rows each step and the model encodes them once. A batch never spans two passes: the
// last batch of a pass is shorter, as a DataLoader without drop_last gives it.
// Data parallel: every rank draws the same global batches (the same seeded order, the same
// positions) and keeps its own consecutive part of each: rank r of W takes rows
// [⌊n·r/W⌋, ⌊n·(r+1)/W⌋) of a batch of n, so the ranks together read each batch exactly once and a
// checkpoint's positions mean the same for any world size.
#pragma once
#include <ATen/ATen.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/data/dataset.h"
#include "core/train/state.h"

namespace mtl::train {

class TaskStreams {
 public:
  // `datasets[i]` is task i's data set (names[i]); `seed` fixes every pass's order.
  // `rank` of `worldSize` selects this process's part of every batch.
  TaskStreams(std::vector<std::string> names, std::vector<std::shared_ptr<const data::Dataset>> datasets, uint64_t seed, int rank = 0,
              int worldSize = 1);

  // The next batch of each task in `tasks` (indices), `rows[k]` examples for tasks[k] (fewer at the
  // end of a pass; with several ranks, this rank's part of them: possibly a batch of no rows, which
  // holds only its empty indices). Tasks sharing a stream get the same rows and the very same input
  // tensors; they are given equal row counts by the strategies.
  std::map<std::string, data::Batch> next(const std::vector<int64_t>& tasks, const std::vector<int64_t>& rows);

  std::vector<int64_t> sizes() const;
  void saveState(State& state, const std::string& prefix) const;
  // Refuses positions a stream cannot be at (naming the entry).
  void loadState(const State& state, const std::string& prefix);

 private:
  struct Stream {
    std::shared_ptr<const data::Dataset> dataset;
    int64_t task = 0;  // the first task reading this stream: it seeds the order
    int64_t pass = 0;
    int64_t position = 0;  // rows of this pass already drawn
    at::Tensor order;      // this pass's permutation of the rows
  };
  void loadPass(Stream& stream) const;

  std::vector<std::string> names_;
  std::vector<std::shared_ptr<const data::Dataset>> datasets_;
  uint64_t seed_;
  int rank_ = 0, worldSize_ = 1;
  std::vector<std::shared_ptr<Stream>> streams_;  // one per task; shared by tasks sharing inputs
};

}  // namespace mtl::train
