// `cutover journal --config FILE inspect`: what the mirror-failure journal holds, record by
// record, and every torn tail or corrupt record found, so an operator can see what replay or
// repair will face. Not the replay (that belongs to mirroring).
#pragma once

#include <ostream>

#include "proxy/config.h"

namespace cutover::proxy {

// Prints one line per record and per problem, then a summary line. Returns false when a
// corrupt record was found (a torn tail is what a crash leaves, and is not counted as one).
bool inspect_journal(const Config& config, std::ostream& out);

}  // namespace cutover::proxy
