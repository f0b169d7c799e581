#include "pz/json.h"

#include <cmath>
#include <cstring>

#include "pz/jsnum.h"
#include "pz/text.h"
#include "simdjson.h"

namespace pz {

namespace od = simdjson::ondemand;

const char* code_name(Code code) {
  switch (code) {
    case Code::kOk:
      return "ok";
    case Code::kInvalidJson:
      return "invalid_json";
    case Code::kInvalidArgument:
      return "invalid_argument";
    case Code::kEvalError:
      return "eval_error";
    case Code::kLimitExceeded:
      return "limit_exceeded";
    case Code::kNotFound:
      return "not_found";
    case Code::kConflict:
      return "conflict";
    case Code::kUnavailable:
      return "unavailable";
  }
  return "unknown";
}

struct JsonParser::Impl {
  od::parser parser;
  // The input copy with SIMDJSON_PADDING zero bytes after it; grows, never shrinks. (A
  // std::string's assign + append(n, '\0') cost ~280 instructions a parse: more than the copy.)
  std::unique_ptr<char[]> buffer;
  size_t capacity = 0;
  const char* copy(std::string_view text) {
    const size_t need = text.size() + simdjson::SIMDJSON_PADDING;
    if (need > capacity) {
      capacity = need < 512 ? 512 : need + need / 2;
      buffer.reset(new char[capacity]);
    }
    if (!text.empty()) std::memcpy(buffer.get(), text.data(), text.size());
    std::memset(buffer.get() + text.size(), 0, simdjson::SIMDJSON_PADDING);
    return buffer.get();
  }
};

namespace {

constexpr int kMaxDepth = 512;

// Bytes a key may hold as they are: not '"', not '\\', not a control character (< 0x20).
struct PlainKeyBytes {
  bool byte[256];
  constexpr PlainKeyBytes() : byte() {
    for (int c = 0x20; c < 256; ++c) byte[c] = c != '"' && c != '\\';
  }
  constexpr bool operator[](unsigned char c) const { return byte[c]; }
};
constexpr PlainKeyBytes kPlainKeyByte;

// JSON string unescaping that keeps lone UTF-16 surrogates (as WTF-8), as JSON.parse does;
// used only when simdjson refuses a string for such an escape. `raw` starts after the opening
// quote. Returns false on a malformed escape.
bool unescape_wtf8(const char* raw, const char* limit, std::string& out) {
  std::u16string pending;  // \u escapes in a row, decoded together so that pairs join
  auto flush = [&] {
    if (!pending.empty()) append_wtf8(pending, out);
    pending.clear();
  };
  auto hex4 = [&](const char* p, uint32_t& v) {
    if (limit - p < 4) return false;
    v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = p[i];
      v <<= 4;
      if (c >= '0' && c <= '9')
        v |= static_cast<uint32_t>(c - '0');
      else if (c >= 'a' && c <= 'f')
        v |= static_cast<uint32_t>(c - 'a' + 10);
      else if (c >= 'A' && c <= 'F')
        v |= static_cast<uint32_t>(c - 'A' + 10);
      else
        return false;
    }
    return true;
  };
  const char* p = raw;
  while (p < limit) {
    char c = *p;
    if (c == '"') {
      flush();
      return true;
    }
    if (static_cast<unsigned char>(c) < 0x20) return false;
    if (c != '\\') {
      flush();
      out += c;
      ++p;
      continue;
    }
    if (limit - p < 2) return false;
    char e = p[1];
    p += 2;
    if (e == 'u') {
      uint32_t unit;
      if (!hex4(p, unit)) return false;
      pending.push_back(static_cast<char16_t>(unit));
      p += 4;
      continue;
    }
    flush();
    switch (e) {
      case '"':
        out += '"';
        break;
      case '\\':
        out += '\\';
        break;
      case '/':
        out += '/';
        break;
      case 'b':
        out += '\b';
        break;
      case 'f':
        out += '\f';
        break;
      case 'n':
        out += '\n';
        break;
      case 'r':
        out += '\r';
        break;
      case 't':
        out += '\t';
        break;
      default:
        return false;
    }
  }
  return false;
}

struct Converter {
  const char* base;
  const char* end;  // end of the input text
  simdjson::error_code error = simdjson::SUCCESS;
  const char* where = nullptr;
  const char* message = nullptr;

  bool fail(simdjson::error_code code, const char* at) {
    if (error == simdjson::SUCCESS) {
      error = code;
      where = at;
    }
    return false;
  }

