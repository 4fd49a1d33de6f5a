// `cutover journal --config FILE inspect|replay`: what the mirror-failure journal holds, record
// by record, with every torn tail or corrupt record found, so an operator can see what replay or
// repair will face; and its replay into new while no cutover runs. Not the replay itself
// (journal_replay.h).
#pragma once

#include <ostream>

#include "proxy/base/config.h"

namespace cutover::proxy {

// Prints one line per record and per problem, then a summary line. Returns false when a
// corrupt record was found (a torn tail is what a crash leaves, and is not counted as one).
bool inspect_journal(const Config& config, std::ostream& out);

// Replays every record into new, then prints a summary line. True when new has every record;
// false when new could not be reached or something went to the mismatch log for repair.
// Throws std::runtime_error when a running cutover holds the journal.
bool replay_journal(const Config& config, std::ostream& out);

}  // namespace cutover::proxy
