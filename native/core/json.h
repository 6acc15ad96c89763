// A small, strict JSON pull parser and string quoting, for file headers and configs read from
// untrusted files. It is a pull parser, not a document tree, so that a reader keeps only the
// values it wants: memory stays proportional to what the caller stores, never to how many values
// a (possibly hostile) text holds. Nesting depth is capped, so deep nesting cannot exhaust the
// stack. Every syntax error throws json::ParseError with the byte offset it was found at.
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace mtl::json {

struct ParseError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

enum class Kind { Null, Boolean, Number, String, Array, Object };

// Reads one JSON value from `text` (RFC 8259; strings must be valid UTF-8). Usage:
//   reader.beginObject(); std::string key;
//   while (reader.nextMember(key)) { ...read exactly one value for key... }
//   reader.beginArray(); while (reader.nextElement()) { ...read exactly one value... }
//   reader.finish();  // only whitespace may follow the value
class Reader {
 public:
  explicit Reader(std::string_view text, size_t maxDepth = 64);

  // The kind of the next value, without consuming it.
  Kind peek();
  void beginObject();
  // Reads the next member's key and its ':'; false (having consumed '}') at the end of the object.
  bool nextMember(std::string& key);
  void beginArray();
  // True when another element follows; false (having consumed ']') at the end of the array.
  bool nextElement();
  std::string readString();
  // A non-negative integer written without sign, fraction or exponent, that fits in 64 bits.
  uint64_t readUnsigned();
  bool readBoolean();
  void readNull();
  // Consumes any one value (depth-capped like everything else).
  void skipValue();
  void finish();

  size_t offset() const { return pos_; }
  [[noreturn]] void fail(const std::string& message) const;

 private:
  void skipWhitespace();
  void expect(char c, const char* what);
  void require(Kind wanted);
  void open(Kind container);
  std::string_view readNumberLiteral();
  void appendEscape(std::string& out);
  void appendUtf8Sequence(std::string& out);
  bool consumeLiteral(std::string_view word);

  struct Container {
    Kind kind;   // Object or Array
    bool first;  // no member/element read yet
  };
  Container& innermost(Kind container);

  std::string_view text_;
  size_t pos_ = 0;
  size_t maxDepth_;
  std::vector<Container> open_;  // innermost last; its size is capped by maxDepth_
};

// `value` as a JSON string literal, quotes included. `value` must be UTF-8 (throws otherwise).
std::string quote(std::string_view value);

// Whether `bytes` is well-formed UTF-8 (no overlong forms, surrogates or code points > U+10FFFF).
bool isValidUtf8(std::string_view bytes);

}  // namespace mtl::json
