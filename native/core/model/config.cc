#include "core/model/config.h"

namespace mtl::model {

TaskConfig taskConfigFromJson(const Options& json) {
  return {json.at("name").get<std::string>(), json.at("kind").get<std::string>(), json};
}

ModelConfig modelConfigFromJson(const Options& json) {
  ModelConfig config;
  config.input = readOptions<InputConfig>(json.value("input", Options()));
  config.encoder = readOptions<EncoderConfig>(json.value("encoder", Options()));
  const Options sharing = json.value("sharing", Options::object());
  config.sharing = {sharing.value("kind", config.sharing.kind), sharing};
  for (const auto& task : json.at("tasks")) config.tasks.push_back(taskConfigFromJson(task));
  return config;
}

}  // namespace mtl::model
