// `cutover ctl`: the admin API from the command line, with readable output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace cutover::proxy {

// args: what follows "ctl". Returns the exit code (0, 1 failure, 2 bad usage).
int run_ctl(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace cutover::proxy
