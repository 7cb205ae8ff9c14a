#include "sqs/sqs_service.h"

#include <spdlog/spdlog.h>

#include <map>

#include "common/hashing.h"
#include "common/strings.h"
#include "queue/message.h"
#include "sqs/ops.h"

namespace imgbatch::sqs {
namespace {

const std::map<std::string, Operation, std::less<>>& Operations() {
  static const std::map<std::string, Operation, std::less<>> kOps = {
      {"CreateQueue", &CreateQueue},
      {"GetQueueUrl", &GetQueueUrl},
      {"ListQueues", &ListQueues},
      {"DeleteQueue", &DeleteQueue},
      {"GetQueueAttributes", &GetQueueAttributes},
      {"SetQueueAttributes", &SetQueueAttributes},
      {"PurgeQueue", &PurgeQueue},
      {"ListDeadLetterSourceQueues", &ListDeadLetterSourceQueues},
      {"TagQueue", &TagQueue},
      {"UntagQueue", &UntagQueue},
      {"ListQueueTags", &ListQueueTags},
      {"AddPermission", &AddPermission},
      {"RemovePermission", &RemovePermission},
      {"StartMessageMoveTask", &StartMessageMoveTask},
      {"ListMessageMoveTasks", &ListMessageMoveTasks},
      {"CancelMessageMoveTask", &CancelMessageMoveTask},
      {"SendMessage", &SendMessage},
      {"SendMessageBatch", &SendMessageBatch},
      {"ReceiveMessage", &ReceiveMessage},
      {"DeleteMessage", &DeleteMessage},
      {"DeleteMessageBatch", &DeleteMessageBatch},
      {"ChangeMessageVisibility", &ChangeMessageVisibility},
      {"ChangeMessageVisibilityBatch", &ChangeMessageVisibilityBatch},
  };
  return kOps;
}

// The IAM action: batch calls are authorized as their single form.
std::string IamAction(std::string_view action) {
  std::string_view base = action;
  if (base.ends_with("Batch")) base.remove_suffix(5);
  return "sqs:" + std::string(base);
}

// The ARN a request acts on, for the policy check.
std::string ResourceArn(const queue::QueueEngine& engine, const Request& request) {
  const auto& o = engine.options();
  auto str = [&](const char* name) -> std::string {
    auto it = request.params.find(name);
    return it != request.params.end() && it->is_string() ? it->get<std::string>() : "";
  };
  if (std::string url = str("QueueUrl"); !url.empty()) {
    auto name = QueueNameFromUrl(url, o.account);
    return engine.QueueArnFor(name.ok() ? *name : "");
  }
  if (std::string name = str("QueueName"); !name.empty()) return engine.QueueArnFor(name);
  if (std::string arn = str("SourceArn"); !arn.empty()) return arn;
  if (std::string handle = str("TaskHandle"); !handle.empty()) {
    auto decoded = Base64Decode(handle);
    Json doc = decoded ? Json::parse(*decoded, nullptr, false) : Json();
    if (doc.is_object() && doc.contains("sourceArn") && doc["sourceArn"].is_string()) {
      return doc["sourceArn"].get<std::string>();
    }
  }
  return engine.QueueArnFor("*");
}

std::string BaseUrl(const http::RequestHead& head) {
  std::string host(head.headers.Get("host").value_or("localhost"));
  return std::string(head.tls ? "https" : "http") + "://" + host;
}

}  // namespace

Operation FindOperation(std::string_view action) {
  auto it = Operations().find(action);
  return it == Operations().end() ? nullptr : it->second;
}

bool SqsService::RunsInline(const http::RequestHead& head) {
  auto target = head.headers.Get("x-amz-target");
  if (!target) return false;
  constexpr std::string_view kPrefix = "AmazonSQS.";
  if (!target->starts_with(kPrefix)) return false;
  const std::string_view action = target->substr(kPrefix.size());
  return action == "SendMessage" || action == "SendMessageBatch" || action == "ReceiveMessage" ||
         action == "DeleteMessage" || action == "DeleteMessageBatch";
}

SqsService::SqsService(queue::QueueEngine& engine, std::shared_ptr<Authenticator> authenticator)
    : engine_(engine), authenticator_(std::move(authenticator)) {}

http::Handler SqsService::AsHandler() {
  return [this](std::shared_ptr<http::Exchange> exchange) { Handle(std::move(exchange)); };
}

namespace {

// SQS has only the global condition keys (aws:SourceIp, aws:SecureTransport,
// aws:CurrentTime, ...), worked out only if a policy's condition asks.
auth::RequestContext GlobalConditionKeys(const http::RequestHead& head) {
  auth::RequestContext context;
  context.SetGlobals({head.remote_address, head.tls, SystemClock::Instance().NowMillis(),
                      head.headers.Get("User-Agent"), head.headers.Get("Referer")});
  return context;
}

// The actions that read or change a queue's policy: the account's root key
// may always perform them, whatever the policy says, so that a policy that
// shuts everyone out can be undone (S3 has the same rule for bucket policies).
bool ManagesPolicy(std::string_view action) {
  return action == "sqs:GetQueueAttributes" || action == "sqs:SetQueueAttributes" ||
         action == "sqs:AddPermission" || action == "sqs:RemovePermission";
}

// The queue an SQS ARN names ("arn:aws:sqs:<region>:<account>:<queue>").
std::string_view ArnQueue(std::string_view arn) {
  const size_t colon = arn.rfind(':');
  return colon == std::string_view::npos ? std::string_view() : arn.substr(colon + 1);
}

}  // namespace

std::shared_ptr<const auth::Policy> SqsService::PolicyFor(std::string_view resource,
                                                          std::string_view action,
                                                          const auth::PrincipalIdentity* caller) {
  if (caller != nullptr && caller->root() && ManagesPolicy(action)) return nullptr;
  const std::string_view queue = ArnQueue(resource);
  std::shared_ptr<const std::string> text = engine_.PolicyOf(queue);
  if (!text) return nullptr;
  return policies_->For(queue, std::move(text));
}

void SqsService::Handle(std::shared_ptr<http::Exchange> exchange) {
  const http::RequestHead& head = exchange->head();
  const std::string request_id = queue::NewMessageId();
  const Protocol protocol = ProtocolOf(head);
  auto fail = [&](const Status& error) {
    exchange->Respond(RenderError(protocol, error, request_id));
  };

  auto body = http::ReadWholeBody(*exchange, kMaxRequestBody);
  if (!body.ok()) {
    if (body.status().code() == Code::kTooLarge) {
      return fail(Status(Code::kTooLarge, "The request body is too large.")
                      .WithDetail("RequestEntityTooLarge"));
    }
    return;  // the client went away or stalled: nobody to answer
  }
  auto caller = authenticator_->Authenticate(head, *body);
  if (!caller.ok()) return fail(caller.status());
  auto request = ParseRequest(head, *body);
  if (!request.ok()) return fail(request.status());
  Operation op = FindOperation(request->action);
  // A queue's URL is no endpoint for the actions that name no queue (AWS,
  // validated against it: a query CreateQueue or ListQueues sent to a queue
  // URL is InvalidAction).
  const bool to_a_queue_url = protocol == Protocol::kQuery && head.path.size() > 1;
  if (!op ||
      (to_a_queue_url && (request->action == "CreateQueue" || request->action == "ListQueues"))) {
    return fail(
        InvalidArgument("The action " + request->action + " is not valid for this endpoint.")
            .WithDetail("InvalidAction"));
  }
  const std::string resource = ResourceArn(engine_, *request);
  const std::string action = IamAction(request->action);
  auth::RequestContext context = GlobalConditionKeys(head);
  if (auto principal = authenticator_->Principal(*caller, engine_.options().account)) {
    context.SetPrincipal(std::move(*principal));
  }
  const std::shared_ptr<const auth::Policy> queue_policy =
      PolicyFor(resource, action, context.principal());
  if (!authenticator_->Allowed(*caller, action, resource, context, queue_policy.get())) {
    return fail(Status(Code::kAccessDenied, "Access to the resource " + resource + " is denied.")
                    .WithDetail("AccessDenied"));
  }

  // The request outlives this call when a long poll parks it in the engine.
  auto shared_request = std::make_shared<Request>(std::move(*request));
  Context ctx{engine_,       *shared_request,           *caller,
              BaseUrl(head), engine_.options().account, exchange};
  op(ctx, Reply([exchange, shared_request, request_id](Result<Output> result) mutable {
       if (!result.ok() && (result.status().code() == Code::kIoError ||
                            result.status().code() == Code::kInternal)) {
         spdlog::warn("sqs {}: {}", shared_request->action, result.status().ToString());
       }
       // Often called on the database writer: the reply is rendered, and the
       // request, the results and the exchange are freed, on the I/O thread.
       http::Exchange& target = *exchange;
       target.RespondWith([exchange = std::move(exchange), request = std::move(shared_request),
                           request_id, result = std::move(result)] {
         if (!result.ok()) return RenderError(request->protocol, result.status(), request_id);
         return RenderResult(request->protocol, request->action, *result, request_id);
       });
     }));
}

void Reply::operator()(Result<Json> result) const {
  if (!result.ok()) return done_(result.status());
  done_(Output([json = std::move(*result)](ResultWriter& writer) { writer.Value(json); }));
}

}  // namespace imgbatch::sqs
