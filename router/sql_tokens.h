// A cheap split of SQL text into tokens: enough to know where literals, quoted identifiers,
// comments and parentheses start and end, never a parse. The literal cache key (normalize.h)
// and the INSERT rewriting (insert_defaults.h) both walk text this way; libpg_query's own
// scanner is not used because its result comes as protobuf, which Debian's libpg-query-dev
// ships without the protobuf-c headers it needs.
#pragma once

#include <cstddef>
#include <string_view>

namespace cutover::router {

enum class TokenKind {
  kComment,           // -- ... or /* ... */ (nested)
  kQuotedIdentifier,  // "..."
  kLiteral,           // a string ('...', E'...', U&'...', B'...', X'...', $tag$...$tag$) or number
  kWord,              // an identifier, keyword or parameter ($1)
  kOther,             // one character: punctuation, an operator's character, whitespace
  kUnterminated,      // a literal, quoted identifier or comment running to the end of the text
};

struct Token {
  TokenKind kind;
  size_t begin;
  size_t end;
};

// Reads tokens from `sql`, starting at `from` (which must be where a token starts). Assumes
// standard_conforming_strings = on, as libpg_query does: in a plain '...' a backslash is an
// ordinary character.
class SqlTokens {
 public:
  explicit SqlTokens(std::string_view sql, size_t from = 0) : sql_(sql), at_(from) {}

  bool done() const { return at_ >= sql_.size(); }
  // The next token; only when !done().
  Token next();

 private:
  std::string_view sql_;
  size_t at_;
  bool after_word_ = false;  // a prefix letter, '$' or digit continues a word, not a constant
};

// Whether the word token `token` is `keyword` (upper case), in any case.
bool is_keyword(std::string_view sql, const Token& token, std::string_view keyword);

}  // namespace cutover::router
