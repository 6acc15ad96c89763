#include "core/json.h"

namespace mtl::json {

namespace {

// Length of the well-formed UTF-8 sequence starting at bytes[at], or 0 if there is none
// (Unicode Table 3-7: rejects overlong forms, surrogates and code points above U+10FFFF).
size_t utf8SequenceLength(std::string_view bytes, size_t at) {
  const auto byte = [&](size_t i) { return static_cast<unsigned char>(bytes[i]); };
  const size_t left = bytes.size() - at;
  const unsigned char lead = byte(at);
  if (lead < 0x80) return 1;
  const auto continuation = [&](size_t i, unsigned char low, unsigned char high) {
    return i < bytes.size() && byte(i) >= low && byte(i) <= high;
  };
  if (lead >= 0xC2 && lead <= 0xDF) return left >= 2 && continuation(at + 1, 0x80, 0xBF) ? 2 : 0;
  if (lead >= 0xE0 && lead <= 0xEF) {
    const unsigned char low = lead == 0xE0 ? 0xA0 : 0x80;
    const unsigned char high = lead == 0xED ? 0x9F : 0xBF;
    return left >= 3 && continuation(at + 1, low, high) && continuation(at + 2, 0x80, 0xBF) ? 3 : 0;
  }
  if (lead >= 0xF0 && lead <= 0xF4) {
    const unsigned char low = lead == 0xF0 ? 0x90 : 0x80;
    const unsigned char high = lead == 0xF4 ? 0x8F : 0xBF;
    return left >= 4 && continuation(at + 1, low, high) && continuation(at + 2, 0x80, 0xBF) &&
                   continuation(at + 3, 0x80, 0xBF)
               ? 4
               : 0;
  }
  return 0;
}

void appendCodePoint(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// The two-character escapes, which Python's json and serde_json write too, so that quoted strings
// match theirs byte for byte.
const char* shortEscapeOf(unsigned char c) {
  switch (c) {
    case '\n': return "\\n";
    case '\t': return "\\t";
    case '\r': return "\\r";
    case '\b': return "\\b";
    case '\f': return "\\f";
    default: return nullptr;
  }
}

bool isDigit(char c) { return c >= '0' && c <= '9'; }

const char* kindName(Kind kind) {
  switch (kind) {
    case Kind::Null: return "null";
    case Kind::Boolean: return "a boolean";
    case Kind::Number: return "a number";
    case Kind::String: return "a string";
    case Kind::Array: return "an array";
    case Kind::Object: return "an object";
  }
  return "a value";
}

}  // namespace

Reader::Reader(std::string_view text, size_t maxDepth) : text_(text), maxDepth_(maxDepth) {}

void Reader::fail(const std::string& message) const {
  throw ParseError("invalid JSON at byte " + std::to_string(pos_) + ": " + message);
}

void Reader::skipWhitespace() {
  while (pos_ < text_.size()) {
    const char c = text_[pos_];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') return;
    ++pos_;
  }
}

void Reader::expect(char c, const char* what) {
  skipWhitespace();
  if (pos_ >= text_.size()) fail(std::string("text ends where ") + what + " was expected");
  if (text_[pos_] != c) fail(std::string("expected ") + what);
  ++pos_;
}

Kind Reader::peek() {
  skipWhitespace();
  if (pos_ >= text_.size()) fail("text ends where a value was expected");
  switch (text_[pos_]) {
    case '{': return Kind::Object;
    case '[': return Kind::Array;
    case '"': return Kind::String;
    case 't': case 'f': return Kind::Boolean;
    case 'n': return Kind::Null;
    default:
      if (text_[pos_] == '-' || isDigit(text_[pos_])) return Kind::Number;
      fail("expected a value");
  }
}

void Reader::require(Kind wanted) {
  const Kind found = peek();
  if (found != wanted) fail(std::string("expected ") + kindName(wanted) + ", got " + kindName(found));
}

void Reader::open(Kind container) {
  require(container);
  if (open_.size() >= maxDepth_) fail("nesting deeper than " + std::to_string(maxDepth_) + " levels");
  ++pos_;
  open_.push_back({container, true});
}

Reader::Container& Reader::innermost(Kind container) {
  // Calling nextMember outside an object (or nextElement outside an array) is a caller bug.
  if (open_.empty() || open_.back().kind != container) {
    throw std::logic_error(container == Kind::Object ? "json::Reader::nextMember outside an object"
                                                     : "json::Reader::nextElement outside an array");
  }
  return open_.back();
}

void Reader::beginObject() { open(Kind::Object); }
void Reader::beginArray() { open(Kind::Array); }

bool Reader::nextMember(std::string& key) {
  Container& object = innermost(Kind::Object);
  skipWhitespace();
  if (pos_ < text_.size() && text_[pos_] == '}') {
    ++pos_;
    open_.pop_back();
    return false;
  }
  if (!object.first) expect(',', "',' or '}'");
  object.first = false;
  skipWhitespace();
  if (pos_ >= text_.size() || text_[pos_] != '"') fail("expected a member name in quotes");
  key = readString();
  expect(':', "':'");
  return true;
}

bool Reader::nextElement() {
  Container& array = innermost(Kind::Array);
  skipWhitespace();
  if (pos_ < text_.size() && text_[pos_] == ']') {
    ++pos_;
    open_.pop_back();
    return false;
  }
  if (!array.first) expect(',', "',' or ']'");
  array.first = false;
  return true;
}

std::string Reader::readString() {
  require(Kind::String);
  ++pos_;
  std::string out;
  while (true) {
    if (pos_ >= text_.size()) fail("unterminated string");
    const char c = text_[pos_];
    if (c == '"') {
      ++pos_;
      return out;
    }
    if (c == '\\') {
      appendEscape(out);
    } else if (static_cast<unsigned char>(c) < 0x20) {
      fail("control character in a string (it must be escaped)");
    } else if (static_cast<unsigned char>(c) >= 0x80) {
      appendUtf8Sequence(out);
    } else {
      // A run of plain ASCII, appended at once.
      const size_t start = pos_;
      while (pos_ < text_.size()) {
        const auto b = static_cast<unsigned char>(text_[pos_]);
        if (b < 0x20 || b >= 0x80 || b == '"' || b == '\\') break;
        ++pos_;
      }
      out.append(text_.substr(start, pos_ - start));
    }
  }
}

void Reader::appendUtf8Sequence(std::string& out) {
  const size_t length = utf8SequenceLength(text_, pos_);
  if (length == 0) fail("invalid UTF-8 in a string");
  out.append(text_.substr(pos_, length));
  pos_ += length;
}

void Reader::appendEscape(std::string& out) {
  ++pos_;  // the backslash
  if (pos_ >= text_.size()) fail("unterminated escape");
  const char c = text_[pos_++];
  switch (c) {
    case '"': out += '"'; return;
    case '\\': out += '\\'; return;
    case '/': out += '/'; return;
    case 'b': out += '\b'; return;
    case 'f': out += '\f'; return;
    case 'n': out += '\n'; return;
    case 'r': out += '\r'; return;
    case 't': out += '\t'; return;
    case 'u': break;
    default: fail(std::string("unknown escape '\\") + c + "'");
  }
  const auto hex4 = [&]() -> uint32_t {
    if (text_.size() - pos_ < 4) fail("truncated \\u escape");
    uint32_t value = 0;
    for (int i = 0; i < 4; ++i) {
      const char h = text_[pos_++];
      value <<= 4;
      if (isDigit(h)) value |= static_cast<uint32_t>(h - '0');
      else if (h >= 'a' && h <= 'f') value |= static_cast<uint32_t>(h - 'a' + 10);
      else if (h >= 'A' && h <= 'F') value |= static_cast<uint32_t>(h - 'A' + 10);
      else fail("bad hex digit in \\u escape");
    }
    return value;
  };
  uint32_t cp = hex4();
  if (cp >= 0xDC00 && cp <= 0xDFFF) fail("lone low surrogate in \\u escape");
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    // A high surrogate must be followed by an escaped low one; together they name one code point.
    if (text_.size() - pos_ < 2 || text_[pos_] != '\\' || text_[pos_ + 1] != 'u') fail("lone high surrogate");
    pos_ += 2;
    const uint32_t low = hex4();
    if (low < 0xDC00 || low > 0xDFFF) fail("high surrogate not followed by a low surrogate");
    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
  }
  appendCodePoint(out, cp);
}

std::string_view Reader::readNumberLiteral() {
  skipWhitespace();
  const size_t start = pos_;
  const auto digits = [&]() {
    const size_t from = pos_;
    while (pos_ < text_.size() && isDigit(text_[pos_])) ++pos_;
    return pos_ - from;
  };
  if (pos_ < text_.size() && text_[pos_] == '-') ++pos_;
  if (pos_ < text_.size() && text_[pos_] == '0') {
    ++pos_;
  } else if (digits() == 0) {
    fail("expected a number");
  }
  if (pos_ < text_.size() && text_[pos_] == '.') {
    ++pos_;
    if (digits() == 0) fail("expected digits after '.'");
  }
  if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
    ++pos_;
    if (pos_ < text_.size() && (text_[pos_] == '+' || text_[pos_] == '-')) ++pos_;
    if (digits() == 0) fail("expected digits in the exponent");
  }
  return text_.substr(start, pos_ - start);
}

