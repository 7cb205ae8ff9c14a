// The reprocess part of the operator API, for `imgbatch reprocess`:
//   POST /-/api/reprocess  {"bucket": "input", "prefix": "photos/"}
//     -> {"bucket", "prefix", "objects": N, "messages": M}
// Lists the bucket through the store and sends an ObjectCreated:Put event
// per object to the queues the bucket's notification configuration routes it
// to (notify::Notifier::Reprocess; the same event JSON as uploads). Thin.
#pragma once

#include <string>

#include "http/exchange.h"
#include "notify/notifier.h"

namespace imgbatch::server {

// Handles ex when its path is /-/api/reprocess and returns true; otherwise
// returns false without responding. principal: who the events name.
bool HandleReprocessApi(notify::Notifier& notifier, const std::string& principal,
                        http::Exchange& ex);

}  // namespace imgbatch::server
