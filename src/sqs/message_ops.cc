// Message operations: send, receive (long polls complete later), delete and
// change visibility, with their batch forms.
#include <algorithm>
#include <cctype>
#include <set>

#include "common/hashing.h"
#include "common/strings.h"
#include "sqs/ops.h"

namespace imgbatch::sqs {
namespace {

// Sum of a SendMessageBatch's messages: the largest single message, 1 MiB.
constexpr size_t kMaxBatchPayload = queue::kMaxMaximumMessageSize;
constexpr size_t kMaxBatchIdLength = 80;

Result<queue::MessageAttributes> ParseMessageAttributes(const Json& params,
                                                        std::string_view member) {
  queue::MessageAttributes out;
  auto it = params.find(member);
  if (it == params.end() || it->is_null()) return out;
  if (!it->is_object()) return InvalidParameterValue(std::string(member) + " must be a map.");
  for (const auto& [name, value] : it->items()) {
    if (!value.is_object()) {
      return InvalidParameterValue("The message attribute '" + name + "' is malformed.");
    }
    IMGBATCH_ASSIGN_OR_RETURN(auto type, OptionalString(value, "DataType"));
    if (!type || type->empty()) {
      return InvalidParameterValue("The message attribute '" + name +
                                   "' must contain non-empty message attribute type.");
    }
    queue::MessageAttribute attribute{*type, ""};
    if (attribute.IsBinary()) {
      IMGBATCH_ASSIGN_OR_RETURN(auto encoded, OptionalString(value, "BinaryValue"));
      auto bytes = encoded ? Base64Decode(*encoded) : std::nullopt;
      if (!bytes || bytes->empty()) {
        return InvalidParameterValue("The message attribute '" + name +
                                     "' with type 'Binary' must use field 'BinaryValue'.");
      }
      attribute.value = std::move(*bytes);
    } else {
      IMGBATCH_ASSIGN_OR_RETURN(auto text, OptionalString(value, "StringValue"));
      if (!text) {
        return InvalidParameterValue("The message attribute '" + name + "' with type '" +
                                     type->substr(0, 6) + "' must use field 'StringValue'.");
      }
      if (text->empty()) {  // AWS's words (recorded)
        return InvalidParameterValue("Message (user) attribute '" + name +
                                     "' must contain a non-empty value of type '" +
                                     type->substr(0, 6) + "'.");
      }
      attribute.value = std::move(*text);
    }
    out[name] = std::move(attribute);
  }
  return out;
}

// The AWSTraceHeader system attribute, the only one a sender may set.
Result<std::string> ParseTraceHeader(const Json& params) {
  IMGBATCH_ASSIGN_OR_RETURN(auto system, ParseMessageAttributes(params, "MessageSystemAttributes"));
  std::string trace;
  for (const auto& [name, attribute] : system) {
    if (name != "AWSTraceHeader" || attribute.data_type != "String") {
      return InvalidParameterValue("Message system attribute name '" + name + "' is invalid.");
    }
    trace = attribute.value;
  }
  return trace;
}

// The X-Ray trace header of the request (X-Amzn-Trace-Id), which AWS keeps
// as the message's AWSTraceHeader when the sender set none itself
// (recorded). It is not the sender's system attribute: no
// MD5OfMessageSystemAttributes covers it.
std::string XRayTraceHeader(const Context& ctx) {
  if (!ctx.exchange) return "";
  auto header = ctx.exchange->head().headers.Get("x-amzn-trace-id");
  return header ? std::string(*header) : std::string();
}

// An id parameter that, when given, is not empty ("" when absent).
Result<std::string> NonEmptyId(const Json& entry, std::string_view name) {
  IMGBATCH_ASSIGN_OR_RETURN(auto id, OptionalString(entry, name));
  if (id && id->empty()) return queue::InvalidIdText(name, "");
  return id.value_or("");
}

Result<queue::SendRequest> ParseSend(const Context& ctx, const Json& entry) {
  queue::SendRequest r;
  IMGBATCH_ASSIGN_OR_RETURN(r.body, RequiredString(entry, "MessageBody"));
  IMGBATCH_ASSIGN_OR_RETURN(auto delay, OptionalInt(entry, "DelaySeconds"));
  if (delay) {
    if (*delay < 0 || *delay > queue::kMaxDelaySeconds) {
      return InvalidParameterValue("Value " + std::to_string(*delay) +
                                   " for parameter DelaySeconds is invalid. Reason: DelaySeconds "
                                   "must be >= 0 and <= 900.");
    }
    r.delay_seconds = static_cast<int>(*delay);
  }
  IMGBATCH_ASSIGN_OR_RETURN(r.attributes, ParseMessageAttributes(entry, "MessageAttributes"));
  IMGBATCH_ASSIGN_OR_RETURN(r.trace_header, ParseTraceHeader(entry));
  // FIFO queues need a MessageGroupId and may take a MessageDeduplicationId;
  // a standard queue takes a MessageGroupId too (fair queues: the message's
  // tenant). The engine checks them against the queue's type.
  IMGBATCH_ASSIGN_OR_RETURN(r.group_id, NonEmptyId(entry, "MessageGroupId"));
  IMGBATCH_ASSIGN_OR_RETURN(r.dedup_id, NonEmptyId(entry, "MessageDeduplicationId"));
  r.sender_id = ctx.caller.access_key_id;
  return r;
}

// ---- results ------------------------------------------------------------
// Written through a ResultWriter when the reply is rendered, on the
// connection's I/O thread; the engine's completions (on the database writer)
// only hand their results over.

// A sent message's members. `trace_header` is the AWSTraceHeader the sender
// set ("" for none): its MD5 is computed like the user attributes' and SDKs
// may verify it.
void WriteSendResult(ResultWriter& w, const queue::SendResult& sent,
                     const std::string& trace_header) {
  w.Member("MD5OfMessageBody", sent.md5_of_body);
  if (!sent.md5_of_attributes.empty()) {
    w.Member("MD5OfMessageAttributes", sent.md5_of_attributes);
  }
  if (!trace_header.empty()) {
    w.Member("MD5OfMessageSystemAttributes",
             queue::Md5OfAttributes({{"AWSTraceHeader", {"String", trace_header}}}));
  }
  w.Member("MessageId", sent.message_id);
  if (!sent.sequence_number.empty()) w.Member("SequenceNumber", sent.sequence_number);
}

// A batch entry that failed alone (the request as a whole succeeded).
struct FailedEntry {
  std::string id;
  Status error;
};

// A SendMessageBatch entry that was sent.
struct SentEntry {
  std::string id;
  queue::SendResult sent;
  std::string trace_header;
};

void WriteEntry(ResultWriter& w, const std::string& id) { w.Member("Id", id); }

void WriteEntry(ResultWriter& w, const SentEntry& entry) {
  w.Member("Id", entry.id);
  WriteSendResult(w, entry.sent, entry.trace_header);
}

void WriteEntry(ResultWriter& w, const FailedEntry& entry) {
  const WireError wire = WireErrorFor(entry.error);
  w.Member("Id", entry.id);
  w.Key("SenderFault");
  w.Bool(wire.sender_fault);
  w.Member("Code", wire.query_code);
  w.Member("Message", entry.error.message());
}

template <class Entry>
void WriteEntries(ResultWriter& w, std::string_view key, const std::vector<Entry>& entries) {
  w.Key(key);
  w.StartArray();
  for (const Entry& entry : entries) {
    w.StartObject();
    WriteEntry(w, entry);
    w.EndObject();
  }
  w.EndArray();
}

// What every batch operation answers. Successful entries are the batch's
// ids (delete, change visibility) or SentEntry (send).
template <class Successful>
Output BatchResult(std::vector<Successful> successful, std::vector<FailedEntry> failed) {
  return [successful = std::move(successful), failed = std::move(failed)](ResultWriter& w) {
    w.StartObject();
    WriteEntries(w, "Successful", successful);
    WriteEntries(w, "Failed", failed);
    w.EndObject();
  };
}

Output EmptyResult() {
  return [](ResultWriter& w) {
    w.StartObject();
    w.EndObject();
  };
}

bool ValidBatchId(std::string_view id) {
  if (id.empty() || id.size() > kMaxBatchIdLength) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
  });
}

