// `mailvault serve`: the appliance's long-running process (daemon/daemon.h)
// as a Poco ServerApplication, until SIGTERM or SIGINT.
#pragma once

#include "app/archive_commands.h"

namespace mailvault {

int RunServe(const GlobalFlags& g);

}  // namespace mailvault