  // Numbers are read from the raw token by pz/jsnum's JSON number reader (the JSON grammar, then
  // correctly rounded as JSON.parse does: big integers, 1e400 -> Infinity, -0), the same routine
  // on every target; simdjson's own double parser and its tables are not linked. The value is not
  // consumed: On Demand skips it when the iteration moves on. (A root number never comes here:
  // JsonParser::parse reads it before simdjson.)
  bool number(od::value& v, Value& out) {
    std::string_view raw = v.raw_json_token();
    while (!raw.empty() &&
           (raw.back() == ' ' || raw.back() == '\n' || raw.back() == '\r' || raw.back() == '\t' ||
            raw.back() == ',' || raw.back() == ']' || raw.back() == '}'))
      raw.remove_suffix(1);
    double d = 0;
    if (!parse_json_number(raw, d)) return fail(simdjson::NUMBER_ERROR, raw.data());
    out = Value::Number(d);
    return true;
  }
  bool number(od::document&, Value&) { return fail(simdjson::NUMBER_ERROR, nullptr); }

  template <typename V>
  bool convert(V& v, Value& out, int depth) {
    if (depth > kMaxDepth) {
      message = "nested deeper than 512 levels";
      return fail(simdjson::DEPTH_ERROR, nullptr);
    }
    od::json_type type;
    if (auto e = v.type().get(type)) return fail(e, location(v));
    switch (type) {
      case od::json_type::null: {
        bool is_null = false;
        if (auto e = v.is_null().get(is_null); e || !is_null)
          return fail(e ? e : simdjson::N_ATOM_ERROR, location(v));
        out = Value::Null();
        return true;
      }
      case od::json_type::boolean: {
        bool b;
        if (auto e = v.get_bool().get(b)) return fail(e, location(v));
        out = Value::Bool(b);
        return true;
      }
      case od::json_type::number:
        return number(v, out);
      case od::json_type::string: {
        std::string_view s;
        const char* at = location(v);
        if (auto e = v.get_string().get(s)) {
          std::string text;
          if (e != simdjson::STRING_ERROR || at == nullptr || !unescape_wtf8(at + 1, end, text)) {
            return fail(e, at);
          }
          out = Value::String(std::move(text));
          return true;
        }
        out = Value::String(std::string(s));
        return true;
      }
      case od::json_type::array: {
        od::array arr;
        const char* at = location(v);
        if (auto e = v.get_array().get(arr)) return fail(e, at);
        Array items;
        for (auto element : arr) {
          od::value child;
          if (auto e = element.get(child)) return fail(e, nullptr);
          Value item;
          if (!convert(child, item, depth + 1)) return false;
          items.push_back(std::move(item));
        }
        out = Value::MakeArray(std::move(items));
        return true;
      }
      case od::json_type::object: {
        od::object obj;
        const char* at = location(v);
        if (auto e = v.get_object().get(obj)) return fail(e, at);
        std::vector<Member> members;
        members.reserve(4);
        for (auto field : obj) {
          // Keys are read raw and unescaped here: simdjson's unescaped_key() leaves the
          // iterator unusable after refusing a lone-surrogate escape that JSON.parse accepts.
          od::raw_json_string raw;
          if (auto e = field.key().get(raw)) return fail(e, nullptr);
          const char* k = raw.raw();
          // Stops at the closing quote, a backslash, a control character, or at the latest at
          // the zero padding after the input (no bounds test needed).
          const char* q = k;
          while (kPlainKeyByte[static_cast<unsigned char>(*q)]) ++q;
          std::string key_copy;
          if (q < end && *q == '"') {
            key_copy = std::string(k, static_cast<size_t>(q - k));
          } else if (!unescape_wtf8(k, end, key_copy)) {
            return fail(simdjson::STRING_ERROR, k);
          }
          od::value child;
          if (auto e = field.value().get(child)) return fail(e, nullptr);
          Value item;
          if (!convert(child, item, depth + 1)) return false;
          members.emplace_back(std::move(key_copy), std::move(item));
        }
        out = Value::MakeObject(std::move(members));
        return true;
      }
      default:
        return fail(simdjson::TAPE_ERROR, location(v));
    }
  }

  template <typename V>
  const char* location(V& v) {
    const char* at = nullptr;
    if (v.current_location().get(at)) return nullptr;
    return at;
  }
};

std::string describe(simdjson::error_code code) {
  switch (code) {
    case simdjson::EMPTY:
      return "empty input";
    case simdjson::UNCLOSED_STRING:
      return "unclosed string";
    case simdjson::UTF8_ERROR:
      return "invalid UTF-8";
    case simdjson::DEPTH_ERROR:
      return "nested too deeply";
    case simdjson::NUMBER_ERROR:
      return "invalid number";
    case simdjson::STRING_ERROR:
      return "invalid string escape";
    case simdjson::T_ATOM_ERROR:
    case simdjson::F_ATOM_ERROR:
    case simdjson::N_ATOM_ERROR:
      return "invalid literal";
    case simdjson::TRAILING_CONTENT:
      return "unexpected content after the JSON value";
    case simdjson::INCOMPLETE_ARRAY_OR_OBJECT:
      return "an object or array is not closed, or content follows the JSON value";
    case simdjson::TAPE_ERROR:
      return "misplaced or missing comma, colon, bracket or brace";
    case simdjson::INCORRECT_TYPE:
      return "invalid value";
    default:
      return simdjson::error_message(code);
  }
}

}  // namespace

