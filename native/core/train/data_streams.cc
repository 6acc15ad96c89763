#include "core/train/data_streams.h"

#include <stdexcept>

namespace mtl::train {

namespace {

// A seed for one pass over one task's data, mixed (splitmix64) so neighbouring tasks and passes
// get unrelated orders.
uint64_t passSeed(uint64_t seed, int64_t task, int64_t pass) {
  uint64_t z = seed + 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(task * 1000003 + pass + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (z ^ (z >> 31)) >> 1;  // fits an int64 seed
}

}  // namespace

TaskStreams::TaskStreams(std::vector<std::string> names, std::vector<std::shared_ptr<const data::Dataset>> datasets, uint64_t seed,
                         int rank, int worldSize)
    : names_(std::move(names)), datasets_(std::move(datasets)), seed_(seed), rank_(rank), worldSize_(worldSize) {
  for (size_t i = 0; i < datasets_.size(); ++i) {
    std::shared_ptr<Stream> stream;
    for (size_t j = 0; j < i && !stream; ++j) {
      if (datasets_[j]->sharesInputsWith(*datasets_[i])) stream = streams_[j];
    }
    if (!stream) {
      stream = std::make_shared<Stream>();
      stream->dataset = datasets_[i];
      stream->task = static_cast<int64_t>(i);
      loadPass(*stream);
    }
    streams_.push_back(std::move(stream));
  }
}

void TaskStreams::loadPass(Stream& stream) const {
  stream.order = stream.dataset->shuffledOrder(passSeed(seed_, stream.task, stream.pass));
}

std::vector<int64_t> TaskStreams::sizes() const {
  std::vector<int64_t> out;
  for (const auto& d : datasets_) out.push_back(d->size());
  return out;
}

std::map<std::string, data::Batch> TaskStreams::next(const std::vector<int64_t>& tasks, const std::vector<int64_t>& rows) {
  std::map<std::string, data::Batch> batches;
  std::map<const Stream*, data::Batch> drawn;  // the first batch each stream gave this round
  for (size_t k = 0; k < tasks.size(); ++k) {
    const int64_t t = tasks[k];
    Stream& stream = *streams_[t];
    auto first = drawn.find(&stream);
    if (first != drawn.end()) {
      // The same rows, and the very same input tensors: the model groups tasks by their input
      // tensor and encodes each group once.
      batches[names_[t]] = first->second.indices.numel() == 0 ? first->second : datasets_[t]->batchWithInputsOf(first->second);
      continue;
    }
    const int64_t size = stream.dataset->size();
    if (stream.position >= size) {
      ++stream.pass;
      stream.position = 0;
      loadPass(stream);
    }
    const int64_t count = std::min(rows[k], size - stream.position);
    at::Tensor indices = stream.order.narrow(0, stream.position, count);
    if (worldSize_ > 1) {
      const int64_t begin = count * rank_ / worldSize_, end = count * (rank_ + 1) / worldSize_;
      indices = indices.narrow(0, begin, end - begin);
    }
    data::Batch batch;
    if (indices.numel() > 0) {
      batch = datasets_[t]->batch(indices);
    } else {
      batch.indices = indices;
    }
    stream.position += count;
    drawn.emplace(&stream, batch);
    batches[names_[t]] = std::move(batch);
  }
  return batches;
}

void TaskStreams::saveState(State& state, const std::string& prefix) const {
  for (size_t t = 0; t < streams_.size(); ++t) {
    const std::string key = prefix + names_[t] + ".";
    putInt(state, key + "pass", streams_[t]->pass);
    putInt(state, key + "position", streams_[t]->position);
  }
}

void TaskStreams::loadState(const State& state, const std::string& prefix) {
  std::map<const Stream*, std::pair<int64_t, int64_t>> restored;  // shared streams: every task saved the same place
  for (size_t t = 0; t < streams_.size(); ++t) {
    // Tasks sharing a stream saved the same position; each restores it.
    Stream& stream = *streams_[t];
    const std::string key = prefix + names_[t] + ".";
    const int64_t pass = getInt(state, key + "pass");
    const int64_t position = getInt(state, key + "position");
    if (pass < 0) throw std::invalid_argument("checkpoint: '" + key + "pass' is negative (" + std::to_string(pass) + ")");
    if (position < 0 || position > stream.dataset->size()) {
      throw std::invalid_argument("checkpoint: '" + key + "position' (" + std::to_string(position) + ") is outside the data set of " +
                                  std::to_string(stream.dataset->size()) + " examples: it was saved for other data");
    }
    auto earlier = restored.find(&stream);
    if (earlier != restored.end() && earlier->second != std::make_pair(pass, position)) {
      throw std::invalid_argument("checkpoint: '" + key + "pass' and '" + key + "position' differ from those of a task sharing its inputs");
    }
    restored[&stream] = {pass, position};
    stream.pass = pass;
    stream.position = position;
    loadPass(stream);
  }
}

}  // namespace mtl::train
