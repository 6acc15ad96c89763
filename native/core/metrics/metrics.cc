#include "core/metrics/metrics.h"

#include <c10/util/Exception.h>
#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

namespace mtl::metrics {

namespace {

// Both inputs as double CPU vectors of equal, non-zero length.
std::pair<at::Tensor, at::Tensor> pairedValues(const at::Tensor& x, const at::Tensor& y, const char* where) {
  TORCH_CHECK_VALUE(x.dim() == 1 && y.dim() == 1, where, ": inputs must be one-dimensional, got shapes ", x.sizes(), " and ", y.sizes());
  TORCH_CHECK_VALUE(x.numel() == y.numel(), where, ": inputs have different lengths (", x.numel(), " and ", y.numel(), ")");
  TORCH_CHECK_VALUE(x.numel() > 0, where, ": inputs are empty");
  return {x.detach().to(at::kCPU, at::kDouble).contiguous(), y.detach().to(at::kCPU, at::kDouble).contiguous()};
}

std::pair<at::Tensor, at::Tensor> pairedClasses(const at::Tensor& predictions, const at::Tensor& targets, const char* where) {
  at::Tensor p = classIds(predictions, "predictions");
  at::Tensor t = classIds(targets, "targets");
  TORCH_CHECK_VALUE(p.numel() == t.numel(), where, ": predictions and targets have different lengths (", p.numel(), " and ", t.numel(),
                    ")");
  TORCH_CHECK_VALUE(p.numel() > 0, where, ": inputs are empty");
  TORCH_CHECK_VALUE(p.min().item<int64_t>() >= 0 && t.min().item<int64_t>() >= 0, where, ": class ids must not be negative");
  return {p, t};
}

// Counts [K, K]: row = true class, column = predicted class.
at::Tensor confusion(const at::Tensor& p, const at::Tensor& t, int64_t classes) {
  return at::bincount(t * classes + p, {}, classes * classes).view({classes, classes}).to(at::kDouble);
}

int64_t classCount(const at::Tensor& p, const at::Tensor& t) { return std::max(p.max().item<int64_t>(), t.max().item<int64_t>()) + 1; }

}  // namespace

at::Tensor classIds(const at::Tensor& predictions, const char* field) {
  at::Tensor p = predictions.detach().to(at::kCPU);
  if (p.dim() == 2) return p.argmax(1);
  TORCH_CHECK_VALUE(p.dim() == 1, "metrics: '", field, "' must be class ids [N] or scores [N, C], got shape ", p.sizes());
  TORCH_CHECK_VALUE(!p.is_floating_point() || p.eq(p.round()).all().item<bool>(), "metrics: '", field,
                    "' must hold whole class ids (pass scores as [N, C])");
  return p.to(at::kLong).contiguous();
}

double accuracy(const at::Tensor& predictions, const at::Tensor& targets) {
  auto [p, t] = pairedClasses(predictions, targets, "accuracy");
  return p.eq(t).to(at::kDouble).mean().item<double>();
}

double f1(const at::Tensor& predictions, const at::Tensor& targets, int64_t positive) {
  auto [p, t] = pairedClasses(predictions, targets, "f1");
  const at::Tensor pp = p.eq(positive), tp = t.eq(positive);
  const double truePositives = pp.logical_and(tp).sum().item<int64_t>();
  const double falsePositives = pp.logical_and(tp.logical_not()).sum().item<int64_t>();
  const double falseNegatives = tp.logical_and(pp.logical_not()).sum().item<int64_t>();
  const double denominator = 2 * truePositives + falsePositives + falseNegatives;
  return denominator == 0 ? 0.0 : 2 * truePositives / denominator;
}

double f1Macro(const at::Tensor& predictions, const at::Tensor& targets, int64_t numClasses) {
  auto [p, t] = pairedClasses(predictions, targets, "f1Macro");
  const int64_t seen = classCount(p, t);
  const int64_t classes = numClasses < 0 ? seen : numClasses;
  TORCH_CHECK_VALUE(classes >= seen, "f1Macro: class id ", seen - 1, " is out of range for ", classes, " classes");
  const at::Tensor counts = confusion(p, t, classes);
  const at::Tensor truePositives = counts.diagonal();
  // 2·TP / (row sum + column sum) = 2·TP / (2·TP + FN + FP); 0/0 counts as 0.
  const at::Tensor denominator = counts.sum(0) + counts.sum(1);
  const at::Tensor perClass = at::where(denominator.gt(0), 2 * truePositives / denominator.clamp_min(1), at::zeros_like(denominator));
  return perClass.mean().item<double>();
}

double matthewsCorrelation(const at::Tensor& predictions, const at::Tensor& targets) {
  auto [p, t] = pairedClasses(predictions, targets, "matthewsCorrelation");
  const at::Tensor counts = confusion(p, t, classCount(p, t));
  const at::Tensor trueCounts = counts.sum(1), predictedCounts = counts.sum(0);
  const double correct = counts.trace().item<double>();
  const double total = counts.sum().item<double>();
  const double covariance = correct * total - predictedCounts.dot(trueCounts).item<double>();
  const double predictedSpread = total * total - predictedCounts.dot(predictedCounts).item<double>();
  const double trueSpread = total * total - trueCounts.dot(trueCounts).item<double>();
  if (predictedSpread * trueSpread == 0) return 0.0;
  return covariance / std::sqrt(predictedSpread * trueSpread);
}

double pearson(const at::Tensor& xIn, const at::Tensor& yIn) {
  auto [x, y] = pairedValues(xIn, yIn, "pearson");
  const at::Tensor dx = x - x.mean(), dy = y - y.mean();
  const double sxx = dx.dot(dx).item<double>(), syy = dy.dot(dy).item<double>();
  if (sxx == 0 || syy == 0) return 0.0;
  // Rounding can push |r| a hair past 1 for perfectly correlated inputs.
  return std::clamp(dx.dot(dy).item<double>() / std::sqrt(sxx * syy), -1.0, 1.0);
}

at::Tensor averageRanks(const at::Tensor& valuesIn) {
  const at::Tensor values = valuesIn.detach().to(at::kCPU, at::kDouble).contiguous();
  const int64_t n = values.numel();
  const double* v = values.data_ptr<double>();
  std::vector<int64_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [v](int64_t a, int64_t b) { return v[a] < v[b]; });
  at::Tensor ranks = at::empty({n}, at::kDouble);
  double* r = ranks.data_ptr<double>();
  for (int64_t start = 0; start < n;) {
    int64_t end = start + 1;
    while (end < n && v[order[end]] == v[order[start]]) ++end;
    // Positions start..end-1 hold ranks start+1..end; each tied value gets their mean.
    const double rank = (start + 1 + end) / 2.0;
    for (int64_t k = start; k < end; ++k) r[order[k]] = rank;
    start = end;
  }
  return ranks;
}

