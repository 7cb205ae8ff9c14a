#include "sqs/protocol.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "common/strings.h"
#include "sqs/ops.h"

namespace imgbatch::sqs {
namespace {

Json Fold(std::string_view form) { return QueryParamsToJson(ParseQuery(form, true)); }

// Same values and the same JSON types throughout (nlohmann's == would call
// 1 and 1u and 1.0 equal).
bool Identical(const Json& a, const Json& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  if (a.is_object()) {
    auto ib = b.begin();
    for (auto ia = a.begin(); ia != a.end(); ++ia, ++ib) {
      if (ia.key() != ib.key() || !Identical(ia.value(), ib.value())) return false;
    }
    return true;
  }
  if (a.is_array()) {
    for (size_t i = 0; i < a.size(); ++i) {
      if (!Identical(a[i], b[i])) return false;
    }
    return true;
  }
  return a == b;
}

// JSON-protocol bodies are read with simdjson, falling back to nlohmann for
// what simdjson refuses: the parameters must be exactly what nlohmann alone
// would have produced, and bodies nlohmann refuses must still be refused.
TEST(JsonBodyTest, ParamsAreWhatNlohmannWouldRead) {
  http::RequestHead head;
  head.headers.Add("X-Amz-Target", "AmazonSQS.SendMessageBatch");
  const std::string bodies[] = {
      R"({"QueueUrl":"http://h/000000000000/q","Entries":[{"Id":"a","MessageBody":"x"},)"
      R"({"Id":"b","MessageBody":"\u00e9\ud83d\ude00\n\"","DelaySeconds":3}]})",
      R"({"a":1,"a":2,"b":3})",  // repeated key: first place, last value
      R"({"u":18446744073709551615,"s":-5,"d":-1.5E3,"z":0.1e-400})",
      R"({"big":123456789012345678901234,"neg":-9223372036854775809})",  // past 64 bits
      R"({"t":true,"f":false,"null":null,"nested":{"x":[[],{},[1,[2]]]}})",
      R"(  {"MaxNumberOfMessages":10}  )",
  };
  for (const std::string& body : bodies) {
    auto request = ParseRequest(head, body);
    ASSERT_TRUE(request.ok()) << body;
    EXPECT_TRUE(Identical(request->params, Json::parse(body)))
        << body << " -> " << request->params.dump();
  }
  // The one difference: "-0" is nlohmann's signed 0 and our unsigned 0 (the
  // DOM does not say whether a '-' was written). Same value, same dump().
  auto zero = ParseRequest(head, R"({"n":-0})");
  ASSERT_TRUE(zero.ok());
  EXPECT_EQ(zero->params["n"], 0);
  EXPECT_EQ(zero->params.dump(), R"({"n":0})");
  const std::string refused[] = {R"({"a":"\ud800"})", R"({"a":1e400})", "{\"a\":\"\xff\"}",
                                 R"({"a":1} x)",      R"([1,2])",       R"({"a":})"};
  for (const std::string& body : refused) {
    auto request = ParseRequest(head, body);
    ASSERT_FALSE(request.ok()) << body;
    EXPECT_EQ(request.status().detail(), "SerializationException") << body;
  }
}

TEST(QueryFoldTest, ScalarsMapsAndLists) {
  Json j = Fold(
      "QueueName=jobs&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=60"
      "&Attribute.2.Name=DelaySeconds&Attribute.2.Value=5&Tag.1.Key=team&Tag.1.Value=img"
      "&AttributeName.2=B&AttributeName.1=A&TagKey.1=x");
  EXPECT_EQ(j["QueueName"], "jobs");
  EXPECT_EQ(j["Attributes"], (Json{{"VisibilityTimeout", "60"}, {"DelaySeconds", "5"}}));
  EXPECT_EQ(j["Tags"], (Json{{"team", "img"}}));
  EXPECT_EQ(j["AttributeNames"], (Json{"A", "B"}));  // ordered by index
  EXPECT_EQ(j["TagKeys"], (Json{"x"}));
}

