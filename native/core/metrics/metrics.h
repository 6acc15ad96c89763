// Evaluation metrics, computed natively so that an evaluation pass over a data set never copies
// predictions into JavaScript. Every function documents its convention for degenerate input.
#pragma once
#include <ATen/ATen.h>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace mtl::metrics {

// Predictions may be class ids (int [N]) or scores/logits ([N, C], reduced with argmax over C).
// Targets are class ids int [N]. Inputs of different lengths, or empty inputs, are refused.
at::Tensor classIds(const at::Tensor& predictions, const char* field);

// Fraction of examples whose predicted class equals the target.
double accuracy(const at::Tensor& predictions, const at::Tensor& targets);

// F1 of one class (`positive`, 1 for binary tasks): 2·TP / (2·TP + FP + FN); 0 when the class is
// neither predicted nor present (TP + FP + FN = 0), as sklearn's zero_division=0.
double f1(const at::Tensor& predictions, const at::Tensor& targets, int64_t positive = 1);

// Unweighted mean of the per-class F1 over classes 0..numClasses-1 (numClasses < 0: one more than
// the largest id seen in predictions or targets).
double f1Macro(const at::Tensor& predictions, const at::Tensor& targets, int64_t numClasses = -1);

// Matthews correlation coefficient, multi-class form (Gorodkin 2004, as sklearn):
//   (c·s − Σ p_k t_k) / sqrt((s² − Σ p_k²)(s² − Σ t_k²))
// with c correct, s total, p_k predicted and t_k true counts of class k. For two classes it equals
// the binary MCC. 0 when the denominator is 0 (constant predictions or constant targets).
double matthewsCorrelation(const at::Tensor& predictions, const at::Tensor& targets);

// Pearson correlation in double precision. 0 when either input is constant (the coefficient is
// undefined there; 0 says "no linear relation" and keeps averages such as the GLUE score finite).
double pearson(const at::Tensor& x, const at::Tensor& y);

// Spearman rank correlation: Pearson of the ranks, tied values sharing their average rank
// (scipy.stats.spearmanr). 0 when either input is constant, as pearson().
double spearman(const at::Tensor& x, const at::Tensor& y);

// Ranks 1..N of `values`, ties given the average of the ranks they span.
at::Tensor averageRanks(const at::Tensor& values);

// Levenshtein distance (unit-cost insertions, deletions, substitutions).
int64_t editDistance(const std::vector<int64_t>& hypothesis, const std::vector<int64_t>& reference);

// Sequences of a right-padded int [N, T] tensor: row i keeps its first lengths[i] tokens.
std::vector<std::vector<int64_t>> unpad(const at::Tensor& padded, const at::Tensor& lengths);
// Row i keeps its tokens before the first `padId` (all of them when there is none).
std::vector<std::vector<int64_t>> unpad(const at::Tensor& padded, int64_t padId);

struct SequenceErrors {
  int64_t edits = 0;            // Σ editDistance(hypothesis_i, reference_i)
  int64_t referenceTokens = 0;  // Σ |reference_i|
  int64_t wrongSequences = 0;   // hypotheses that differ from their reference in any way
  int64_t sequences = 0;
  // Phoneme (token) error rate: edits / reference tokens, corpus-level as in speech recognition
  // (not a mean of per-word rates). 0 edits over 0 reference tokens is 0; edits over none is
  // infinity.
  double tokenErrorRate() const;
  // Word error rate in the g2p sense: the fraction of words whose whole predicted pronunciation is
  // not exactly the reference.
  double sequenceErrorRate() const;
};
SequenceErrors sequenceErrors(const std::vector<std::vector<int64_t>>& hypotheses, const std::vector<std::vector<int64_t>>& references);

// GLUE. The score of one task from its metrics (keys as produced by mt.metrics.glueTask):
//   cola: matthews; sst2, qnli, rte, wnli: accuracy; mrpc, qqp: mean of f1 and accuracy;
//   stsb: mean of pearson and spearman; mnli: mean of the matched and mismatched accuracies
//   (keys "matched" and "mismatched", or one "accuracy").
// Task names are lower case without hyphens ("sst2", "stsb", "mnli").
double glueTaskScore(const std::string& task, const std::map<std::string, double>& metrics);
// Unweighted mean of glueTaskScore over the tasks given, MNLI counting as one task (its score the
// mean of matched and mismatched), as the GLUE leaderboard's average over its nine tasks does.
double glueAverage(const std::map<std::string, std::map<std::string, double>>& tasks);

}  // namespace mtl::metrics