uint64_t Reader::readUnsigned() {
  require(Kind::Number);
  const size_t start = pos_;
  const std::string_view literal = readNumberLiteral();
  const auto refuse = [&](const std::string& why) {
    pos_ = start;
    fail("expected a non-negative integer, got " + std::string(literal.substr(0, 32)) + " (" + why + ")");
  };
  if (literal.find_first_not_of("0123456789") != std::string_view::npos) {
    refuse(literal[0] == '-' ? "negative" : "not an integer");
  }
  uint64_t value = 0;
  for (char c : literal) {
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) refuse("too large");
    value = value * 10 + digit;
  }
  return value;
}

bool Reader::consumeLiteral(std::string_view word) {
  if (text_.substr(pos_, word.size()) != word) return false;
  pos_ += word.size();
  return true;
}

bool Reader::readBoolean() {
  require(Kind::Boolean);
  if (consumeLiteral("true")) return true;
  if (consumeLiteral("false")) return false;
  fail("expected true or false");
}

void Reader::readNull() {
  require(Kind::Null);
  if (!consumeLiteral("null")) fail("expected null");
}

void Reader::skipValue() {
  // Iterative, with its own stack of open containers (true = object): nesting is bounded by the
  // depth cap that open() enforces, never by the C++ call stack.
  std::vector<bool> openObjects;
  std::string key;
  while (true) {
    switch (peek()) {
      case Kind::Null: readNull(); break;
      case Kind::Boolean: readBoolean(); break;
      case Kind::Number: readNumberLiteral(); break;
      case Kind::String: readString(); break;
      case Kind::Array: beginArray(); openObjects.push_back(false); break;
      case Kind::Object: beginObject(); openObjects.push_back(true); break;
    }
    // Step to the next value still to skip, closing every container that has ended.
    while (!openObjects.empty()) {
      const bool more = openObjects.back() ? nextMember(key) : nextElement();
      if (more) break;
      openObjects.pop_back();
    }
    if (openObjects.empty()) return;
  }
}

void Reader::finish() {
  skipWhitespace();
  if (pos_ != text_.size()) fail("unexpected text after the value");
}

std::string quote(std::string_view value) {
  static const char* const kHex = "0123456789abcdef";
  std::string out;
  out.reserve(value.size() + 2);
  out += '"';
  for (size_t i = 0; i < value.size();) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (const char* escape = shortEscapeOf(c)) {
      out += escape;
    } else if (c < 0x20) {
      out += "\\u00";
      out += kHex[c >> 4];
      out += kHex[c & 0xF];
    } else if (c >= 0x80) {
      const size_t length = utf8SequenceLength(value, i);
      if (length == 0) throw std::invalid_argument("string is not valid UTF-8");
      out.append(value.substr(i, length));
      i += length;
      continue;
    } else {
      out += static_cast<char>(c);
    }
    ++i;
  }
  out += '"';
  return out;
}

bool isValidUtf8(std::string_view bytes) {
  for (size_t i = 0; i < bytes.size();) {
    const size_t length = utf8SequenceLength(bytes, i);
    if (length == 0) return false;
    i += length;
  }
  return true;
}

}  // namespace mtl::json