// Checks a batch's Entries as SQS does, before any entry is looked at:
// empty, too many, malformed or repeated ids fail the whole request.
Result<std::vector<std::pair<std::string, const Json*>>> BatchEntries(const Context& ctx,
                                                                      std::string_view entry_name) {
  auto it = ctx.params().find("Entries");
  if (it == ctx.params().end() || !it->is_array() || it->empty()) {
    return InvalidArgument("There should be at least one " + std::string(entry_name) +
                           " in the request.")
        .WithDetail("EmptyBatchRequest");
  }
  if (it->size() > static_cast<size_t>(queue::kMaxBatchEntries)) {
    return InvalidArgument("Maximum number of entries per request are 10. You have sent " +
                           std::to_string(it->size()) + ".")
        .WithDetail("TooManyEntriesInBatchRequest");
  }
  std::vector<std::pair<std::string, const Json*>> entries;
  entries.reserve(it->size());
  for (const Json& entry : *it) {
    if (!entry.is_object()) return InvalidParameterValue("Batch entries must be objects.");
    IMGBATCH_ASSIGN_OR_RETURN(std::string id, RequiredString(entry, "Id"));
    if (!ValidBatchId(id)) {
      return InvalidArgument(
                 "A batch entry id can only contain alphanumeric characters, "
                 "hyphens and underscores. It can be at most 80 letters long.")
          .WithDetail("InvalidBatchEntryId");
    }
    // At most ten entries: a linear look, not a set's node per id.
    for (const auto& [earlier, unused] : entries) {
      if (earlier == id) {
        return InvalidArgument("Id " + id + " repeated.").WithDetail("BatchEntryIdsNotDistinct");
      }
    }
    entries.emplace_back(std::move(id), &entry);
  }
  return entries;
}

