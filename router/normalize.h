// The cache key for SQL classification: the statement text with its literal constants
// replaced by '?', found by a cheap scan instead of a parse. Not a general SQL lexer: it only
// needs to know where literals start and end, and to leave everything else byte for byte.
#pragma once

#include <string>
#include <string_view>

namespace cutover::router {

// Replaces string constants ('…', E'…', U&'…', B'…', X'…', $tag$…$tag$) and numeric constants
// with '?'. Comments are kept (they cannot change a statement's kind but dropping them would
// need the same care as literals); identifiers, keywords, operators, whitespace and
// parameters ($1) are kept as they are. Texts that differ outside literals never normalise to
// the same key, so a cache keyed on the result cannot confuse two statements of different
// kinds. Assumes standard_conforming_strings = on, as libpg_query does: in a plain '…' a
// backslash is an ordinary character. An unterminated literal or comment is kept as it is
// (the parse will fail on it anyway).
std::string normalize_literals(std::string_view sql);

}  // namespace cutover::router
