// The training data of a fit: for each task, an endless sequence of rows in seeded passes over its
// data set; tasks whose data sets share inputs (Dataset::withTargets) read one stream, so they get
// the same rows each step and the model encodes them once. A batch never spans two passes: the
// last batch of a pass is shorter, as a DataLoader without drop_last gives it.
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
  TaskStreams(std::vector<std::string> names, std::vector<std::shared_ptr<const data::Dataset>> datasets, uint64_t seed);

  // The next batch of each task in `tasks` (indices), `rows[k]` examples for tasks[k] (fewer at the
  // end of a pass). Tasks sharing a stream get the same rows and the very same input tensors; they
  // are given equal row counts by the strategies.
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
  std::vector<std::shared_ptr<Stream>> streams_;  // one per task; shared by tasks sharing inputs
};

}  // namespace mtl::train