TEST(QueryFoldTest, MessageAttributesAndBatchEntries) {
  Json j = Fold(
      "SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=hi+there"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Name=k.1"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.DataType=String"
      "&SendMessageBatchRequestEntry.1.MessageAttribute.1.Value.StringValue=v"
      "&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=x"
      "&SendMessageBatchRequestEntry.2.DelaySeconds=3");
  ASSERT_TRUE(j["Entries"].is_array());
  ASSERT_EQ(j["Entries"].size(), 2u);
  EXPECT_EQ(j["Entries"][0]["MessageBody"], "hi there");
  EXPECT_EQ(j["Entries"][0]["MessageAttributes"]["k.1"],
            (Json{{"DataType", "String"}, {"StringValue", "v"}}));
  EXPECT_EQ(j["Entries"][1]["DelaySeconds"], "3");
}

TEST(QueryFoldTest, UnindexedListAndJunkDoNotCrash) {
  Json j = Fold("AttributeName=All&Attribute.x.Name=a&Attribute.1.Value=nokey&...=1&a..b=2");
  EXPECT_EQ(j["AttributeNames"], (Json{"All"}));
  EXPECT_TRUE(j["Attributes"].empty());
}

TEST(ParseRequestTest, JsonProtocol) {
  http::RequestHead head;
  head.method = "POST";
  head.path = "/";
  head.headers.Add("X-Amz-Target", "AmazonSQS.SendMessage");
  auto r = ParseRequest(head, R"({"QueueUrl":"http://h/000000000000/q","MessageBody":"x"})");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->protocol, Protocol::kJson);
  EXPECT_EQ(r->action, "SendMessage");
  EXPECT_EQ(r->params["MessageBody"], "x");
  EXPECT_EQ(ParseRequest(head, "[1,2]").status().detail(), "SerializationException");
  EXPECT_EQ(ParseRequest(head, "{bad").status().detail(), "SerializationException");
  head.headers.Set("X-Amz-Target", "DynamoDB_20120810.GetItem");
  EXPECT_EQ(ParseRequest(head, "{}").status().detail(), "InvalidAction");
}

// AWS's deserializer refuses a value of the wrong JSON type with its own
// words; nothing is coerced (docs/compat.md).
TEST(ParseRequestTest, JsonMembersOfTheWrongTypeAreSerializationExceptions) {
  http::RequestHead head;
  head.headers.Add("X-Amz-Target", "AmazonSQS.SendMessageBatch");
  const std::pair<std::string, std::string> refused[] = {
      {R"({"QueueUrl":1})", "NUMBER_VALUE can not be converted to a String"},
      {R"({"QueueUrl":false})", "FALSE_VALUE can not be converted to a String"},
      {R"({"MaxNumberOfMessages":"3"})", "STRING_VALUE can not be converted to an Integer"},
      {R"({"WaitTimeSeconds":true})", "TRUE_VALUE can not be converted to an Integer"},
      {R"({"VisibilityTimeout":[1]})", "Start of list found where not expected"},
      {R"({"MessageBody":{"a":1}})", "Start of structure or map found where not expected."},
      {R"({"AttributeNames":"All"})", "Expected list or null"},
      {R"({"AttributeNames":["All",1]})", "NUMBER_VALUE can not be converted to a String"},
      {R"({"Attributes":{"DelaySeconds":5}})", "NUMBER_VALUE can not be converted to a String"},
      {R"({"tags":["a"]})", "Start of list found where not expected"},
      {R"({"Tags":"a=b"})", "Expected map or null"},
      {R"({"Entries":[{"Id":"a","DelaySeconds":"1"}]})",
       "STRING_VALUE can not be converted to an Integer"},
      {R"({"Entries":["a"]})", "Expected null"},
      {R"({"Entries":{"Id":"a"}})", "Expected list or null"},
      {R"({"MessageAttributes":{"n":{"DataType":"Number","StringValue":5}}})",
       "NUMBER_VALUE can not be converted to a String"},
      {R"({"Entries":[{"MessageSystemAttributes":{"t":{"StringListValues":[true]}}}]})",
       "TRUE_VALUE can not be converted to a String"},
      {R"({"MessageAttributes":{"n":"x"}})", "Expected null"},
  };
  for (const auto& [body, message] : refused) {
    auto request = ParseRequest(head, body);
    ASSERT_FALSE(request.ok()) << body;
    EXPECT_EQ(request.status().detail(), "SerializationException") << body;
    EXPECT_EQ(request.status().message(), message) << body;
  }
  // Null members are absent ones; members SQS does not have are not read;
  // numbers are the operations' to range-check.
  const std::string accepted[] = {
      R"({"QueueUrl":null,"MaxNumberOfMessages":null,"Entries":null,"Attributes":null})",
      R"({"Unknown":[1,{"a":true}],"entries":"x","MaxNumberOfMessages":1.5})",
      R"({"Entries":[null,{"Id":"a","MessageBody":"b","DelaySeconds":99999999999}]})",
  };
  for (const std::string& body : accepted) EXPECT_TRUE(ParseRequest(head, body).ok()) << body;
  // The JSON type is Coral's, not SQS's own namespace.
  auto wrong = ParseRequest(head, R"({"QueueUrl":1})");
  ASSERT_FALSE(wrong.ok());
  const http::Response reply = RenderError(Protocol::kJson, wrong.status(), "r");
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(Json::parse(std::get<std::string>(reply.body))["__type"],
            "com.amazon.coral.service#SerializationException");
}

TEST(ParseRequestTest, QueryProtocolFromBodyQueryAndPath) {
  http::RequestHead head;
  head.method = "POST";
  head.path = "/000000000000/jobs";
  auto r = ParseRequest(head, "Action=PurgeQueue&Version=2012-11-05");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->protocol, Protocol::kQuery);
  EXPECT_EQ(r->action, "PurgeQueue");
  EXPECT_EQ(r->params["QueueUrl"], "/000000000000/jobs");
  EXPECT_FALSE(r->params.contains("Version"));
  head.method = "GET";
  head.path = "/";
  head.query = "Action=ListQueues&QueueNamePrefix=a";
  r = ParseRequest(head, "");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->params["QueueNamePrefix"], "a");
  head.query = "";
  EXPECT_EQ(ParseRequest(head, "").status().detail(), "MissingAction");
}