JsonParser::JsonParser() : impl_(new Impl()) {}
JsonParser::~JsonParser() = default;

Result<Value> JsonParser::parse(std::string_view text) {
  const char* const buf = impl_->copy(text);
  simdjson::padded_string_view input(buf, text.size(), text.size() + simdjson::SIMDJSON_PADDING);
  Converter conv{buf, buf + text.size()};
  auto make_error = [&](simdjson::error_code code, const char* where) {
    std::string msg = "invalid JSON";
    // simdjson cannot place an unbalanced document: no offset rather than a wrong one.
    if (code == simdjson::INCOMPLETE_ARRAY_OR_OBJECT) where = nullptr;
    if (where != nullptr && where >= buf && where <= buf + text.size()) {
      msg += " at byte " + std::to_string(where - buf);
    }
    msg += ": ";
    msg += conv.message != nullptr ? std::string(conv.message) : describe(code);
    return Status(Code::kInvalidJson, std::move(msg));
  };
  size_t start = 0;
  while (start < text.size() &&
         (text[start] == ' ' || text[start] == '\t' || text[start] == '\n' || text[start] == '\r'))
    ++start;
  if (start == text.size()) return make_error(simdjson::EMPTY, nullptr);
  if (text[start] == '-' || (text[start] >= '0' && text[start] <= '9')) {
    // A number alone: read here (On Demand would consume it only with its own double parser).
    auto is_space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    size_t end = start;
    while (end < text.size() && !is_space(text[end])) ++end;
    double d = 0;
    if (!parse_json_number(text.substr(start, end - start), d)) {
      return make_error(simdjson::NUMBER_ERROR, buf + start);
    }
    while (end < text.size() && is_space(text[end])) ++end;
    if (end != text.size()) return make_error(simdjson::TRAILING_CONTENT, buf + end);
    return Value::Number(d);
  }
  od::document doc;
  if (auto e = impl_->parser.iterate(input).get(doc)) return make_error(e, nullptr);
  Value out;
  if (!conv.convert(doc, out, 0)) return make_error(conv.error, conv.where);
  if (!doc.at_end()) {
    const char* at = nullptr;
    if (doc.current_location().get(at)) at = nullptr;
    return make_error(simdjson::TRAILING_CONTENT, at);
  }
  return out;
}

Result<Value> parse_json(std::string_view text) {
  JsonParser parser;
  return parser.parse(text);
}

namespace {

void append_value(std::string& out, const Value& v, bool in_array) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNull:
      out += "null";
      return;
    case Value::Kind::kBool:
      out += v.as_bool() ? "true" : "false";
      return;
    case Value::Kind::kNumber:
      if (std::isfinite(v.as_number())) {
        append_js_number(out, v.as_number());
      } else {
        out += "null";
      }
      return;
    case Value::Kind::kString:
      append_json_string(out, v.as_string());
      return;
    case Value::Kind::kArray: {
      out += '[';
      bool first = true;
      for (const Value& item : v.as_array()) {
        if (!first) out += ',';
        first = false;
        append_value(out, item, true);
      }
      out += ']';
      return;
    }
    case Value::Kind::kObject: {
      out += '{';
      bool first = true;
      for (const Member& m : v.as_object()) {
        if (m.second.is_undefined()) continue;
        if (!first) out += ',';
        first = false;
        append_json_string(out, m.first);
        out += ':';
        append_value(out, m.second, false);
      }
      out += '}';
      return;
    }
  }
  (void)in_array;
}

bool is_identifier(std::string_view key) {
  if (key.empty()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    char c = key[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == '$' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

}  // namespace

void append_json(std::string& out, const Value& value) { append_value(out, value, false); }

std::string to_json(const Value& value) {
  std::string out;
  append_json(out, value);
  return out;
}

void append_path_key(std::string& path, std::string_view key) {
  if (is_identifier(key)) {
    if (!path.empty()) path += '.';
    path.append(key.data(), key.size());
  } else {
    path += '[';
    append_json_string(path, key);
    path += ']';
  }
}

void append_path_index(std::string& path, size_t index) {
  path += '[';
  path += std::to_string(index);
  path += ']';
}

const char* kind_name(const Value& value) {
  switch (value.kind()) {
    case Value::Kind::kUndefined:
      return "undefined";
    case Value::Kind::kNull:
      return "null";
    case Value::Kind::kBool:
      return "boolean";
    case Value::Kind::kNumber:
      return "number";
    case Value::Kind::kString:
      return "string";
    case Value::Kind::kArray:
      return "array";
    case Value::Kind::kObject:
      return "object";
  }
  return "unknown";
}

}  // namespace pz