// Which system attributes a receiver asked for (AttributeNames is the older
// spelling of MessageSystemAttributeNames; both count).
std::set<std::string> WantedSystemAttributes(const Json& params) {
  std::set<std::string> wanted;
  for (const char* member : {"AttributeNames", "MessageSystemAttributeNames"}) {
    auto list = StringList(params, member);
    if (list.ok()) wanted.insert(list->begin(), list->end());
  }
  return wanted;
}

// "All", ".*" and "*" want every attribute; "prefix.*" those whose names
// start with the prefix, the dot not included ("Hel.*" gives Hello and
// Help.Me): AWS's answers, recorded.
bool WantsAttribute(const std::vector<std::string>& wanted, const std::string& name) {
  for (const auto& w : wanted) {
    if (w == "All" || w == ".*" || w == "*" || w == name) return true;
    if (w.size() > 2 && w.ends_with(".*") && name.starts_with(w.substr(0, w.size() - 2))) {
      return true;
    }
  }
  return false;
}

// The system attributes asked for ("Attributes"), when there are any.
void WriteSystemAttributes(ResultWriter& w, const queue::ReceivedMessage& m,
                           const std::set<std::string>& wanted) {
  const bool all = wanted.count("All") > 0;
  auto want = [&](const char* name) { return all || wanted.count(name) > 0; };
  std::vector<std::pair<std::string_view, std::string>> attributes;
  if (want("SenderId")) attributes.emplace_back("SenderId", m.sender_id);
  if (want("SentTimestamp")) attributes.emplace_back("SentTimestamp", std::to_string(m.sent_ms));
  if (want("ApproximateReceiveCount")) {
    attributes.emplace_back("ApproximateReceiveCount", std::to_string(m.receive_count));
  }
  if (want("ApproximateFirstReceiveTimestamp")) {
    attributes.emplace_back("ApproximateFirstReceiveTimestamp", std::to_string(m.first_receive_ms));
  }
  if (want("AWSTraceHeader") && !m.trace_header.empty()) {
    attributes.emplace_back("AWSTraceHeader", m.trace_header);
  }
  if (want("MessageGroupId") && !m.group_id.empty()) {
    attributes.emplace_back("MessageGroupId", m.group_id);
  }
  if (want("MessageDeduplicationId") && !m.dedup_id.empty()) {
    attributes.emplace_back("MessageDeduplicationId", m.dedup_id);
  }
  if (want("SequenceNumber") && !m.sequence_number.empty()) {
    attributes.emplace_back("SequenceNumber", m.sequence_number);
  }
  if (want("DeadLetterQueueSourceArn") && !m.dead_letter_source_arn.empty()) {
    attributes.emplace_back("DeadLetterQueueSourceArn", m.dead_letter_source_arn);
  }
  if (attributes.empty()) return;
  w.Key("Attributes");
  w.StartObject();
  for (const auto& [name, value] : attributes) w.Member(name, value);
  w.EndObject();
}

