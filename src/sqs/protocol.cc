#include "sqs/protocol.h"

// rapidjson copies string runs that need no escaping 16 bytes at a time when
// told the CPU has SSE2 (every x86-64 does); otherwise byte by byte.
#if defined(__SSE2__) && !defined(RAPIDJSON_SSE2)
#define RAPIDJSON_SSE2
#endif
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>
#include <simdjson.h>
#include <pugixml.hpp>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <map>
#include <set>

#include "common/strings.h"
#include "sqs/json_shapes.h"

namespace imgbatch::sqs {
namespace {

// ---- query parameters -> JSON ---------------------------------------------

// How a flattened query name maps to the JSON member (from the query-era
// service model's locationName / flattened traits).
enum class Kind { kScalarList, kStructList, kMap };
struct FlatRule {
  std::string_view flat;
  std::string_view json;
  Kind kind;
  std::string_view key_field;  // maps: the member naming the key
};
constexpr std::array<FlatRule, 15> kFlatRules = {{
    {"AttributeName", "AttributeNames", Kind::kScalarList, ""},
    {"AWSAccountId", "AWSAccountIds", Kind::kScalarList, ""},
    {"ActionName", "Actions", Kind::kScalarList, ""},
    {"MessageAttributeName", "MessageAttributeNames", Kind::kScalarList, ""},
    {"MessageSystemAttributeName", "MessageSystemAttributeNames", Kind::kScalarList, ""},
    {"TagKey", "TagKeys", Kind::kScalarList, ""},
    {"StringListValue", "StringListValues", Kind::kScalarList, ""},
    {"BinaryListValue", "BinaryListValues", Kind::kScalarList, ""},
    {"SendMessageBatchRequestEntry", "Entries", Kind::kStructList, ""},
    {"DeleteMessageBatchRequestEntry", "Entries", Kind::kStructList, ""},
    {"ChangeMessageVisibilityBatchRequestEntry", "Entries", Kind::kStructList, ""},
    {"Attribute", "Attributes", Kind::kMap, "Name"},
    {"Tag", "Tags", Kind::kMap, "Key"},
    {"MessageAttribute", "MessageAttributes", Kind::kMap, "Name"},
    {"MessageSystemAttribute", "MessageSystemAttributes", Kind::kMap, "Name"},
}};

const FlatRule* FindRule(std::string_view name) {
  for (const auto& rule : kFlatRules) {
    if (rule.flat == name) return &rule;
  }
  return nullptr;
}

struct FlatEntry {
  std::vector<std::string> path;
  std::string value;
};

Json Fold(const std::vector<FlatEntry>& entries) {
  Json obj = Json::object();
  std::map<std::string, std::vector<FlatEntry>> nested;
  std::map<const FlatRule*, std::map<uint64_t, std::vector<FlatEntry>>> lists;
  for (const FlatEntry& e : entries) {
    if (e.path.empty()) continue;
    const std::string& head = e.path[0];
    const FlatRule* rule = FindRule(head);
    auto index = e.path.size() >= 2 ? ParseUint(e.path[1]) : std::nullopt;
    if (rule && index) {
      lists[rule][*index].push_back(
          FlatEntry{std::vector<std::string>(e.path.begin() + 2, e.path.end()), e.value});
    } else if (rule && rule->kind == Kind::kScalarList && e.path.size() == 1) {
      lists[rule][0].push_back(FlatEntry{{}, e.value});  // "AttributeName=All"
    } else if (e.path.size() == 1) {
      if (!obj.contains(head)) obj[head] = e.value;  // first value wins
    } else {
      nested[head].push_back(
          FlatEntry{std::vector<std::string>(e.path.begin() + 1, e.path.end()), e.value});
    }
  }
  for (auto& [name, items] : nested) {
    if (!obj.contains(name)) obj[name] = Fold(items);
  }
  for (auto& [rule, by_index] : lists) {
    Json out = rule->kind == Kind::kMap ? Json::object() : Json::array();
    for (auto& [index, items] : by_index) {
      if (rule->kind == Kind::kScalarList) {
        for (const auto& item : items) {
          if (item.path.empty()) out.push_back(item.value);
        }
      } else if (rule->kind == Kind::kStructList) {
        out.push_back(Fold(items));
      } else {
        Json member = Fold(items);
        auto key = member.find(std::string(rule->key_field));
        if (key == member.end() || !key->is_string()) continue;
        auto value = member.find("Value");
        out[key->get<std::string>()] = value == member.end() ? Json("") : *value;
      }
    }
    obj[std::string(rule->json)] = std::move(out);
  }
  return obj;
}

// ---- results as the operations tell them ----------------------------------

// Text nlohmann can serialize whatever its bytes: invalid UTF-8 sequences
// become U+FFFD, as the replies built as a Json always had them.
std::string WithInvalidUtf8Replaced(std::string_view text) {
  const std::string quoted =
      Json(std::string(text)).dump(-1, ' ', false, Json::error_handler_t::replace);
  Json back = Json::parse(quoted, nullptr, /*allow_exceptions=*/false);
  return back.is_string() ? back.get<std::string>() : std::string();
}

rapidjson::Type RapidjsonTypeOf(const Json& value) {
  if (value.is_object()) return rapidjson::kObjectType;
  if (value.is_array()) return rapidjson::kArrayType;
  if (value.is_string()) return rapidjson::kStringType;
  if (value.is_boolean()) return value.get<bool>() ? rapidjson::kTrueType : rapidjson::kFalseType;
  if (value.is_null()) return rapidjson::kNullType;
  return rapidjson::kNumberType;
}

// Nearly every string of a reply is ASCII (ids, receipt handles, MD5s,
// member names, most bodies): eight bytes at a time, without simdjson's
// per-call dispatch and vector set-up, which was a third of rendering a
// ReceiveMessage reply.
bool IsAscii(std::string_view text) {
  constexpr uint64_t kHighBits = 0x8080808080808080ull;
  size_t i = 0;
  uint64_t any = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t word;
    std::memcpy(&word, text.data() + i, sizeof word);
    any |= word;
  }
  for (; i < text.size(); ++i) any |= static_cast<unsigned char>(text[i]);
  return (any & kHighBits) == 0;
}

// The JSON protocol's reply body, written as the operation tells it (no
// DOM). rapidjson writes string bytes unchecked, so text that is not valid
// UTF-8 (rare: bytes a query-protocol sender put in an attribute) is first
// given nlohmann's replacement characters.
class JsonTextWriter final : public ResultWriter {
 public:
  JsonTextWriter() : buffer_(nullptr, kInitialCapacity), writer_(buffer_) {}

