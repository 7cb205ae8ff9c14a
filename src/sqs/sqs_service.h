// SqsService: the SQS wire adapter. Serves both SQS protocols on the shared
// port — the query protocol (form POST or GET with Action=..., XML replies)
// and AWS JSON 1.0 (X-Amz-Target: AmazonSQS.<Op>) — chosen per request.
// Each request: read the (small) body, verify SigV4 over it, parse, check the
// key's policy for "sqs:<Op>" on the queue's ARN, call the QueueEngine once,
// render the reply in the request's protocol. ReceiveMessage long polls park
// in the engine and complete the exchange later from the engine thread.
//
// Routing: the server decides a request is SQS with server::LooksLikeSqs
// (server/routing.h implements DESIGN.md's "Routing on one port": credential
// scope service "sqs", X-Amz-Target AmazonSQS.*, a form POST, or a GET with
// Action=), which needs only the head, never the body.
//
// Thread-safety: Handle is called concurrently from handler-pool threads and
// I/O threads (RunsInline).
// Lifecycle: the engine and authenticator must outlive the service and any
// exchange still waiting in a long poll (destroy the engine first: it
// completes parked polls with empty results).
#pragma once

#include <memory>
#include <string>

#include "http/exchange.h"
#include "queue/queue_engine.h"
#include "sqs/authenticator.h"
#include "sqs/queue_policy.h"

namespace imgbatch::sqs {

class SqsService {
 public:
  // Region and account come from the engine's options (ARNs and queue URLs).
  SqsService(queue::QueueEngine& engine, std::shared_ptr<Authenticator> authenticator);

  void Handle(std::shared_ptr<http::Exchange> exchange);
  // Whether Handle never blocks for this request once its body is in memory
  // (the JSON protocol's message operations: the engine completes them after
  // an asynchronous commit), so the server may run it on an I/O thread
  // (http::ServerOptions::run_inline). The query protocol names its action in
  // the body, which the server has not read when it asks: always false.
  static bool RunsInline(const http::RequestHead& head);
  // Handle as an http::Handler.
  http::Handler AsHandler();

 private:
  // The policy of the queue resource names, for authorizing action by caller.
  std::shared_ptr<const auth::Policy> PolicyFor(std::string_view resource, std::string_view action,
                                                const auth::PrincipalIdentity* caller);

  queue::QueueEngine& engine_;
  std::shared_ptr<Authenticator> authenticator_;
  std::unique_ptr<QueuePolicies> policies_ = std::make_unique<QueuePolicies>();
};

}  // namespace imgbatch::sqs