// The user attributes asked for, with their MD5 — which covers exactly the
// attributes returned, as SDKs check it.
void WriteMessageAttributes(ResultWriter& w, const queue::ReceivedMessage& m,
                            const std::vector<std::string>& wanted) {
  queue::MessageAttributes returned;
  for (const auto& [name, attribute] : m.attributes) {
    if (WantsAttribute(wanted, name)) returned[name] = attribute;
  }
  if (returned.empty()) return;
  w.Member("MD5OfMessageAttributes", queue::Md5OfAttributes(returned));
  w.Key("MessageAttributes");
  w.StartObject();
  for (const auto& [name, attribute] : returned) {
    w.Key(name);
    w.StartObject();
    if (attribute.IsBinary()) {
      w.Member("BinaryValue", Base64Encode(attribute.value));
    } else {
      w.Member("StringValue", attribute.value);
    }
    w.Member("DataType", attribute.data_type);
    w.EndObject();
  }
  w.EndObject();
}

void WriteMessage(ResultWriter& w, const queue::ReceivedMessage& m,
                  const std::set<std::string>& system, const std::vector<std::string>& user) {
  w.StartObject();
  w.Member("MessageId", m.message_id);
  w.Member("ReceiptHandle", m.receipt_handle);
  w.Member("MD5OfBody", m.md5_of_body);
  w.Member("Body", m.body);
  WriteSystemAttributes(w, m, system);
  WriteMessageAttributes(w, m, user);
  w.EndObject();
}

Result<std::optional<int>> BoundedInt(const Json& params, std::string_view name, int64_t min,
                                      int64_t max, std::string_view reason) {
  IMGBATCH_ASSIGN_OR_RETURN(auto v, OptionalInt(params, name));
  if (!v) return std::optional<int>();
  if (*v < min || *v > max) {
    return InvalidParameterValue("Value " + std::to_string(*v) + " for parameter " +
                                 std::string(name) + " is invalid. Reason: " + std::string(reason));
  }
  return std::optional<int>(static_cast<int>(*v));
}