TEST(RenderTest, ReceiveResultXmlHasAwsShape) {
  Json msg = Json::object();
  msg["MessageId"] = "id1";
  msg["ReceiptHandle"] = "rh";
  msg["MD5OfBody"] = "m";
  msg["Body"] = "a\r\nb<c>";
  msg["Attributes"] = Json{{"SentTimestamp", "1"}};
  msg["MessageAttributes"] = Json{{"k", Json{{"StringValue", "v"}, {"DataType", "String"}}}};
  Json result = Json{{"Messages", Json::array({msg})}};
  std::string xml = ResultToXml("ReceiveMessage", result, "req-1");
  EXPECT_NE(xml.find("a&#xD;\nb&lt;c&gt;"), std::string::npos) << xml;
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto root = doc.child("ReceiveMessageResponse");
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://queue.amazonaws.com/doc/2012-11-05/");
  auto m = root.child("ReceiveMessageResult").child("Message");
  EXPECT_STREQ(m.child_value("MessageId"), "id1");
  EXPECT_STREQ(m.child_value("Body"), "a\r\nb<c>");
  EXPECT_STREQ(m.child("Attribute").child_value("Name"), "SentTimestamp");
  EXPECT_STREQ(m.child("MessageAttribute").child("Value").child_value("DataType"), "String");
  EXPECT_STREQ(root.child("ResponseMetadata").child_value("RequestId"), "req-1");
}

TEST(RenderTest, BatchAndEmptyResults) {
  Json result = Json{{"Successful", Json::array({Json{{"Id", "a"}}})},
                     {"Failed", Json::array({Json{{"Id", "b"},
                                                  {"SenderFault", true},
                                                  {"Code", "ReceiptHandleIsInvalid"},
                                                  {"Message", "x"}}})}};
  std::string xml = ResultToXml("DeleteMessageBatch", result, "r");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(xml.c_str()));
  auto r = doc.child("DeleteMessageBatchResponse").child("DeleteMessageBatchResult");
  EXPECT_STREQ(r.child("DeleteMessageBatchResultEntry").child_value("Id"), "a");
  EXPECT_STREQ(r.child("BatchResultErrorEntry").child_value("SenderFault"), "true");
  std::string del = ResultToXml("DeleteMessage", Json::object(), "r");
  EXPECT_EQ(del.find("DeleteMessageResult"), std::string::npos);
  EXPECT_NE(del.find("<DeleteMessageResponse"), std::string::npos);
}

