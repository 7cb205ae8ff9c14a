// /ui/: the dashboard page. GET /ui/?token=T checks the token, sets the
// session cookie and redirects to /ui/ (so the token leaves the address bar
// and the history); GET /ui/ without a session answers 401 with a small form
// to paste the token; /ui/<asset> serves the embedded bundle with validators.
// Thread-safety: stateless; call from any handler thread.
#pragma once

#include "dashboard/access.h"
#include "http/exchange.h"

namespace imgbatch::dashboard {

void HandleUi(const Access& access, http::Exchange& ex);

}  // namespace imgbatch::dashboard