// A FIFO queue's SendMessageBatch is refused whole, not entry by entry,
// when an entry lacks its MessageGroupId, or its MessageDeduplicationId on
// a queue without content-based deduplication: AWS's answers, recorded
// against it (docs/compat.md). (A lone SendMessage lacking its group is
// MissingParameter there, as the engine says.) Only a FIFO queue's name
// ends in .fifo (CreateQueue holds to that both ways), so a standard queue's
// batch, the hot path, is told by its name without a lookup.
Status FifoBatchRules(Context& ctx, std::string_view queue,
                      const std::vector<queue::SendRequest>& requests) {
  if (!queue.ends_with(queue::kFifoSuffix)) return Status::Ok();
  const bool without_group = std::any_of(requests.begin(), requests.end(),
                                         [](const auto& r) { return r.group_id.empty(); });
  const bool without_dedup = std::any_of(requests.begin(), requests.end(),
                                         [](const auto& r) { return r.dedup_id.empty(); });
  if (!without_group && !without_dedup) return Status::Ok();
  auto info = ctx.engine.GetQueue(queue);
  if (!info.ok() || !info->fifo) return Status::Ok();  // the send answers a missing queue
  if (without_group) {
    return InvalidParameterValue("The request must contain the parameter MessageGroupId.");
  }
  if (info->content_based_deduplication) return Status::Ok();
  return InvalidParameterValue(
      "The queue should either have ContentBasedDeduplication enabled or "
      "MessageDeduplicationId provided explicitly");
}

}  // namespace

void SendMessage(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto request = ParseSend(ctx, ctx.params());
  if (!request.ok()) return reply(request.status());
  std::string trace_header = request->trace_header;
  if (request->trace_header.empty()) request->trace_header = XRayTraceHeader(ctx);
  std::vector<queue::SendRequest> one;
  one.push_back(std::move(*request));
  ctx.engine.SendBatchAsync(
      *name, std::move(one),
      [reply = std::move(reply), trace_header = std::move(trace_header)](
          Result<std::vector<Result<queue::SendResult>>> sent) {
        if (!sent.ok()) return reply(sent.status());
        Result<queue::SendResult>& one_sent = sent->front();
        if (!one_sent.ok()) return reply(one_sent.status());
        reply(Output([one_sent = std::move(*one_sent), trace_header](ResultWriter& w) {
          w.StartObject();
          WriteSendResult(w, one_sent, trace_header);
          w.EndObject();
        }));
      });
}

void SendMessageBatch(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto entries = BatchEntries(ctx, "SendMessageBatchRequestEntry");
  if (!entries.ok()) return reply(entries.status());
  // Outcomes in request order: adapter-level failures and engine results.
  std::vector<Result<queue::SendResult>> outcomes;
  std::vector<size_t> engine_index;  // outcome slot of each engine request
  std::vector<queue::SendRequest> requests;
  std::vector<std::string> trace_headers;  // per outcome slot
  size_t payload = 0;
  for (const auto& [id, entry] : *entries) {
    auto r = ParseSend(ctx, *entry);
    trace_headers.push_back(r.ok() ? r->trace_header : "");
    if (!r.ok()) {
      outcomes.emplace_back(r.status());
      continue;
    }
    if (r->trace_header.empty()) r->trace_header = XRayTraceHeader(ctx);
    payload += queue::MessageSize(r->body, r->attributes);
    engine_index.push_back(outcomes.size());
    outcomes.emplace_back(Status(Code::kInternal, "not sent"));
    requests.push_back(std::move(*r));
  }
  if (payload > kMaxBatchPayload) {
    return reply(InvalidArgument("Batch requests cannot be longer than " +
                                 std::to_string(kMaxBatchPayload) + " bytes. You have sent " +
                                 std::to_string(payload) + " bytes.")
                     .WithDetail("BatchRequestTooLong"));
  }
  if (Status fifo_rules = FifoBatchRules(ctx, *name, requests); !fifo_rules.ok()) {
    return reply(std::move(fifo_rules));
  }
  std::vector<std::string> ids;
  for (auto& [id, entry] : *entries) ids.push_back(std::move(id));
  auto render = [reply = std::move(reply), ids = std::move(ids), outcomes = std::move(outcomes),
                 engine_index = std::move(engine_index), trace_headers = std::move(trace_headers)](
                    Result<std::vector<Result<queue::SendResult>>> sent) mutable {
    if (!sent.ok()) return reply(sent.status());
    for (size_t i = 0; i < sent->size(); ++i) outcomes[engine_index[i]] = std::move((*sent)[i]);
    std::vector<SentEntry> successful;
    successful.reserve(outcomes.size());
    std::vector<FailedEntry> failed;
    for (size_t i = 0; i < outcomes.size(); ++i) {
      if (outcomes[i].ok()) {
        successful.push_back(
            {std::move(ids[i]), std::move(*outcomes[i]), std::move(trace_headers[i])});
      } else {
        failed.push_back({std::move(ids[i]), outcomes[i].status()});
      }
    }
    reply(BatchResult(std::move(successful), std::move(failed)));
  };
  if (requests.empty()) return render(std::vector<Result<queue::SendResult>>{});
  ctx.engine.SendBatchAsync(*name, std::move(requests), std::move(render));
}

