// Structured log lines (JSON or key=value) on stderr, one write per line.
// Not an audit log and never a place for passwords or SQL parameter values.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace cutover::proxy::log {

enum class Level { kDebug, kInfo, kWarn, kError };
enum class Format { kJson, kKeyValue };

// Set once at start-up, before any thread logs.
void configure(Level level, Format format);
void set_level(Level level);               // thread-safe: the format stays
Level parse_level(std::string_view name);  // "debug" | "info" | "warn" | "error"
bool enabled(Level level);

// One key and its value, formatted when the line is built.
struct Field {
  Field(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
  Field(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
  template <typename T>
  requires std::is_arithmetic_v<T> Field(std::string_view k, T v)
      : key(k), value(std::to_string(v)), quoted(false) {}

  std::string_view key;
  std::string value;
  bool quoted;
};

// A 64-bit value as 16 lowercase hex digits: how statement fingerprints are printed.
std::string hex(uint64_t value);
// A list as one field value: "a, b, c".
std::string joined(const std::vector<std::string>& items);

// The line write() would print, newline included.
std::string format_line(Level level, std::string_view event, std::initializer_list<Field> fields);
void write(Level level, std::string_view event, std::initializer_list<Field> fields);

inline void debug(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kDebug)) write(Level::kDebug, event, fields);
}
inline void info(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kInfo)) write(Level::kInfo, event, fields);
}
inline void warn(std::string_view event, std::initializer_list<Field> fields = {}) {
  if (enabled(Level::kWarn)) write(Level::kWarn, event, fields);
}
inline void error(std::string_view event, std::initializer_list<Field> fields = {}) {
  write(Level::kError, event, fields);
}

}  // namespace cutover::proxy::log