  void StartObject() override { writer_.StartObject(); }
  void EndObject() override { writer_.EndObject(); }
  void StartArray() override { writer_.StartArray(); }
  void EndArray() override { writer_.EndArray(); }
  // (rapidjson's Writer::Key is String: the writer knows where it stands.)
  void Key(std::string_view key) override { WriteString(key); }
  void String(std::string_view value) override { WriteString(value); }
  void Bool(bool value) override { writer_.Bool(value); }
  void Value(const Json& value) override {
    const std::string text = value.dump(-1, ' ', false, Json::error_handler_t::replace);
    writer_.RawValue(text.data(), text.size(), RapidjsonTypeOf(value));
  }

  std::string Text() const { return std::string(buffer_.GetString(), buffer_.GetSize()); }

 private:
  void WriteString(std::string_view text) {
    if (IsAscii(text) || simdjson::validate_utf8(text.data(), text.size())) {
      writer_.String(text.data(), static_cast<rapidjson::SizeType>(text.size()));
      return;
    }
    const std::string valid = WithInvalidUtf8Replaced(text);
    writer_.String(valid.data(), static_cast<rapidjson::SizeType>(valid.size()));
  }

  // A ReceiveMessage of ten small messages is about 3 KB.
  static constexpr size_t kInitialCapacity = 4096;
  rapidjson::StringBuffer buffer_;
  rapidjson::Writer<rapidjson::StringBuffer> writer_;
};

// The result as a Json, for the query protocol's XML (ResultToXml).
class JsonDomWriter final : public ResultWriter {
 public:
  void StartObject() override { open_.push_back(&Put(Json::object())); }
  void EndObject() override { open_.pop_back(); }
  void StartArray() override { open_.push_back(&Put(Json::array())); }
  void EndArray() override { open_.pop_back(); }
  void Key(std::string_view key) override { key_.assign(key); }
  void String(std::string_view value) override { Put(Json(std::string(value))); }
  void Bool(bool value) override { Put(Json(value)); }
  void Value(const Json& value) override { Put(value); }

  Json Take() { return std::move(root_); }

