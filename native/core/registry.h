// The extension points (sharing schemes, heads, weighting methods, samplers, strategies) are
// registries: each method is one .cc file that registers itself at load time with its name, its
// options struct's defaults, its capabilities and its factory. Nothing else names it: the
// binding lists every registry's entries (names, defaults, capabilities) for the TypeScript
// schemas, which refuse what a method cannot do before anything native runs.
//
// Registration runs from static initializers, so the core is linked whole (an object library in
// CMake; every source in the node-gyp target), never as a static archive whose unreferenced
// registration objects the linker would drop.
#pragma once
#include <functional>
#include <map>
#include <stdexcept>
#include <string>

#include "core/options.h"

namespace mtl {

template <typename Entry>
class Registry {
 public:
  // `concept` names the registry in messages ("weighting", "head", ...).
  static Registry& instance() {
    static Registry registry;
    return registry;
  }

  void add(const std::string& name, Entry entry) {
    if (!entries_.emplace(name, std::move(entry)).second) throw std::logic_error("registry: '" + name + "' registered twice");
  }

  // The entry of `name`. Names reach here validated by the TypeScript schemas; the check guards
  // C++ callers.
  const Entry& at(const std::string& name) const {
    auto it = entries_.find(name);
    if (it == entries_.end()) throw std::invalid_argument(std::string(Entry::kConcept) + ": unknown kind '" + name + "'");
    return it->second;
  }

  bool contains(const std::string& name) const { return entries_.count(name) > 0; }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  Registry() = default;
  std::map<std::string, Entry> entries_;
};

// Registers one kind: `static const Register<WeightingEntry, DwaOptions> registered("dwa", caps, factory);`
// The entry holds the options struct's defaults (as JSON), the capabilities (any type that converts
// to JSON) and a factory that reads the struct from JSON and hands it, with the entry's other
// arguments, to `factory`. Every entry type declares, in this order, `Options defaults;`,
// `Options capabilities;` and `make`, then anything of its own (given as `extra`).
template <typename Entry, typename KindOptions>
struct Register {
  template <typename Capabilities, typename Factory, typename... Extra>
  Register(const std::string& name, const Capabilities& capabilities, Factory factory, Extra&&... extra) {
    Registry<Entry>::instance().add(name, Entry{Options(KindOptions{}), Options(capabilities),
                                                [factory](const Options& options, auto&&... args) {
                                                  return factory(readOptions<KindOptions>(options), std::forward<decltype(args)>(args)...);
                                                },
                                                std::forward<Extra>(extra)...});
  }
};

// The entry of a registry whose kinds are made from their options and one context: sharing
// schemes, weightings, samplers, strategies. (Heads and optimizers carry more, in entries of their
// own.) `Concept` names the registry in messages: `inline constexpr char kSamplerConcept[] = "sampler";`.
template <const char* Concept, typename Product, typename Context>
struct KindEntry {
  static constexpr const char* kConcept = Concept;
  Options defaults;
  Options capabilities;
  std::function<Product(const Options&, const Context&)> make;
};

// What the binding publishes of one entry: { defaults, capabilities }.
template <typename Entry>
Options describeRegistry() {
  Options out = Options::object();
  for (const auto& [name, entry] : Registry<Entry>::instance().entries()) {
    out[name] = {{"defaults", entry.defaults}, {"capabilities", entry.capabilities}};
  }
  return out;
}

}  // namespace mtl
