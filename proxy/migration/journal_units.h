// What a journal record's unit (whole protocol messages) holds, for replay and its reports:
// the pieces that each end in one ReadyForQuery, the tables its statements name, and the rows
// they name by value. Pure.
// Not the running of a record (journal_replay.h) nor the record's format (verify/journal.h).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "router/classify.h"
#include "router/row_keys.h"

namespace cutover::proxy {

// The unit cut after each Query and each Sync: one ReadyForQuery per piece. A COPY FROM
// STDIN's Query is followed by its data, and its piece ends with the CopyDone (or CopyFail)
// instead. Empty when the unit is not whole messages.
std::vector<std::string_view> pieces_of(std::string_view unit);

// The tables the unit's statements name (Query texts and Parse statements).
std::vector<std::string> tables_of(std::string_view unit, const router::Classifier& classifier);

// The rows each statement names by value: Query texts, and each Bind with the text of the
// statement it binds (parsed earlier in the unit).
std::vector<router::NamedRows> rows_named_by(std::string_view unit);

}  // namespace cutover::proxy