void ReceiveMessage(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto max = BoundedInt(ctx.params(), "MaxNumberOfMessages", 1, queue::kMaxReceiveMessages,
                        "Must be between 1 and 10, if provided.");
  if (!max.ok()) return reply(max.status());
  auto visibility = BoundedInt(ctx.params(), "VisibilityTimeout", 0, queue::kMaxVisibilityTimeout,
                               "Must be between 0 and 43200, if provided.");
  if (!visibility.ok()) return reply(visibility.status());
  auto wait = BoundedInt(ctx.params(), "WaitTimeSeconds", 0, queue::kMaxWaitSeconds,
                         "Must be >= 0 and <= 20, if provided.");
  if (!wait.ok()) return reply(wait.status());
  auto user = StringList(ctx.params(), "MessageAttributeNames");
  if (!user.ok()) return reply(user.status());

  auto attempt = NonEmptyId(ctx.params(), "ReceiveRequestAttemptId");
  if (!attempt.ok()) return reply(attempt.status());

  queue::ReceiveOptions options;
  options.max_messages = max->value_or(1);
  options.visibility_timeout = *visibility;
  options.wait_seconds = *wait;
  if (!attempt->empty()) {
    Status valid = queue::ValidateIdText("ReceiveRequestAttemptId", *attempt);
    if (!valid.ok()) return reply(valid);
    options.attempt_id = std::move(*attempt);
  }
  std::weak_ptr<http::Exchange> exchange = ctx.exchange;
  options.abandoned = [exchange] {
    auto ex = exchange.lock();
    return !ex || ex->ClientGone();
  };
  // The messages are finished (receipt handles, MD5s) on the connection's
  // I/O thread, not on the database writer that completes the commit.
  options.complete_on = [exchange](std::function<void()> finish) {
    if (auto ex = exchange.lock()) return ex->RunOnIoThread(std::move(finish));
    finish();
  };
  std::set<std::string> system = WantedSystemAttributes(ctx.params());
  ctx.engine.Receive(*name, std::move(options),
                     [reply = std::move(reply), system = std::move(system),
                      user = std::move(*user)](Result<std::vector<queue::ReceivedMessage>> got) {
                       if (!got.ok()) return reply(got.status());
                       reply(Output([messages = std::move(*got), system = std::move(system),
                                     user = std::move(user)](ResultWriter& w) {
                         w.StartObject();
                         if (!messages.empty()) {
                           w.Key("Messages");
                           w.StartArray();
                           for (const auto& m : messages) WriteMessage(w, m, system, user);
                           w.EndArray();
                         }
                         w.EndObject();
                       }));
                     });
}

void DeleteMessage(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto handle = RequiredString(ctx.params(), "ReceiptHandle");
  if (!handle.ok()) return reply(handle.status());
  ctx.engine.DeleteBatchAsync(*name, {std::move(*handle)},
                              [reply = std::move(reply)](Result<std::vector<Status>> results) {
                                if (!results.ok()) return reply(results.status());
                                if (!results->front().ok()) return reply(results->front());
                                reply(EmptyResult());
                              });
}

