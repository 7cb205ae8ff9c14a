#include "sqs/protocol.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include "common/strings.h"

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

}  // namespace
}  // namespace imgbatch::sqs
