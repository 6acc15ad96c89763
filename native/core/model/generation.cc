#include "core/model/generation.h"

#include <limits>

namespace mtl::model {

Generated beamSearch(const DecodeStep& step, nn::DecoderCache cache, const SearchSettings& s) {
  const int64_t rows = s.batch * s.beamSize;
  const auto longs = s.options.dtype(at::kLong);
  const double negInf = -std::numeric_limits<double>::infinity();

  at::Tensor scores = at::zeros({s.batch, s.beamSize}, s.options.dtype(at::kFloat));
  if (s.beamSize > 1) scores.narrow(1, 1, s.beamSize - 1).fill_(negInf);
  scores = scores.reshape({rows});
  at::Tensor finished = at::zeros({rows}, s.options.dtype(at::kBool));
  at::Tensor generated = at::empty({rows, 0}, longs);
  at::Tensor last = at::full({rows, 1}, s.bosId, longs);
  const at::Tensor rowStart = (at::arange(s.batch, longs) * s.beamSize).unsqueeze(1);

  for (int64_t t = 0; t < s.maxLength; ++t) {
    at::Tensor logProbs = step(last, t, cache).to(at::kFloat);
    const int64_t vocab = logProbs.size(1);
    at::Tensor onlyPad = at::full({vocab}, negInf, logProbs.options());
    onlyPad.narrow(0, s.padId, 1).fill_(0.0);
    logProbs = at::where(finished.unsqueeze(1), onlyPad.unsqueeze(0), logProbs);

    const at::Tensor candidates = (scores.unsqueeze(1) + logProbs).reshape({s.batch, s.beamSize * vocab});
    auto [topScores, topIndex] = candidates.topk(s.beamSize, 1);
    const at::Tensor source = (rowStart + at::div(topIndex, vocab, c10::optional<c10::string_view>("floor"))).reshape({rows});
    const at::Tensor tokens = topIndex.remainder(vocab).reshape({rows});

    generated = at::cat({generated.index_select(0, source), tokens.unsqueeze(1)}, 1);
    finished = finished.index_select(0, source).logical_or(tokens.eq(s.eosId));
    scores = topScores.reshape({rows});
    cache.reorder(source);
    last = tokens.unsqueeze(1);
    if (finished.all().item<bool>()) break;
  }

  // Length of each hypothesis: up to and including its first EOS, or all generated tokens.
  const int64_t steps = generated.size(1);
  const at::Tensor isEos = generated.eq(s.eosId);
  const at::Tensor firstEos = at::where(isEos.any(1), isEos.to(at::kLong).argmax(1) + 1, at::full({rows}, steps, longs));
  at::Tensor ranking = scores;
  if (s.lengthPenalty != 0) ranking = scores / firstEos.to(at::kFloat).pow(s.lengthPenalty);
  const at::Tensor best = ranking.reshape({s.batch, s.beamSize}).argmax(1);
  const at::Tensor pick = rowStart.squeeze(1) + best;
  at::Tensor sequences = generated.index_select(0, pick);
  // Tokens after a hypothesis's EOS are padding (they were padId already, except for beams that
  // never finished, which have none).
  return {sequences, scores.index_select(0, pick)};
}

}  // namespace mtl::model
