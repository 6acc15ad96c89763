#include "core/model/config.h"

#include <algorithm>
#include <cctype>
#include <utility>
#include <set>
#include <sstream>
#include <stdexcept>

namespace mtl::model {

namespace {

[[noreturn]] void refuse(const std::string& message) { throw std::invalid_argument(message); }

void requirePositive(int64_t value, const std::string& field) {
  if (value <= 0) refuse(field + " must be a positive integer, got " + std::to_string(value));
}

bool validTaskName(const std::string& name) {
  if (name.empty() || !(std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_')) return false;
  return std::all_of(name.begin(), name.end(), [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; });
}

}  // namespace

SharingKind parseSharingKind(const std::string& name) {
  if (name == "sharedEncoder") return SharingKind::SharedEncoder;
  if (name == "fullyShared") return SharingKind::FullyShared;
  if (name == "layerwise") return SharingKind::Layerwise;
  if (name == "adapters") return SharingKind::Adapters;
  if (name == "lora") return SharingKind::Lora;
  if (name == "mmoe") return SharingKind::Mmoe;
  refuse("sharing.kind must be one of sharedEncoder, fullyShared, layerwise, adapters, lora, mmoe, got '" + name + "'");
}

HeadKind parseHeadKind(const std::string& name) {
  if (name == "classification") return HeadKind::Classification;
  if (name == "regression") return HeadKind::Regression;
  if (name == "multiLabel") return HeadKind::MultiLabel;
  if (name == "tagging") return HeadKind::Tagging;
  if (name == "sequence") return HeadKind::Sequence;
  refuse("task kind must be one of classification, regression, multiLabel, tagging, sequence, got '" + name + "'");
}

const char* headKindName(HeadKind kind) {
  switch (kind) {
    case HeadKind::Classification: return "classification";
    case HeadKind::Regression: return "regression";
    case HeadKind::MultiLabel: return "multiLabel";
    case HeadKind::Tagging: return "tagging";
    case HeadKind::Sequence: return "sequence";
  }
  return "?";
}

void validateTask(const ModelConfig& config, const TaskConfig& task) {
  const std::string field = "tasks." + task.name;
  if (!validTaskName(task.name)) refuse("task name '" + task.name + "' must be an identifier (letters, digits, _)");
  const HeadConfig& head = task.head;
  requirePositive(head.outputs, field + ".outputs");
  if (head.decoderLayers < 0) refuse(field + ".decoderLayers must be >= 0");
  if (head.labelSmoothing < 0 || head.labelSmoothing >= 1) refuse(field + ".labelSmoothing must be in [0, 1)");
  if (head.kind == HeadKind::Sequence) {
    requirePositive(head.vocabSize, field + ".vocabSize");
    requirePositive(head.maxLength, field + ".maxLength");
    requirePositive(head.decoderLayers, field + ".decoderLayers");
    const std::pair<int64_t, const char*> ids[] = {{head.padId, "padId"}, {head.bosId, "bosId"}, {head.eosId, "eosId"}};
    for (const auto& [id, name] : ids) {
      if (id < 0 || id >= head.vocabSize) {
        refuse(field + "." + name + " must be in [0, vocabSize), got " + std::to_string(id));
      }
    }
  }
  if (head.kind == HeadKind::Tagging && head.decoderLayers != 0) refuse(field + ".decoderLayers must be 0 for tagging");
  (void)config;
}

void validate(const ModelConfig& config) {
  const auto& in = config.input;
  if (in.featureSize < 0) refuse("input.features must be a positive integer");
  if (in.featureSize == 0) requirePositive(in.vocabSize, "input.vocabSize");
  requirePositive(in.maxLength, "input.maxLength");
  if (in.featureSize == 0 && (in.padId < 0 || in.padId >= in.vocabSize)) {
    refuse("input.padId must be in [0, input.vocabSize), got " + std::to_string(in.padId));
  }
  const auto& enc = config.encoder;
  requirePositive(enc.numLayers, "encoder.numLayers");
  requirePositive(enc.dModel, "encoder.dModel");
  requirePositive(enc.nhead, "encoder.nhead");
  requirePositive(enc.dimFeedforward, "encoder.dimFeedforward");
  if (enc.dModel % enc.nhead != 0) {
    refuse("encoder.dModel (" + std::to_string(enc.dModel) + ") must be divisible by encoder.nhead (" +
           std::to_string(enc.nhead) + ")");
  }
  if (enc.dropout < 0 || enc.dropout >= 1) refuse("encoder.dropout must be in [0, 1)");
  if (enc.activation != "relu" && enc.activation != "gelu") refuse("encoder.activation must be 'relu' or 'gelu'");
  const auto& s = config.sharing;
  switch (s.kind) {
    case SharingKind::Layerwise:
      if (s.sharedLayers < 1 || s.sharedLayers > enc.numLayers) {
        refuse("sharing.sharedLayers (" + std::to_string(s.sharedLayers) + ") must be in [1, encoder.numLayers (" +
               std::to_string(enc.numLayers) + ")]");
      }
      break;
    case SharingKind::Adapters:
      requirePositive(s.reduction, "sharing.reduction");
      if (enc.dModel / s.reduction < 1) refuse("sharing.reduction must not exceed encoder.dModel");
      if (s.placement != "houlsby" && s.placement != "pfeiffer") refuse("sharing.placement must be 'houlsby' or 'pfeiffer'");
      break;
    case SharingKind::Lora:
      requirePositive(s.rank, "sharing.rank");
      if (s.targets.empty()) refuse("sharing.targets must name at least one of q, k, v, o");
      for (const auto& t : s.targets) {
        if (t != "q" && t != "k" && t != "v" && t != "o") refuse("sharing.targets: '" + t + "' is not one of q, k, v, o");
      }
      break;
    case SharingKind::Mmoe:
      requirePositive(s.experts, "sharing.experts");
      if (s.topK < 0 || s.topK > s.experts) refuse("sharing.topK must be in [0, sharing.experts]");
      break;
    default: break;
  }
  if (config.tasks.empty()) refuse("tasks must name at least one task");
  std::set<std::string> names;
  for (const auto& task : config.tasks) {
    if (!names.insert(task.name).second) refuse("tasks: duplicate task name '" + task.name + "'");
    validateTask(config, task);
  }
}

}  // namespace mtl::model
