// The two SQS wire protocols, reduced to one shape: a request is an action
// name plus a JSON object of parameters in AWS JSON 1.0 form (the query
// protocol's flattened "Attribute.1.Name" parameters are folded into the same
// maps and lists); a reply is a JSON result object, written back as JSON or
// as the query protocol's XML. Errors get each protocol's own shape.
// Pure functions; thread-safe.
// Reference: AWS SQS Developer Guide, "Amazon SQS query API requests" and
// "Amazon SQS AWS JSON protocol".
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "common/status.h"
#include "http/exchange.h"

namespace imgbatch::sqs {

// Results keep their members in insertion order (XML element order matters).
using Json = nlohmann::ordered_json;

enum class Protocol { kQuery, kJson };

struct Request {
  Protocol protocol = Protocol::kQuery;
  std::string action;  // "SendMessage"
  Json params = Json::object();
};

inline constexpr std::string_view kXmlNamespace = "http://queue.amazonaws.com/doc/2012-11-05/";
inline constexpr std::string_view kJsonContentType = "application/x-amz-json-1.0";
// Largest request body accepted: a 1 MiB message (or batch) percent-encoded can
// triple, plus room for the other parameters. Messages over MaximumMessageSize are
// refused by the operation with AWS's error, not here.
inline constexpr size_t kMaxRequestBody = 4 * 1024 * 1024;

// X-Amz-Target present -> JSON, else query.
Protocol ProtocolOf(const http::RequestHead& head);

// Parses the action and parameters. Errors: kInvalidArgument with detail
// "MissingAction" / "InvalidAction" / "SerializationException" style codes
// (see errors table in protocol.cc).
Result<Request> ParseRequest(const http::RequestHead& head, std::string_view body);

// Folds query-protocol parameters ("Attribute.1.Name=x") into the JSON form
// ({"Attributes": {...}}). Exposed for tests and the fuzzer.
Json QueryParamsToJson(const std::vector<std::pair<std::string, std::string>>& params);

// An operation's result, told as a sequence of members and values; each
// protocol writes it its own way: the JSON protocol straight into the reply
// body (rapidjson's Writer, no DOM), the query protocol into a Json for
// ResultToXml. So an operation describes its result once for both. Used on
// one thread at a time.
class ResultWriter {
 public:
  virtual ~ResultWriter() = default;
  virtual void StartObject() = 0;
  virtual void EndObject() = 0;
  virtual void StartArray() = 0;
  virtual void EndArray() = 0;
  virtual void Key(std::string_view key) = 0;
  virtual void String(std::string_view value) = 0;
  virtual void Bool(bool value) = 0;
  // A value an operation built as a Json (the queue operations).
  virtual void Value(const Json& value) = 0;

  void Member(std::string_view key, std::string_view value) {
    Key(key);
    String(value);
  }
};

// What an operation answers: writes its whole result (one value, usually an
// object) when the reply is rendered, on the connection's I/O thread.
using Output = std::function<void(ResultWriter&)>;

// A successful reply in the request's protocol.
http::Response RenderResult(Protocol protocol, std::string_view action, const Output& result,
                            std::string_view request_id);
http::Response RenderResult(Protocol protocol, std::string_view action, const Json& result,
                            std::string_view request_id);
// The XML body of a query-protocol reply (exposed for tests).
std::string ResultToXml(std::string_view action, const Json& result, std::string_view request_id);

// An error reply: status, code and message from the Status (detail = AWS code).
http::Response RenderError(Protocol protocol, const Status& error, std::string_view request_id);

// The query-protocol code, JSON type name and HTTP status for an error.
struct WireError {
  std::string query_code;  // "AWS.SimpleQueueService.NonExistentQueue"
  std::string json_type;   // "QueueDoesNotExist" (com.amazonaws.sqs#), or a whole "ns#Name"
  int http_status = 400;
  bool sender_fault = true;
};
WireError WireErrorFor(const Status& error);

}  // namespace imgbatch::sqs