 private:
  // Adds v where the writer stands. Only the open containers are pointed
  // at, and a container changes only while it is the innermost one, so the
  // pointers stay valid.
  Json& Put(Json v) {
    if (open_.empty()) {
      root_ = std::move(v);
      return root_;
    }
    Json& parent = *open_.back();
    if (parent.is_array()) {
      parent.push_back(std::move(v));
      return parent.back();
    }
    Json& slot = parent[key_];
    slot = std::move(v);
    return slot;
  }

  Json root_;
  std::vector<Json*> open_;
  std::string key_;
};

// ---- JSON result -> query XML ----------------------------------------------

struct StringWriter final : pugi::xml_writer {
  std::string out;
  void write(const void* data, size_t size) override {
    out.append(static_cast<const char*>(data), size);
  }
};

std::string ScalarText(const Json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "true" : "false";
  if (v.is_null()) return "";
  // Never throws: a string nested in v may hold any bytes (the query
  // protocol decodes %XX to bytes), which dump() rejects by default.
  return v.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// Text that is not XML's (bytes that are not UTF-8, control characters)
// becomes U+FFFD: stored texts are validated on the way in, but error
// messages quote what the client sent, and any client must be able to parse
// the reply.
void AddText(pugi::xml_node parent, std::string_view name, std::string_view text) {
  parent.append_child(std::string(name).c_str())
      .text()
      .set(ReplaceNonXmlCharacters(std::string(text)).c_str());
}

std::string ListElementName(std::string_view key, std::string_view action) {
  if (key == "Messages") return "Message";
  if (key == "QueueUrls" || key == "queueUrls") return "QueueUrl";
  if (key == "Successful") return std::string(action) + "ResultEntry";
  if (key == "Failed") return "BatchResultErrorEntry";
  if (key == "Results") return "ListMessageMoveTasksResultEntry";
  if (key == "StringListValues") return "StringListValue";
  if (key == "BinaryListValues") return "BinaryListValue";
  return std::string(key);
}

void AppendMembers(pugi::xml_node parent, const Json& obj, std::string_view action) {
  for (const auto& [key, value] : obj.items()) {
    if (key == "Attributes" && value.is_object()) {
      for (const auto& [k, v] : value.items()) {
        pugi::xml_node a = parent.append_child("Attribute");
        AddText(a, "Name", k);
        AddText(a, "Value", ScalarText(v));
      }
    } else if (key == "Tags" && value.is_object()) {
      for (const auto& [k, v] : value.items()) {
        pugi::xml_node t = parent.append_child("Tag");
        AddText(t, "Key", k);
        AddText(t, "Value", ScalarText(v));
      }
    } else if (key == "MessageAttributes" && value.is_object()) {
      for (const auto& [k, v] : value.items()) {
        pugi::xml_node m = parent.append_child("MessageAttribute");
        AddText(m, "Name", k);
        AppendMembers(m.append_child("Value"), v, action);
      }
    } else if (value.is_array()) {
      const std::string element = ListElementName(key, action);
      for (const auto& item : value) {
        if (item.is_object()) {
          AppendMembers(parent.append_child(element.c_str()), item, action);
        } else {
          AddText(parent, element, ScalarText(item));
        }
      }
    } else if (value.is_object()) {
      AppendMembers(parent.append_child(key.c_str()), value, action);
    } else {
      AddText(parent, key, ScalarText(value));
    }
  }
}

// Operations whose query-protocol reply has no <ActionResult> element.
bool HasNoResultElement(std::string_view action) {
  static const std::set<std::string_view> kNone = {
      "ChangeMessageVisibility", "DeleteMessage", "DeleteQueue", "PurgeQueue",
      "SetQueueAttributes",      "TagQueue",      "UntagQueue",  "AddPermission",
      "RemovePermission"};
  return kNone.count(action) > 0;
}

// Serializes without indentation. A carriage return is written as a
// character reference, as SQS does: XML parsers would otherwise turn "\r\n"
// in a message body into "\n" and break the client's MD5 check.
std::string SaveXml(const pugi::xml_document& doc) {
  StringWriter writer;
  doc.save(writer, "", pugi::format_raw);
  std::string out;
  out.reserve(writer.out.size());
  for (char c : writer.out) {
    if (c == '\r') {
      out += "&#xD;";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

struct ErrorRow {
  std::string_view detail;  // what engines and the adapter put in Status::detail()
  std::string_view query_code;
  std::string_view json_type;
  int status;
};
// From the query-era service model's awsQueryError traits (code, status).
constexpr std::array<ErrorRow, 33> kErrors = {{
    {"QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist", 400},
    {"QueueAlreadyExists", "QueueAlreadyExists", "QueueNameExists", 400},
    {"QueueDeletedRecently", "AWS.SimpleQueueService.QueueDeletedRecently", "QueueDeletedRecently",
     400},
    {"InvalidAttributeName", "InvalidAttributeName", "InvalidAttributeName", 400},
    {"InvalidAttributeValue", "InvalidAttributeValue", "InvalidAttributeValue", 400},
    // Framework errors, not SQS's own: the JSON types AWS sends (recorded as
    // boto3's QueryErrorCode) are Coral's.
    {"InvalidParameterValue", "InvalidParameterValue",
     "com.amazon.coral.service#InvalidParameterValueException", 400},
    {"MissingParameter", "MissingParameter",
     "com.amazon.coral.service#MissingRequiredParameterException", 400},
    {"InvalidMessageContents", "InvalidMessageContents", "InvalidMessageContents", 400},
    {"ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", "ReceiptHandleIsInvalid", 400},
    {"MessageNotInflight", "AWS.SimpleQueueService.MessageNotInflight", "MessageNotInflight", 400},
    {"PurgeQueueInProgress", "AWS.SimpleQueueService.PurgeQueueInProgress", "PurgeQueueInProgress",
     403},
    {"TooManyEntriesInBatchRequest", "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
     "TooManyEntriesInBatchRequest", 400},
    {"EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest", "EmptyBatchRequest", 400},
    {"BatchEntryIdsNotDistinct", "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
     "BatchEntryIdsNotDistinct", 400},
    {"InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId", "InvalidBatchEntryId",
     400},
    {"BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong", "BatchRequestTooLong",
     400},
    {"UnsupportedOperation", "AWS.SimpleQueueService.UnsupportedOperation", "UnsupportedOperation",
     400},
    {"ResourceNotFoundException", "ResourceNotFoundException", "ResourceNotFoundException", 404},
    {"OverLimit", "OverLimit", "OverLimit", 403},
    // No awsQueryError trait; AWS answers 403 Sender (public error bodies).
    {"RequestThrottled", "RequestThrottled", "RequestThrottled", 403},
    {"InvalidAction", "InvalidAction", "InvalidAction", 400},
    {"MissingAction", "MissingAction", "MissingAction", 400},
    // A framework error, not SQS's own: its JSON type is in Coral's namespace.
    {"SerializationException", "SerializationException",
     "com.amazon.coral.service#SerializationException", 400},
    {"InvalidAddress", "InvalidAddress", "InvalidAddress", 404},
    {"AccessDenied", "AccessDenied", "AccessDenied", 403},
    {"SignatureDoesNotMatch", "SignatureDoesNotMatch", "SignatureDoesNotMatch", 403},
    {"InvalidAccessKeyId", "InvalidClientTokenId", "InvalidClientTokenId", 403},
    {"InvalidClientTokenId", "InvalidClientTokenId", "InvalidClientTokenId", 403},
    {"RequestTimeTooSkewed", "RequestTimeTooSkewed", "RequestTimeTooSkewed", 403},
    {"AuthorizationHeaderMalformed", "IncompleteSignature", "IncompleteSignature", 400},
    {"AuthorizationQueryParametersError", "IncompleteSignature", "IncompleteSignature", 400},
    {"ExpiredToken", "ExpiredToken", "ExpiredToken", 403},
    {"RequestEntityTooLarge", "RequestEntityTooLarge", "RequestEntityTooLarge", 413},
}};

// ---- JSON request bodies ------------------------------------------------------

// Bodies up to this size are parsed with simdjson (a thread's parser keeps
// its buffers for the next request, so this bounds what it retains).
constexpr size_t kFastParseMaxBytes = 64 * 1024;

Json FromSimdjson(simdjson::dom::element e) {
  using simdjson::dom::element_type;
  switch (e.type()) {
    case element_type::OBJECT: {
      const simdjson::dom::object members(e);
      Json obj = Json::object();
      // Sized once (an SQS batch entry has 2-4 members): growing the member
      // vector one push at a time reallocated it for most objects.
      obj.get_ref<Json::object_t&>().reserve(members.size());
      // operator[] then assignment: a repeated key keeps its first position
      // and its last value, as nlohmann's own parser does.
      for (auto field : members) {
        obj[std::string(field.key)] = FromSimdjson(field.value);
      }
      return obj;
    }
    case element_type::ARRAY: {
      const simdjson::dom::array items(e);
      Json array = Json::array();
      array.get_ref<Json::array_t&>().reserve(items.size());
      for (simdjson::dom::element item : items) {
        array.push_back(FromSimdjson(item));
      }
      return array;
    }
    case element_type::STRING:
      return Json(std::string(std::string_view(e)));
    case element_type::INT64: {
      // nlohmann stores integers written without '-' as unsigned: keep its
      // types (only "-0" differs: its signed 0 becomes an unsigned 0).
      const int64_t v = int64_t(e);
      return v >= 0 ? Json(static_cast<uint64_t>(v)) : Json(v);
    }
    case element_type::UINT64:
      return Json(uint64_t(e));
    case element_type::DOUBLE:
      return Json(double(e));
    case element_type::BOOL:
      return Json(bool(e));
    case element_type::NULL_VALUE:
      break;
  }
  return Json(nullptr);
}

// The JSON-protocol body as a Json value (discarded when it is not JSON).
// nlohmann's lexer was the largest single cost of an SQS request (~10 us of
// a ~150 us SendMessageBatch), so simdjson reads the body and its DOM is
// copied into a Json. Whatever simdjson refuses (bad JSON, but also integers
// past 64 bits, which nlohmann reads as doubles) goes to nlohmann, so the
// outcome is nlohmann's in every case.
Json ParseJsonBody(std::string_view body) {
  if (body.size() <= kFastParseMaxBytes) {
    thread_local simdjson::dom::parser parser;
    simdjson::dom::element root;
    if (parser.parse(body.data(), body.size()).get(root) == simdjson::SUCCESS) {
      return FromSimdjson(root);
    }
  }
  return Json::parse(body, nullptr, /*allow_exceptions=*/false);
}

}  // namespace

Protocol ProtocolOf(const http::RequestHead& head) {
  return head.headers.Has("x-amz-target") ? Protocol::kJson : Protocol::kQuery;
}

Json QueryParamsToJson(const std::vector<std::pair<std::string, std::string>>& params) {
  std::vector<FlatEntry> entries;
  entries.reserve(params.size());
  for (const auto& [name, value] : params) {
    FlatEntry e;
    for (std::string_view seg : Split(name, '.')) e.path.emplace_back(seg);
    e.value = value;
    entries.push_back(std::move(e));
  }
  return Fold(entries);
}

Result<Request> ParseRequest(const http::RequestHead& head, std::string_view body) {
  Request request;
  request.protocol = ProtocolOf(head);
  if (request.protocol == Protocol::kJson) {
    std::string_view target = *head.headers.Get("x-amz-target");
    constexpr std::string_view kPrefix = "AmazonSQS.";
    if (!target.starts_with(kPrefix) || target.size() == kPrefix.size()) {
      return InvalidArgument("The action or operation requested is invalid.")
          .WithDetail("InvalidAction");
    }
    request.action = std::string(target.substr(kPrefix.size()));
    Json params = Trim(body).empty() ? Json::object() : ParseJsonBody(body);
    if (!params.is_object()) {
      return InvalidArgument("The request body is not a valid JSON object.")
          .WithDetail("SerializationException");
    }
    IMGBATCH_RETURN_IF_ERROR(CheckJsonMemberTypes(params));
    request.params = std::move(params);
    return request;
  }
  QueryParams params = ParseQuery(body, /*plus_as_space=*/true);
  for (auto& p : ParseQuery(head.query, /*plus_as_space=*/true)) params.push_back(std::move(p));
  auto action = QueryGet(params, "Action");
  if (!action || action->empty()) {
    return InvalidArgument("The request must contain the parameter Action.")
        .WithDetail("MissingAction");
  }
  request.action = *action;
  request.params = QueryParamsToJson(params);
  request.params.erase("Action");
  request.params.erase("Version");
  // Query clients may address the queue by the request path instead.
  if (!request.params.contains("QueueUrl") && head.path.size() > 1) {
    request.params["QueueUrl"] = head.path;
  }
  return request;
}

std::string ResultToXml(std::string_view action, const Json& result, std::string_view request_id) {
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  const std::string a(action);
  pugi::xml_node root = doc.append_child((a + "Response").c_str());
  root.append_attribute("xmlns") = std::string(kXmlNamespace).c_str();
  if (!HasNoResultElement(action)) {
    AppendMembers(root.append_child((a + "Result").c_str()), result, action);
  }
  AddText(root.append_child("ResponseMetadata"), "RequestId", request_id);
  return SaveXml(doc);
}

http::Response RenderResult(Protocol protocol, std::string_view action, const Output& result,
                            std::string_view request_id) {
  http::Response r;
  r.headers.Set("x-amzn-RequestId", std::string(request_id));
  if (protocol == Protocol::kJson) {
    r.headers.Set("Content-Type", std::string(kJsonContentType));
    JsonTextWriter writer;
    result(writer);
    r.body = writer.Text();
  } else {
    r.headers.Set("Content-Type", "text/xml");
    JsonDomWriter writer;
    result(writer);
    r.body = ResultToXml(action, writer.Take(), request_id);
  }
  return r;
}

http::Response RenderResult(Protocol protocol, std::string_view action, const Json& result,
                            std::string_view request_id) {
  return RenderResult(
      protocol, action, [&result](ResultWriter& writer) { writer.Value(result); }, request_id);
}

WireError WireErrorFor(const Status& error) {
  std::string_view detail = error.detail();
  if (detail.empty()) {
    switch (error.code()) {
      case Code::kNotFound:
        detail = "QueueDoesNotExist";
        break;
      case Code::kAlreadyExists:
        detail = "QueueAlreadyExists";
        break;
      case Code::kInvalidArgument:
      case Code::kOutOfRange:
        detail = "InvalidParameterValue";
        break;
      case Code::kTooLarge:
        detail = "RequestEntityTooLarge";
        break;
      case Code::kUnsupported:
        detail = "UnsupportedOperation";
        break;
      case Code::kAccessDenied:
        detail = "AccessDenied";
        break;
      case Code::kUnauthenticated:
        detail = "InvalidClientTokenId";
        break;
      case Code::kUnavailable:
        return {"ServiceUnavailable", "ServiceUnavailable", 503, false};
      default:
        return {"InternalError", "InternalError", 500, false};
    }
  }
  for (const auto& row : kErrors) {
    if (row.detail == detail) {
      return {std::string(row.query_code), std::string(row.json_type), row.status, true};
    }
  }
  if (error.code() == Code::kIoError || error.code() == Code::kInternal ||
      error.code() == Code::kCorruption || error.code() == Code::kNoSpace) {
    return {std::string(detail), std::string(detail), 500, false};
  }
  return {std::string(detail), std::string(detail), 400, true};
}

// The query protocol's words where AWS's differ from the JSON protocol's
// (recorded against AWS: the same missing queue, two messages).
std::string QueryMessage(const WireError& wire, const std::string& message) {
  if (wire.query_code == "AWS.SimpleQueueService.NonExistentQueue" &&
      message == "The specified queue does not exist.") {
    return "The specified queue does not exist for this wsdl version.";
  }
  return message;
}

http::Response RenderError(Protocol protocol, const Status& error, std::string_view request_id) {
  const WireError wire = WireErrorFor(error);
  http::Response r;
  r.status = wire.http_status;
  r.headers.Set("x-amzn-RequestId", std::string(request_id));
  const char* fault = wire.sender_fault ? "Sender" : "Receiver";
  if (protocol == Protocol::kJson) {
    r.headers.Set("Content-Type", std::string(kJsonContentType));
    r.headers.Set("x-amzn-query-error", wire.query_code + ";" + fault);
    const std::string type = wire.json_type.find('#') == std::string::npos
                                 ? "com.amazonaws.sqs#" + wire.json_type
                                 : wire.json_type;
    Json body = {{"__type", type}, {"message", error.message()}};
    r.body = body.dump(-1, ' ', false, Json::error_handler_t::replace);
    return r;
  }
  pugi::xml_document doc;
  pugi::xml_node decl = doc.append_child(pugi::node_declaration);
  decl.append_attribute("version") = "1.0";
  pugi::xml_node root = doc.append_child("ErrorResponse");
  root.append_attribute("xmlns") = std::string(kXmlNamespace).c_str();
  pugi::xml_node e = root.append_child("Error");
  AddText(e, "Type", fault);
  AddText(e, "Code", wire.query_code);
  AddText(e, "Message", QueryMessage(wire, error.message()));
  e.append_child("Detail");
  AddText(root, "RequestId", request_id);
  r.headers.Set("Content-Type", "text/xml");
  r.body = SaveXml(doc);
  return r;
}

}  // namespace imgbatch::sqs