TEST(RenderTest, ErrorsInBothShapes) {
  Status missing = NotFound("The specified queue does not exist.").WithDetail("QueueDoesNotExist");
  http::Response j = RenderError(Protocol::kJson, missing, "r1");
  EXPECT_EQ(j.status, 400);
  EXPECT_EQ(j.headers.Get("x-amzn-query-error"), "AWS.SimpleQueueService.NonExistentQueue;Sender");
  Json body = Json::parse(std::get<std::string>(j.body));
  EXPECT_EQ(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
  EXPECT_EQ(body["message"], "The specified queue does not exist.");

  http::Response x = RenderError(Protocol::kQuery, missing, "r2");
  pugi::xml_document doc;
  ASSERT_TRUE(doc.load_string(std::get<std::string>(x.body).c_str()));
  auto e = doc.child("ErrorResponse").child("Error");
  EXPECT_STREQ(e.child_value("Type"), "Sender");
  EXPECT_STREQ(e.child_value("Code"), "AWS.SimpleQueueService.NonExistentQueue");
  // AWS's query words for it (recorded).
  EXPECT_STREQ(e.child_value("Message"),
               "The specified queue does not exist for this wsdl version.");
  EXPECT_STREQ(doc.child("ErrorResponse").child_value("RequestId"), "r2");

  EXPECT_EQ(
      WireErrorFor(Status(Code::kConflict, "x").WithDetail("PurgeQueueInProgress")).http_status,
      403);
  EXPECT_EQ(WireErrorFor(AlreadyExists("x").WithDetail("QueueAlreadyExists")).json_type,
            "QueueNameExists");
  WireError internal = WireErrorFor(IoError("disk"));
  EXPECT_EQ(internal.http_status, 500);
  EXPECT_FALSE(internal.sender_fault);
}

// Tells a Json to a ResultWriter event by event, as the message operations
// tell their results (numbers and null, which they never write, as Value).
void Tell(const Json& value, ResultWriter& w) {
  if (value.is_object()) {
    w.StartObject();
    for (const auto& [key, member] : value.items()) {
      w.Key(key);
      Tell(member, w);
    }
    w.EndObject();
  } else if (value.is_array()) {
    w.StartArray();
    for (const Json& item : value) Tell(item, w);
    w.EndArray();
  } else if (value.is_string()) {
    w.String(value.get_ref<const std::string&>());
  } else if (value.is_boolean()) {
    w.Bool(value.get<bool>());
  } else {
    w.Value(value);
  }
}

std::string BodyOf(const http::Response& r) { return std::get<std::string>(r.body); }

std::string Written(Protocol protocol, const Json& value) {
  return BodyOf(RenderResult(
      protocol, "ReceiveMessage", [&value](ResultWriter& w) { Tell(value, w); }, "req-1"));
}

// The JSON protocol's replies are written with rapidjson and the query
// protocol's from a Json built from the same events: both must be what the
// replies built as a Json (nlohmann's dump, ResultToXml) were, byte for byte.
TEST(RenderTest, WrittenResultsAreWhatTheJsonDomGave) {
  Json message = Json::object();
  message["MessageId"] = "id1";
  message["ReceiptHandle"] = "aWIxOjE6Mjox";
  message["MD5OfBody"] = "5d41402abc4b2a76b9719d911017c592";
  message["Body"] = "h\u00e9llo \u2713 \U0001F389 \"quoted\" back\\slash tab\t nl\n cr\r / <&>";
  message["Attributes"] = Json{{"SenderId", "AKID"}, {"SentTimestamp", "1700000000000"}};
  message["MD5OfMessageAttributes"] = "29ccd92701ba833d83b82360ad8afa54";
  message["MessageAttributes"] =
      Json{{"\u00fcber", Json{{"StringValue", "v\u00e9"}, {"DataType", "String"}}},
           {"blob", Json{{"BinaryValue", "AAH/"}, {"DataType", "Binary"}}}};
  const Json receive = Json{{"Messages", Json::array({message, message})}};
  const Json batch = Json{
      {"Successful", Json::array({Json{{"Id", "a"}, {"MessageId", "m"}}})},
      {"Failed", Json::array({Json{{"Id", "b"},
                                   {"SenderFault", true},
                                   {"Code", "ReceiptHandleIsInvalid"},
                                   {"Message", "The input receipt handle \"x\" is not valid."}}})}};
  const Json numbers =
      Json{{"n", 5},          {"negative", -1}, {"real", 1.5},
           {"none", nullptr}, {"no", false},    {"nested", Json{{"empty", Json::array()}}}};
  for (const Json& value : {receive, batch, numbers, Json::object()}) {
    EXPECT_EQ(Written(Protocol::kJson, value), value.dump()) << value.dump();
    EXPECT_EQ(Written(Protocol::kQuery, value), ResultToXml("ReceiveMessage", value, "req-1"));
    EXPECT_EQ(BodyOf(RenderResult(Protocol::kJson, "ReceiveMessage", value, "req-1")),
              value.dump());
  }
}

// Long runs without escapes are copied 16 bytes at a time (SSE2): every
// length and alignment around that, with an escape at each place.
TEST(RenderTest, WrittenStringsOfEveryLengthAndAlignment) {
  const std::string text =
      "The quick brown fox \"jumps\" over the lazy dog; back\\slash, tab\t, new\nline, "
      "caf\u00e9 \u2713 and more plain text after it to pass two blocks of sixteen bytes.";
  for (size_t start = 0; start < 20; ++start) {
    for (size_t length = 0; start + length <= text.size(); ++length) {
      const Json value = Json{{"Body", text.substr(start, length)}};
      const std::string written = Written(Protocol::kJson, value);
      // (A cut through a multi-byte character is invalid UTF-8: replaced.)
      ASSERT_EQ(written, value.dump(-1, ' ', false, Json::error_handler_t::replace))
          << start << "+" << length;
    }
  }
}

TEST(RenderTest, WrittenStringsNeedNoValidUtf8AndKeepTheirControlCharacters) {
  // Bytes that are not UTF-8 (a query-protocol sender's attribute) become
  // U+FFFD, as nlohmann's replacing serializer made them.
  const std::string invalid = std::string("a\xff\xfe b \xc3", 7);
  const Json value = Json{{invalid, invalid}};
  EXPECT_EQ(Written(Protocol::kJson, value),
            value.dump(-1, ' ', false, Json::error_handler_t::replace));
  EXPECT_EQ(Json::parse(Written(Protocol::kJson, value)).begin().key(), "a\ufffd\ufffd b \ufffd");
  // Control characters: escaped (rapidjson writes the hex digits in upper
  // case, nlohmann in lower; the same JSON string either way).
  const Json control = Json{{"Body", std::string("\x01\x1f\x7f\0end", 7)}};
  const std::string written = Written(Protocol::kJson, control);
  EXPECT_EQ(written, "{\"Body\":\"\\u0001\\u001F\x7f\\u0000end\"}");
  EXPECT_EQ(Json::parse(written), control);
}

// A queue URL names the queue by its last path segment: "<account>/<name>",
// "queue/<name>" or "<name>", with or without scheme and host; anything else
// is a queue that does not exist.
TEST(QueueUrlTest, NameIsTheLastOfOneOrTwoSegments) {
  const std::string account = "000000000000";
  for (const std::string url :
       {"http://127.0.0.1:4566/000000000000/jobs",
        "https://sqs.us-east-1.localhost/000000000000/jobs/", "http://h/queue/jobs",
        "http://h//jobs", "/000000000000/jobs", "jobs"}) {
    auto name = QueueNameFromUrl(url, account);
    ASSERT_TRUE(name.ok()) << url;
    EXPECT_EQ(*name, "jobs") << url;
  }
  for (const std::string url : {"http://h/", "http://h", "http://h/123456789012/jobs",
                                "http://h/000000000000/x/jobs", ""}) {
    EXPECT_EQ(QueueNameFromUrl(url, account).status().detail(), "QueueDoesNotExist") << url;
  }
}

}  // namespace
}  // namespace imgbatch::sqs
