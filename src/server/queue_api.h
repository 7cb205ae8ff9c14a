// The queue part of the operator API (/-/api/queues/...), for `imgbatch dlq`
// and the dashboard. HandleApi calls it after the one authorization check.
//   GET    /-/api/queues/<name>/messages?max=N   peek (no receive), N 1..1000, default 100
//   DELETE /-/api/queues/<name>/messages/<id>    delete one message by id (204 / 404)
//   POST   /-/api/queues/<name>/redrive          {"destination": "<queue>"} optional:
//                                                StartMessageMoveTask -> {"task_handle"}
//   GET    /-/api/queues/<name>/redrive          the queue's recent move tasks
// Errors: {"error": "<Code>", "message": ".."} with a 4xx status. Thin: one
// queue-engine call per request. Thread-safe (the engine is).
#pragma once

#include "http/exchange.h"
#include "queue/queue_engine.h"

namespace imgbatch::server {

inline constexpr int kDefaultPeekMessages = 100;

// Handles ex when its path is under /-/api/queues/ and returns true;
// otherwise returns false without responding.
bool HandleQueueApi(queue::QueueEngine& queues, http::Exchange& ex);

}  // namespace imgbatch::server
