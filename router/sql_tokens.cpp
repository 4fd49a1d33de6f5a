#include "router/sql_tokens.h"

namespace cutover::router {
namespace {

bool identifier_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || static_cast<unsigned char>(c) >= 0x80;
}

bool digit(char c) { return c >= '0' && c <= '9'; }

// The end of a quoted run starting at `open` (the opening quote); npos if unterminated.
// A doubled quote inside stands for one; with `backslash_escapes` (E'…') a backslash escapes
// the next character.
size_t quoted_end(std::string_view sql, size_t open, char quote, bool backslash_escapes) {
  for (size_t i = open + 1; i < sql.size(); ++i) {
    if (backslash_escapes && sql[i] == '\\') {
      ++i;
    } else if (sql[i] == quote) {
      if (i + 1 < sql.size() && sql[i + 1] == quote) {
        ++i;
      } else {
        return i + 1;
      }
    }
  }
  return std::string_view::npos;
}

// At a '$': the end of a dollar-quoted string ($tag$ … $tag$), or 0 if this '$' does not open
// one (a parameter such as $1, or a '$' inside an identifier, handled by the caller).
size_t dollar_quote_end(std::string_view sql, size_t at) {
  size_t tag_end = at + 1;
  while (tag_end < sql.size() && sql[tag_end] != '$') {
    char c = sql[tag_end];
    bool first = tag_end == at + 1;
    if (!(identifier_char(c) && c != '$') || (first && digit(c))) return 0;
    ++tag_end;
  }
  if (tag_end >= sql.size()) return 0;
  std::string_view tag = sql.substr(at, tag_end - at + 1);
  size_t close = sql.find(tag, tag_end + 1);
  return close == std::string_view::npos ? std::string_view::npos : close + tag.size();
}

// The end of a numeric constant starting at `at` (a digit, or '.' followed by a digit).
size_t number_end(std::string_view sql, size_t at) {
  size_t i = at;
  while (i < sql.size() && (digit(sql[i]) || sql[i] == '.' || sql[i] == '_')) ++i;
  if (i < sql.size() && (sql[i] == 'e' || sql[i] == 'E')) {
    size_t j = i + 1;
    if (j < sql.size() && (sql[j] == '+' || sql[j] == '-')) ++j;
    if (j < sql.size() && digit(sql[j])) {
      i = j;
      while (i < sql.size() && digit(sql[i])) ++i;
    }
  }
  return i;
}

// The end of a comment starting at `at` ("--" or "/*", which nests); npos if unterminated.
size_t comment_end(std::string_view sql, size_t at) {
  if (sql[at] == '-') {
    size_t newline = sql.find('\n', at);
    return newline == std::string_view::npos ? sql.size() : newline + 1;
  }
  int depth = 0;
  for (size_t i = at; i + 1 < sql.size(); ++i) {
    if (sql[i] == '/' && sql[i + 1] == '*') {
      ++depth;
      ++i;
    } else if (sql[i] == '*' && sql[i + 1] == '/') {
      ++i;
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// The length of a string-constant prefix at `at` (E, B, X, N, U&) when a quote follows it
// directly; 0 otherwise.
size_t prefix_length(std::string_view sql, size_t at) {
  char c = static_cast<char>(sql[at] | 0x20);
  if ((c == 'e' || c == 'b' || c == 'x' || c == 'n') && at + 1 < sql.size() &&
      sql[at + 1] == '\'') {
    return 1;
  }
  if (c == 'u' && at + 2 < sql.size() && sql[at + 1] == '&' && sql[at + 2] == '\'') return 2;
  return 0;
}

// The end of the literal starting at `at`, npos if it is unterminated, or `at` if no literal
// starts there. `after_word`: the previous token was an identifier, keyword or parameter, which
// a prefix letter, '$' or digit continues rather than starts a constant after (a quote still
// starts one).
size_t literal_end(std::string_view sql, size_t at, bool after_word) {
  char c = sql[at];
  if (c == '\'') return quoted_end(sql, at, '\'', false);  // ends a word: date'2024-01-01'
  if (after_word) return at;
  if (size_t prefix = prefix_length(sql, at); prefix > 0 || c == '\'') {
    bool escapes = prefix == 1 && (c | 0x20) == 'e';
    return quoted_end(sql, at + prefix, '\'', escapes);
  }
  if (c == '$') {
    size_t end = dollar_quote_end(sql, at);
    return end == 0 ? at : end;
  }
  if (digit(c) || (c == '.' && at + 1 < sql.size() && digit(sql[at + 1]))) {
    return number_end(sql, at);
  }
  return at;
}

// The end of the word (identifier, keyword, or parameter such as $1) at `at`, or `at`.
size_t word_end(std::string_view sql, size_t at) {
  size_t end = at;
  if (sql[at] == '$') {  // a parameter: '$' and digits
    ++end;
    while (end < sql.size() && digit(sql[end])) ++end;
    return end > at + 1 ? end : at;
  }
  if (digit(sql[at]) || !identifier_char(sql[at])) return at;
  while (end < sql.size() && identifier_char(sql[end])) ++end;
  return end;
}

}  // namespace

Token SqlTokens::next() {
  const size_t i = at_;
  const char c = sql_[i];
  const bool comment = (c == '-' && i + 1 < sql_.size() && sql_[i + 1] == '-') ||
                       (c == '/' && i + 1 < sql_.size() && sql_[i + 1] == '*');
  Token token{TokenKind::kOther, i, i + 1};
  size_t end = i;
  if (comment || c == '"') {
    end = comment ? comment_end(sql_, i) : quoted_end(sql_, i, '"', false);
    token.kind = comment ? TokenKind::kComment : TokenKind::kQuotedIdentifier;
    after_word_ = c == '"';
  } else if (end = literal_end(sql_, i, after_word_); end != i) {
    token.kind = TokenKind::kLiteral;
    after_word_ = false;
  } else if (end = word_end(sql_, i); end != i) {
    token.kind = TokenKind::kWord;
    after_word_ = true;
  } else {
    end = i + 1;
    after_word_ = false;
  }
  if (end == std::string_view::npos) {
    token.kind = TokenKind::kUnterminated;
    end = sql_.size();
  }
  token.end = end;
  at_ = end;
  return token;
}

bool is_keyword(std::string_view sql, const Token& token, std::string_view keyword) {
  if (token.kind != TokenKind::kWord || token.end - token.begin != keyword.size()) return false;
  for (size_t i = 0; i < keyword.size(); ++i) {
    char c = sql[token.begin + i];
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (c != keyword[i]) return false;
  }
  return true;
}

}  // namespace cutover::router