double spearman(const at::Tensor& xIn, const at::Tensor& yIn) {
  auto [x, y] = pairedValues(xIn, yIn, "spearman");
  return pearson(averageRanks(x), averageRanks(y));
}

int64_t editDistance(const std::vector<int64_t>& hypothesis, const std::vector<int64_t>& reference) {
  // One row of the dynamic programme at a time: previous[j] = distance(hyp[:i-1], ref[:j]).
  std::vector<int64_t> previous(reference.size() + 1), current(reference.size() + 1);
  std::iota(previous.begin(), previous.end(), 0);
  for (size_t i = 1; i <= hypothesis.size(); ++i) {
    current[0] = static_cast<int64_t>(i);
    for (size_t j = 1; j <= reference.size(); ++j) {
      const int64_t substitution = previous[j - 1] + (hypothesis[i - 1] == reference[j - 1] ? 0 : 1);
      current[j] = std::min({previous[j] + 1, current[j - 1] + 1, substitution});
    }
    std::swap(previous, current);
  }
  return previous[reference.size()];
}

std::vector<std::vector<int64_t>> unpad(const at::Tensor& paddedIn, const at::Tensor& lengthsIn) {
  TORCH_CHECK_VALUE(paddedIn.dim() == 2, "metrics: sequences must be [N, T], got shape ", paddedIn.sizes());
  const at::Tensor padded = paddedIn.detach().to(at::kCPU, at::kLong).contiguous();
  const at::Tensor lengths = lengthsIn.detach().to(at::kCPU, at::kLong).contiguous();
  TORCH_CHECK_VALUE(lengths.dim() == 1 && lengths.numel() == padded.size(0), "metrics: 'lengths' must have one entry per sequence");
  const int64_t width = padded.size(1);
  std::vector<std::vector<int64_t>> rows(padded.size(0));
  const int64_t* data = padded.data_ptr<int64_t>();
  const int64_t* length = lengths.data_ptr<int64_t>();
  for (size_t i = 0; i < rows.size(); ++i) {
    TORCH_CHECK_VALUE(length[i] >= 0 && length[i] <= width, "metrics: length ", length[i], " of sequence ", i, " is outside [0, ", width,
                      "]");
    rows[i].assign(data + i * width, data + i * width + length[i]);
  }
  return rows;
}