void DeleteMessageBatch(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto entries = BatchEntries(ctx, "DeleteMessageBatchRequestEntry");
  if (!entries.ok()) return reply(entries.status());
  std::vector<FailedEntry> failed;
  std::vector<std::string> ids, handles;
  for (const auto& [id, entry] : *entries) {
    auto handle = RequiredString(*entry, "ReceiptHandle");
    if (!handle.ok()) {
      failed.push_back({id, handle.status()});
      continue;
    }
    ids.push_back(id);
    handles.push_back(std::move(*handle));
  }
  auto render = [reply = std::move(reply), ids = std::move(ids),
                 failed = std::move(failed)](Result<std::vector<Status>> results) mutable {
    if (!results.ok()) return reply(results.status());
    std::vector<std::string> successful;
    successful.reserve(results->size());
    for (size_t i = 0; i < results->size(); ++i) {
      if ((*results)[i].ok()) {
        successful.push_back(std::move(ids[i]));
      } else {
        failed.push_back({std::move(ids[i]), std::move((*results)[i])});
      }
    }
    reply(BatchResult(std::move(successful), std::move(failed)));
  };
  if (handles.empty()) return render(std::vector<Status>{});
  ctx.engine.DeleteBatchAsync(*name, std::move(handles), std::move(render));
}

void ChangeMessageVisibility(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto handle = RequiredString(ctx.params(), "ReceiptHandle");
  if (!handle.ok()) return reply(handle.status());
  auto timeout = OptionalInt(ctx.params(), "VisibilityTimeout");
  if (!timeout.ok()) return reply(timeout.status());
  if (!*timeout) return reply(MissingParameter("VisibilityTimeout"));
  if (**timeout < 0 || **timeout > queue::kMaxVisibilityTimeout) {
    return reply(InvalidParameterValue("Value " + std::to_string(**timeout) +
                                       " for parameter VisibilityTimeout is invalid. Reason: "
                                       "Must be between 0 and 43200."));
  }
  Status st = ctx.engine.ChangeVisibility(*name, *handle, static_cast<int>(**timeout));
  if (!st.ok()) return reply(st);
  reply(EmptyResult());
}

void ChangeMessageVisibilityBatch(Context& ctx, Reply reply) {
  auto name = QueueNameParam(ctx);
  if (!name.ok()) return reply(name.status());
  auto entries = BatchEntries(ctx, "ChangeMessageVisibilityBatchRequestEntry");
  if (!entries.ok()) return reply(entries.status());
  std::vector<FailedEntry> failed;
  std::vector<std::string> ids;
  std::vector<queue::QueueEngine::VisibilityChange> changes;
  for (const auto& [id, entry] : *entries) {
    auto handle = RequiredString(*entry, "ReceiptHandle");
    if (!handle.ok()) {
      failed.push_back({id, handle.status()});
      continue;
    }
    auto timeout = OptionalInt(*entry, "VisibilityTimeout");
    if (!timeout.ok() || !*timeout) {
      failed.push_back(
          {id, timeout.ok() ? MissingParameter("VisibilityTimeout") : timeout.status()});
      continue;
    }
    const int64_t clamped = std::clamp<int64_t>(**timeout, -1, queue::kMaxVisibilityTimeout + 1);
    ids.push_back(id);
    changes.push_back({std::move(*handle), static_cast<int>(clamped)});
  }
  std::vector<std::string> successful;
  if (!changes.empty()) {
    auto results = ctx.engine.ChangeVisibilityBatch(*name, changes);
    if (!results.ok()) return reply(results.status());
    for (size_t i = 0; i < results->size(); ++i) {
      if ((*results)[i].ok()) {
        successful.push_back(std::move(ids[i]));
      } else {
        failed.push_back({std::move(ids[i]), std::move((*results)[i])});
      }
    }
  }
  reply(BatchResult(std::move(successful), std::move(failed)));
}

}  // namespace imgbatch::sqs
