// Beam search over an autoregressive decoder with a key/value cache; greedy decoding is the same
// search with one beam. The PyTorch twin (python/multitask_twin.py, beam_search)
// implements the same steps, so sequences and scores can be compared exactly.
//
// The search: every row starts from BOS with score 0 (only its first beam alive). Each step adds
// every token's log-probability to its beam's score and keeps the beamSize best (beam, token)
// pairs of the row (torch.topk order). A beam that produced EOS is finished: it continues only
// with padId at log-probability 0, so its score stays fixed while it keeps competing. The search
// stops when every beam has finished or after maxLength tokens. The best beam of a row is the one
// with the highest score / length^lengthPenalty (length = tokens up to and including EOS; no
// normalisation with lengthPenalty 0); its raw score (sum of log-probabilities) is returned.
#pragma once
#include <ATen/ATen.h>

#include <functional>

#include "core/model/head.h"
#include "core/nn/kv_cache.h"

namespace mtl::model {

// Log-probabilities (N, V) of the next token given the last tokens (N, 1) at position `offset`;
// it reads and extends `cache` (rows in the same order as the tokens).
using DecodeStep = std::function<at::Tensor(const at::Tensor& lastTokens, int64_t offset, nn::DecoderCache& cache)>;

struct SearchSettings {
  int64_t batch = 0;
  int64_t beamSize = 1;
  int64_t maxLength = 1;
  double lengthPenalty = 0;
  int64_t bosId = 1, eosId = 2, padId = 0;
  at::TensorOptions options;  // device for the token tensors
};

// `cache` must be empty and sized for batch * beamSize rows (the caller repeats the memory of
// each row beamSize times, beams of a row adjacent).
Generated beamSearch(const DecodeStep& step, nn::DecoderCache cache, const SearchSettings& settings);

}  // namespace mtl::model