std::vector<std::vector<int64_t>> unpad(const at::Tensor& padded, int64_t padId) {
  TORCH_CHECK_VALUE(padded.dim() == 2, "metrics: sequences must be [N, T], got shape ", padded.sizes());
  const at::Tensor isPad = padded.detach().to(at::kCPU).eq(padId);
  // The first pad position of each row, or T when the row has none.
  const int64_t width = padded.size(1);
  if (width == 0) return unpad(padded, at::zeros({padded.size(0)}, at::kLong));
  const at::Tensor positions = at::arange(width, at::kLong).expand_as(isPad);
  return unpad(padded, at::where(isPad, positions, at::full_like(positions, width)).amin(1, false));
}

double SequenceErrors::tokenErrorRate() const {
  if (referenceTokens == 0) return edits == 0 ? 0.0 : std::numeric_limits<double>::infinity();
  return static_cast<double>(edits) / referenceTokens;
}

double SequenceErrors::sequenceErrorRate() const { return sequences == 0 ? 0.0 : static_cast<double>(wrongSequences) / sequences; }

SequenceErrors sequenceErrors(const std::vector<std::vector<int64_t>>& hypotheses, const std::vector<std::vector<int64_t>>& references) {
  TORCH_CHECK_VALUE(hypotheses.size() == references.size(), "metrics: ", hypotheses.size(), " predicted sequences for ", references.size(),
                    " references");
  TORCH_CHECK_VALUE(!references.empty(), "metrics: no sequences");
  SequenceErrors errors;
  errors.sequences = static_cast<int64_t>(references.size());
  for (size_t i = 0; i < references.size(); ++i) {
    const int64_t distance = editDistance(hypotheses[i], references[i]);
    errors.edits += distance;
    errors.referenceTokens += static_cast<int64_t>(references[i].size());
    if (distance != 0) ++errors.wrongSequences;
  }
  return errors;
}

double glueTaskScore(const std::string& task, const std::map<std::string, double>& metrics) {
  auto get = [&](const char* key) {
    const auto it = metrics.find(key);
    TORCH_CHECK_VALUE(it != metrics.end(), "glue: task '", task, "' needs the metric '", key, "'");
    return it->second;
  };
  if (task == "cola") return get("matthews");
  if (task == "sst2" || task == "qnli" || task == "rte" || task == "wnli") return get("accuracy");
  if (task == "mrpc" || task == "qqp") return (get("f1") + get("accuracy")) / 2;
  if (task == "stsb") return (get("pearson") + get("spearman")) / 2;
  if (task == "mnli") {
    if (metrics.count("matched") || metrics.count("mismatched")) return (get("matched") + get("mismatched")) / 2;
    return get("accuracy");
  }
  TORCH_CHECK_VALUE(false, "glue: unknown task '", task, "' (expected cola, sst2, mrpc, stsb, qqp, mnli, qnli, rte or wnli)");
}

double glueAverage(const std::map<std::string, std::map<std::string, double>>& tasks) {
  TORCH_CHECK_VALUE(!tasks.empty(), "glue: no task results to average");
  double sum = 0;
  for (const auto& [task, metrics] : tasks) sum += glueTaskScore(task, metrics);
  return sum / static_cast<double>(tasks.size());
}

}  // namespace mtl::metrics
