#include "sqs/sqs_service.h"

#include <gtest/gtest.h>
#include <pugixml.hpp>

#include <filesystem>
#include <mutex>
#include <set>

#include "common/hashing.h"
#include "common/strings.h"
#include "http/testing.h"
#include "sqs/protocol.h"

namespace imgbatch::sqs {
namespace {

using namespace std::chrono_literals;

// Accepts every request as "AKIDTEST" unless told to fail; denies the
// actions listed in denied.
class FakeAuthenticator final : public Authenticator {
 public:
  Result<Caller> Authenticate(const http::RequestHead&, std::string_view body) override {
    std::lock_guard lock(mu_);
    last_body_ = std::string(body);
    if (!fail_with_.empty()) {
      return Status(Code::kUnauthenticated, "signature mismatch").WithDetail(fail_with_);
    }
    return Caller{caller_};
  }
  // The key's own decision: Allow unless the action is denied; a queue's
  // policy is decided with it as the real registry does.
  bool Allowed(const Caller& caller, std::string_view action, std::string_view resource,
               const auth::RequestContext& context, const auth::Policy* queue_policy) override {
    std::lock_guard lock(mu_);
    last_resource_ = std::string(resource);
    (void)caller;
    const auth::Decision own = denied_.count(std::string(action)) > 0
                                   ? auth::Decision::kNotApplicable
                                   : auth::Decision::kAllow;
    return auth::AllowedTogether(own, queue_policy, action, resource, context);
  }
  // "AKIDTEST" is the account's root user, any other caller a user of that name.
  std::optional<auth::PrincipalIdentity> Principal(const Caller& caller,
                                                   std::string_view account_id) override {
    if (caller.access_key_id == "AKIDTEST") return auth::PrincipalIdentity::Root(account_id);
    return auth::PrincipalIdentity::User(account_id, caller.access_key_id);
  }
  void Deny(std::string action) {
    std::lock_guard lock(mu_);
    denied_.insert(std::move(action));
  }
  void FailWith(std::string code) {
    std::lock_guard lock(mu_);
    fail_with_ = std::move(code);
  }
  // Requests are then this key's (a user of that name).
  void AuthenticateAs(std::string key) {
    std::lock_guard lock(mu_);
    caller_ = std::move(key);
  }
  std::string last_resource() {
    std::lock_guard lock(mu_);
    return last_resource_;
  }
  std::string last_body() {
    std::lock_guard lock(mu_);
    return last_body_;
  }

 private:
  std::mutex mu_;
  std::set<std::string> denied_;
  std::string fail_with_;
  std::string caller_ = "AKIDTEST";
  std::string last_resource_;
  std::string last_body_;
};

struct XmlReply {
  int status = 0;
  pugi::xml_document doc;
};

class SqsServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("sqs_service_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    auto db = db::Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto engine = queue::QueueEngine::Open(*db_, clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
    auth_ = std::make_shared<FakeAuthenticator>();
    service_ = std::make_unique<SqsService>(*engine_, auth_);
  }
  void TearDown() override {
    service_.reset();
    engine_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  std::shared_ptr<http::FakeExchange> StartJson(const std::string& op, const Json& params) {
    http::Headers headers;
    headers.Add("Host", "localhost:4566");
    headers.Add("Content-Type", "application/x-amz-json-1.0");
    headers.Add("X-Amz-Target", "AmazonSQS." + op);
    auto ex = std::make_shared<http::FakeExchange>("POST", "/", headers, params.dump());
    service_->Handle(ex);
    return ex;
  }

  // Runs a JSON-protocol call; returns status and parsed body.
  std::pair<int, Json> CallJson(const std::string& op, const Json& params) {
    auto ex = StartJson(op, params);
    EXPECT_TRUE(ex->Wait(10s));
    last_ = ex;
    std::string body = ex->BodyText();
    return {ex->response().status, body.empty() ? Json() : Json::parse(body, nullptr, false)};
  }

  std::unique_ptr<XmlReply> CallQuery(const std::string& form, const std::string& path = "/") {
    http::Headers headers;
    headers.Add("Host", "localhost:4566");
    headers.Add("Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    auto ex = http::Call(service_->AsHandler(), "POST", path, headers, form);
    last_ = ex;
    auto reply = std::make_unique<XmlReply>();
    reply->status = ex->response().status;
    std::string body = ex->BodyText();
    EXPECT_TRUE(reply->doc.load_string(body.c_str())) << body;
    return reply;
  }

  std::string CreateQueueJson(const std::string& name, Json attributes = Json::object()) {
    auto [status, body] =
        CallJson("CreateQueue", {{"QueueName", name}, {"Attributes", attributes}});
    EXPECT_EQ(status, 200) << body.dump();
    return body.value("QueueUrl", "");
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<queue::QueueEngine> engine_;
  std::shared_ptr<FakeAuthenticator> auth_;
  std::unique_ptr<SqsService> service_;
  std::shared_ptr<http::FakeExchange> last_;
};

const Json kAttributes = {
    {"ErrorCode", {{"DataType", "String"}, {"StringValue", "NotAnImage"}}},
    {"attempt", {{"DataType", "Number"}, {"StringValue", "3"}}},
    {"blob", {{"DataType", "Binary"}, {"BinaryValue", "AAH/"}}},  // 00 01 ff
};
// MD5OfMessageAttributes of kAttributes as AWS computes it (checked with
// moto's implementation of the documented algorithm).
constexpr const char* kAttributesMd5 = "29ccd92701ba833d83b82360ad8afa54";

TEST_F(SqsServiceTest, JsonSendReceiveDeleteWithMd5s) {
  const std::string url = CreateQueueJson("jobs");
  EXPECT_EQ(url, "http://localhost:4566/000000000000/jobs");
  auto [status, sent] =
      CallJson("SendMessage",
               {{"QueueUrl", url}, {"MessageBody", "hello"}, {"MessageAttributes", kAttributes}});
  ASSERT_EQ(status, 200) << sent.dump();
  EXPECT_EQ(sent["MD5OfMessageBody"], "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(sent["MD5OfMessageAttributes"], kAttributesMd5);
  EXPECT_EQ(last_->response().headers.Get("Content-Type"), "application/x-amz-json-1.0");

  auto [rs, got] = CallJson("ReceiveMessage", {{"QueueUrl", url},
                                               {"MaxNumberOfMessages", 10},
                                               {"MessageAttributeNames", {"All"}},
                                               {"MessageSystemAttributeNames", {"All"}}});
  ASSERT_EQ(rs, 200) << got.dump();
  ASSERT_EQ(got["Messages"].size(), 1u);
  const Json& m = got["Messages"][0];
  EXPECT_EQ(m["MessageId"], sent["MessageId"]);
  EXPECT_EQ(m["Body"], "hello");
  EXPECT_EQ(m["MD5OfBody"], "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(m["MD5OfMessageAttributes"], kAttributesMd5);
  // Member order aside (ordered_json compares it), the attributes round-trip.
  EXPECT_EQ(nlohmann::json::parse(m["MessageAttributes"].dump()),
            nlohmann::json::parse(kAttributes.dump()));
  EXPECT_EQ(m["Attributes"]["ApproximateReceiveCount"], "1");
  EXPECT_EQ(m["Attributes"]["SenderId"], "AKIDTEST");
  EXPECT_EQ(m["Attributes"]["SentTimestamp"], std::to_string(clock_.NowMillis()));

  auto [ds, deleted] =
      CallJson("DeleteMessage", {{"QueueUrl", url}, {"ReceiptHandle", m["ReceiptHandle"]}});
  EXPECT_EQ(ds, 200);
  EXPECT_EQ(deleted, Json::object());
  auto [es, empty] = CallJson("ReceiveMessage", {{"QueueUrl", url}});
  EXPECT_EQ(es, 200);
  EXPECT_FALSE(empty.contains("Messages"));
}

// The member names of an object, in order.
std::vector<std::string> KeysOf(const Json& object) {
  std::vector<std::string> keys;
  for (const auto& [key, value] : object.items()) keys.push_back(key);
  return keys;
}

// The message operations write their JSON replies without a DOM: the bytes
// must be what nlohmann wrote for the same members in the same order (the
// replies were built as a Json before).
TEST_F(SqsServiceTest, JsonMessageRepliesAreWhatTheJsonDomWrote) {
  const std::string url = CreateQueueJson("exact");
  auto raw = [&](const std::string& op, const Json& params) {
    auto [status, body] = CallJson(op, params);
    EXPECT_EQ(status, 200) << op << ": " << last_->BodyText();
    const std::string text = last_->BodyText();
    EXPECT_EQ(text, body.dump()) << op;  // exactly nlohmann's serialization
    return body;
  };
  const std::string unicode = "h\u00e9llo \u2713 \U0001F389 \"q\" \\ \t\n\r </b>";
  const std::string trace = "Root=1-5759e988-bd862e3fe1be46a994272793";
  Json sent = raw("SendMessageBatch",
                  {{"QueueUrl", url},
                   {"Entries",
                    {{{"Id", "plain"}, {"MessageBody", unicode}},
                     {{"Id", "bad"}, {"MessageBody", std::string("x\x02", 2)}},
                     {{"Id", "full"},
                      {"MessageBody", "b"},
                      {"MessageAttributes", kAttributes},
                      {"MessageSystemAttributes",
                       {{"AWSTraceHeader", {{"DataType", "String"}, {"StringValue", trace}}}}}}}}});
  EXPECT_EQ(KeysOf(sent), (std::vector<std::string>{"Successful", "Failed"}));
  ASSERT_EQ(sent["Successful"].size(), 2u);
  EXPECT_EQ(KeysOf(sent["Successful"][0]),
            (std::vector<std::string>{"Id", "MD5OfMessageBody", "MessageId"}));
  EXPECT_EQ(sent["Successful"][0]["MD5OfMessageBody"], Md5Hex(unicode));
  const Json& full = sent["Successful"][1];
  EXPECT_EQ(KeysOf(full),
            (std::vector<std::string>{"Id", "MD5OfMessageBody", "MD5OfMessageAttributes",
                                      "MD5OfMessageSystemAttributes", "MessageId"}));
  EXPECT_EQ(full["MD5OfMessageAttributes"], kAttributesMd5);
  EXPECT_EQ(full["MD5OfMessageSystemAttributes"],
            queue::Md5OfAttributes({{"AWSTraceHeader", {"String", trace}}}));
  ASSERT_EQ(sent["Failed"].size(), 1u);
  EXPECT_EQ(sent["Failed"][0], (Json{{"Id", "bad"},
                                     {"SenderFault", true},
                                     {"Code", "InvalidMessageContents"},
                                     {"Message", sent["Failed"][0]["Message"]}}));

  Json got = raw("ReceiveMessage", {{"QueueUrl", url},
                                    {"MaxNumberOfMessages", 10},
                                    {"MessageAttributeNames", {"All"}},
                                    {"AttributeNames", {"All"}}});
  ASSERT_EQ(got["Messages"].size(), 2u);
  const Json& plain =
      got["Messages"][0]["Body"] == unicode ? got["Messages"][0] : got["Messages"][1];
  const Json& with =
      got["Messages"][0]["Body"] == unicode ? got["Messages"][1] : got["Messages"][0];
  EXPECT_EQ(plain["Body"], unicode);
  EXPECT_EQ(KeysOf(plain), (std::vector<std::string>{"MessageId", "ReceiptHandle", "MD5OfBody",
                                                     "Body", "Attributes"}));
  EXPECT_EQ(KeysOf(with), (std::vector<std::string>{"MessageId", "ReceiptHandle", "MD5OfBody",
                                                    "Body", "Attributes", "MD5OfMessageAttributes",
                                                    "MessageAttributes"}));
  EXPECT_EQ(KeysOf(with["Attributes"]),
            (std::vector<std::string>{"SenderId", "SentTimestamp", "ApproximateReceiveCount",
                                      "ApproximateFirstReceiveTimestamp", "AWSTraceHeader"}));
  EXPECT_EQ(with["Attributes"]["AWSTraceHeader"], trace);
  EXPECT_EQ(with["MD5OfMessageAttributes"], kAttributesMd5);
  EXPECT_EQ(with["MessageAttributes"]["blob"],
            (Json{{"BinaryValue", "AAH/"}, {"DataType", "Binary"}}));

  Json deleted =
      raw("DeleteMessageBatch", {{"QueueUrl", url},
                                 {"Entries",
                                  {{{"Id", "one"}, {"ReceiptHandle", plain["ReceiptHandle"]}},
                                   {{"Id", "nohandle"}},
                                   {{"Id", "junk"}, {"ReceiptHandle", "junk"}}}}});
  EXPECT_EQ(deleted["Successful"], (Json{{{"Id", "one"}}}));
  ASSERT_EQ(deleted["Failed"].size(), 2u);  // the adapter's failures first, then the engine's
  EXPECT_EQ(deleted["Failed"][0]["Id"], "nohandle");
  EXPECT_EQ(deleted["Failed"][0]["Code"], "MissingParameter");
  EXPECT_EQ(deleted["Failed"][1]["Id"], "junk");
  EXPECT_EQ(deleted["Failed"][1]["Code"], "ReceiptHandleIsInvalid");
  EXPECT_EQ(raw("DeleteMessage", {{"QueueUrl", url}, {"ReceiptHandle", with["ReceiptHandle"]}}),
            Json::object());
  EXPECT_EQ(last_->BodyText(), "{}");
  EXPECT_EQ(raw("ReceiveMessage", {{"QueueUrl", url}}), Json::object());
  EXPECT_EQ(last_->BodyText(), "{}");
}

TEST_F(SqsServiceTest, QuerySendReceiveInXml) {
  auto created = CallQuery(
      "Action=CreateQueue&QueueName=jobs&Attribute.1.Name=VisibilityTimeout"
      "&Attribute.1.Value=45&Version=2012-11-05");
  ASSERT_EQ(created->status, 200);
  std::string url =
      created->doc.child("CreateQueueResponse").child("CreateQueueResult").child_value("QueueUrl");
  EXPECT_EQ(url, "http://localhost:4566/000000000000/jobs");
  auto sent = CallQuery("Action=SendMessage&QueueUrl=" + UriEncode(url) +
                        "&MessageBody=hello&MessageAttribute.1.Name=blob"
                        "&MessageAttribute.1.Value.DataType=Binary"
                        "&MessageAttribute.1.Value.BinaryValue=AAH%2F");
  ASSERT_EQ(sent->status, 200);
  auto result = sent->doc.child("SendMessageResponse").child("SendMessageResult");
  EXPECT_STREQ(result.child_value("MD5OfMessageBody"), "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(std::string(result.child_value("MD5OfMessageAttributes")).size(), 32u);

  // Addressed by path, as query clients may do.
  auto got = CallQuery("Action=ReceiveMessage&MessageAttributeName.1=All&AttributeName.1=All",
                       "/000000000000/jobs");
  ASSERT_EQ(got->status, 200);
  auto m = got->doc.child("ReceiveMessageResponse").child("ReceiveMessageResult").child("Message");
  EXPECT_STREQ(m.child_value("Body"), "hello");
  EXPECT_STREQ(m.child("MessageAttribute").child_value("Name"), "blob");
  EXPECT_STREQ(m.child("MessageAttribute").child("Value").child_value("BinaryValue"), "AAH/");
  EXPECT_STREQ(m.child_value("MD5OfMessageAttributes"),
               result.child_value("MD5OfMessageAttributes"));
  bool saw_count = false;
  for (auto a : m.children("Attribute")) {
    if (std::string(a.child_value("Name")) == "ApproximateReceiveCount") {
      EXPECT_STREQ(a.child_value("Value"), "1");
      saw_count = true;
    }
  }
  EXPECT_TRUE(saw_count);
  auto attrs = CallQuery("Action=GetQueueAttributes&QueueUrl=" + UriEncode(url) +
                         "&AttributeName.1=VisibilityTimeout&AttributeName.2="
                         "ApproximateNumberOfMessagesNotVisible");
  std::map<std::string, std::string> values;
  for (auto a : attrs->doc.child("GetQueueAttributesResponse")
                    .child("GetQueueAttributesResult")
                    .children("Attribute")) {
    values[a.child_value("Name")] = a.child_value("Value");
  }
  EXPECT_EQ(values,
            (std::map<std::string, std::string>{{"ApproximateNumberOfMessagesNotVisible", "1"},
                                                {"VisibilityTimeout", "45"}}));
}

TEST_F(SqsServiceTest, NonexistentQueueInBothShapes) {
  auto [status, body] = CallJson("GetQueueUrl", {{"QueueName", "nope"}});
  EXPECT_EQ(status, 400);
  EXPECT_EQ(body["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
  EXPECT_EQ(last_->response().headers.Get("x-amzn-query-error"),
            "AWS.SimpleQueueService.NonExistentQueue;Sender");
  auto x = CallQuery(
      "Action=SendMessage&QueueUrl=http%3A%2F%2Flocalhost%2F000000000000%2Fnope"
      "&MessageBody=x");
  EXPECT_EQ(x->status, 400);
  EXPECT_STREQ(x->doc.child("ErrorResponse").child("Error").child_value("Code"),
               "AWS.SimpleQueueService.NonExistentQueue");
  // Another account's URL is no queue of ours.
  CreateQueueJson("mine");
  auto [os, other] = CallJson(
      "SendMessage", {{"QueueUrl", "http://localhost/123456789012/mine"}, {"MessageBody", "x"}});
  EXPECT_EQ(os, 400);
  EXPECT_EQ(other["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
}

TEST_F(SqsServiceTest, BatchLimitsAndPerEntryFailures) {
  const std::string url = CreateQueueJson("q");
  Json eleven = Json::array();
  for (int i = 0; i < 11; ++i) {
    eleven.push_back({{"Id", "e" + std::to_string(i)}, {"MessageBody", "x"}});
  }
  auto [s1, too_many] = CallJson("SendMessageBatch", {{"QueueUrl", url}, {"Entries", eleven}});
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(too_many["__type"], "com.amazonaws.sqs#TooManyEntriesInBatchRequest");
  auto [s2, empty] = CallJson("SendMessageBatch", {{"QueueUrl", url}, {"Entries", Json::array()}});
  EXPECT_EQ(empty["__type"], "com.amazonaws.sqs#EmptyBatchRequest");
  auto [s3, dup] = CallJson(
      "SendMessageBatch",
      {{"QueueUrl", url},
       {"Entries", {{{"Id", "a"}, {"MessageBody", "x"}}, {{"Id", "a"}, {"MessageBody", "y"}}}}});
  EXPECT_EQ(dup["__type"], "com.amazonaws.sqs#BatchEntryIdsNotDistinct");
  auto [s4, bad_id] =
      CallJson("SendMessageBatch",
               {{"QueueUrl", url}, {"Entries", {{{"Id", "a b"}, {"MessageBody", "x"}}}}});
  EXPECT_EQ(bad_id["__type"], "com.amazonaws.sqs#InvalidBatchEntryId");

  auto [s5, mixed] = CallJson("SendMessageBatch",
                              {{"QueueUrl", url},
                               {"Entries",
                                {{{"Id", "ok"}, {"MessageBody", "fine"}},
                                 {{"Id", "ctl"}, {"MessageBody", std::string("bad\x01", 4)}},
                                 {{"Id", "late"}, {"MessageBody", "x"}, {"DelaySeconds", 901}}}}});
  ASSERT_EQ(s5, 200) << mixed.dump();
  ASSERT_EQ(mixed["Successful"].size(), 1u);
  EXPECT_EQ(mixed["Successful"][0]["Id"], "ok");
  EXPECT_EQ(mixed["Successful"][0]["MD5OfMessageBody"], Md5Hex("fine"));
  ASSERT_EQ(mixed["Failed"].size(), 2u);
  EXPECT_EQ(mixed["Failed"][0]["Id"], "ctl");
  EXPECT_EQ(mixed["Failed"][0]["Code"], "InvalidMessageContents");
  EXPECT_EQ(mixed["Failed"][0]["SenderFault"], true);
  EXPECT_EQ(mixed["Failed"][1]["Code"], "InvalidParameterValue");

  auto [s6, got] = CallJson("ReceiveMessage", {{"QueueUrl", url}});
  ASSERT_EQ(got["Messages"].size(), 1u);
  auto [s7, deleted] =
      CallJson("DeleteMessageBatch",
               {{"QueueUrl", url},
                {"Entries",
                 {{{"Id", "good"}, {"ReceiptHandle", got["Messages"][0]["ReceiptHandle"]}},
                  {{"Id", "bad"}, {"ReceiptHandle", "not-a-handle"}}}}});
  ASSERT_EQ(s7, 200);
  EXPECT_EQ(deleted["Successful"], (Json{{{"Id", "good"}}}));
  EXPECT_EQ(deleted["Failed"][0]["Code"], "ReceiptHandleIsInvalid");
}

TEST_F(SqsServiceTest, MessageAttributeNameSelectionAndItsMd5) {
  const std::string url = CreateQueueJson("q");
  Json attrs = {{"foo.a", {{"DataType", "String"}, {"StringValue", "1"}}},
                {"foo.b", {{"DataType", "String"}, {"StringValue", "2"}}},
                {"bar", {{"DataType", "String"}, {"StringValue", "3"}}}};
  CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"MessageAttributes", attrs}});
  auto [s, got] =
      CallJson("ReceiveMessage", {{"QueueUrl", url}, {"MessageAttributeNames", {"foo.*"}}});
  const Json& m = got["Messages"][0];
  EXPECT_EQ(m["MessageAttributes"].size(), 2u);
  EXPECT_FALSE(m["MessageAttributes"].contains("bar"));
  queue::MessageAttributes subset{{"foo.a", {"String", "1"}}, {"foo.b", {"String", "2"}}};
  EXPECT_EQ(m["MD5OfMessageAttributes"], queue::Md5OfAttributes(subset));
  EXPECT_FALSE(m.contains("Attributes"));  // no system attributes asked for
  // AWS (recorded): "*" is every one, and a prefix filter's dot is not part
  // of the prefix.
  auto names_for = [&](Json filter) {
    CallJson("SendMessage",
             {{"QueueUrl", url}, {"MessageBody", "x"}, {"MessageAttributes", attrs}});
    auto [status, received] = CallJson(
        "ReceiveMessage",
        {{"QueueUrl", url}, {"MaxNumberOfMessages", 1}, {"MessageAttributeNames", filter}});
    std::vector<std::string> names;
    for (const auto& [name, value] : received["Messages"][0]["MessageAttributes"].items()) {
      names.push_back(name);
    }
    return names;
  };
  EXPECT_EQ(names_for({"*"}), (std::vector<std::string>{"bar", "foo.a", "foo.b"}));
  EXPECT_EQ(names_for({"fo.*"}), (std::vector<std::string>{"foo.a", "foo.b"}));
  EXPECT_EQ(names_for({"ba.*"}), (std::vector<std::string>{"bar"}));
}

TEST_F(SqsServiceTest, LongPollCompletesOnSend) {
  const std::string url = CreateQueueJson("q");
  auto pending = StartJson("ReceiveMessage", {{"QueueUrl", url}, {"WaitTimeSeconds", 20}});
  EXPECT_FALSE(pending->Wait(50ms));
  CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "wake"}});
  ASSERT_TRUE(pending->Wait(10s));
  Json body = Json::parse(pending->BodyText());
  EXPECT_EQ(body["Messages"][0]["Body"], "wake");
}

TEST_F(SqsServiceTest, LongPollTimesOutEmpty) {
  const std::string url = CreateQueueJson("q");
  auto pending = StartJson("ReceiveMessage", {{"QueueUrl", url}, {"WaitTimeSeconds", 1}});
  EXPECT_FALSE(pending->Wait(20ms));
  clock_.Advance(1s);
  engine_->Poke();
  ASSERT_TRUE(pending->Wait(10s));
  EXPECT_EQ(pending->response().status, 200);
  EXPECT_EQ(pending->BodyText(), "{}");
}

TEST_F(SqsServiceTest, PolicyIsCheckedWithBatchAsSingleAction) {
  const std::string url = CreateQueueJson("jobs");
  auth_->Deny("sqs:DeleteMessage");
  auto [status, body] =
      CallJson("DeleteMessageBatch",
               {{"QueueUrl", url}, {"Entries", {{{"Id", "a"}, {"ReceiptHandle", "x"}}}}});
  EXPECT_EQ(status, 403);
  EXPECT_EQ(body["__type"], "com.amazonaws.sqs#AccessDenied");
  EXPECT_EQ(auth_->last_resource(), "arn:aws:sqs:us-east-1:000000000000:jobs");
}

// A queue's Policy attribute is decided with the key's own policy: its Deny
// refuses even the root key (but never over the policy itself), its Allow
// grants a user what the key does not; a Policy that is not an IAM resource
// policy is refused.
TEST_F(SqsServiceTest, QueuePoliciesAreEnforced) {
  const std::string url = CreateQueueJson("jobs");
  const std::string arn = "arn:aws:sqs:us-east-1:000000000000:jobs";
  const Json policy = {
      {"Version", "2012-10-17"},
      {"Statement",
       {{{"Effect", "Deny"}, {"Principal", "*"}, {"Action", "sqs:PurgeQueue"}, {"Resource", arn}},
        {{"Effect", "Allow"},
         {"Principal", {{"AWS", "arn:aws:iam::000000000000:user/alice"}}},
         {"Action", {"SQS:SendMessage", "sqs:GetQueueUrl"}},
         {"Resource", arn}},
        {{"Effect", "Deny"},
         {"Principal", "*"},
         {"Action", "sqs:*"},
         {"Resource", arn},
         {"Condition", {{"Bool", {{"aws:SecureTransport", "false"}}}}}}}}};
  for (const char* bad : {R"({"Statement": []})", R"({"Statement": [{"Effect": "Allow",
        "Action": "sqs:*", "Resource": "*"}]})",
                          "not json"}) {
    auto [status, error] =
        CallJson("SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", {{"Policy", bad}}}});
    EXPECT_EQ(status, 400) << bad;
    EXPECT_EQ(error["__type"], "com.amazonaws.sqs#InvalidAttributeValue") << bad;
  }
  auto [s1, set] = CallJson("SetQueueAttributes",
                            {{"QueueUrl", url}, {"Attributes", {{"Policy", policy.dump()}}}});
  ASSERT_EQ(s1, 200) << set.dump();
  // The fake peer is plain HTTP: the third statement refuses everything ...
  auto [s2, sent] = CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}});
  EXPECT_EQ(s2, 403);
  EXPECT_EQ(sent["__type"], "com.amazonaws.sqs#AccessDenied");
  // ... but the root key may still read and replace the policy.
  auto [s3, attrs] =
      CallJson("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"Policy"}}});
  EXPECT_EQ(s3, 200);
  Json without_tls = policy;
  without_tls["Statement"].erase(2);
  auto [s4, replaced] = CallJson(
      "SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", {{"Policy", without_tls.dump()}}}});
  ASSERT_EQ(s4, 200) << replaced.dump();
  EXPECT_EQ(CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}}).first, 200);
  EXPECT_EQ(CallJson("PurgeQueue", {{"QueueUrl", url}}).first, 403);  // the first statement
  // A user whose key may not send is granted it by the queue.
  auth_->Deny("sqs:SendMessage");
  auth_->AuthenticateAs("alice");
  EXPECT_EQ(CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "y"}}).first, 200);
  auth_->AuthenticateAs("bob");
  EXPECT_EQ(CallJson("SendMessage", {{"QueueUrl", url}, {"MessageBody", "z"}}).first, 403);
  // Another setting's change replaces the queue's settings whole: the policy
  // stays in force; once removed, nothing of it is left.
  const auto set_attribute = [&](const char* name, const char* value) {
    return CallJson("SetQueueAttributes", {{"QueueUrl", url}, {"Attributes", {{name, value}}}})
        .first;
  };
  ASSERT_EQ(set_attribute("VisibilityTimeout", "40"), 200);
  EXPECT_EQ(CallJson("PurgeQueue", {{"QueueUrl", url}}).first, 403);
  ASSERT_EQ(set_attribute("Policy", ""), 200);
  EXPECT_EQ(CallJson("PurgeQueue", {{"QueueUrl", url}}).first, 200);
}

TEST_F(SqsServiceTest, BadSignatureIsRefusedAndBodyWasRead) {
  auth_->FailWith("SignatureDoesNotMatch");
  auto x = CallQuery("Action=ListQueues");
  EXPECT_EQ(x->status, 403);
  EXPECT_STREQ(x->doc.child("ErrorResponse").child("Error").child_value("Code"),
               "SignatureDoesNotMatch");
  EXPECT_EQ(auth_->last_body(), "Action=ListQueues");
}

TEST_F(SqsServiceTest, UnknownActionAndMissingParameters) {
  auto [s1, unknown] = CallJson("Frobnicate", Json::object());
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(unknown["__type"], "com.amazonaws.sqs#InvalidAction");
  auto [s2, missing] = CallJson("SendMessage", {{"MessageBody", "x"}});
  EXPECT_EQ(missing["__type"], "com.amazon.coral.service#MissingRequiredParameterException");
  auto [s3, limits] =
      CallJson("ReceiveMessage", {{"QueueUrl", CreateQueueJson("q")}, {"MaxNumberOfMessages", 11}});
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(limits["__type"], "com.amazon.coral.service#InvalidParameterValueException");
  auto [s4, vis] = CallJson("ReceiveMessage",
                            {{"QueueUrl", CreateQueueJson("q")}, {"VisibilityTimeout", 43201}});
  EXPECT_EQ(vis["__type"], "com.amazon.coral.service#InvalidParameterValueException");
  auto [s5, fifo] = CallJson("CreateQueue", {{"QueueName", "a.fifo"}});
  EXPECT_EQ(s5, 400);
  EXPECT_NE(fifo["message"].get<std::string>().find("FIFO"), std::string::npos);
}

// AWS (validated): a queue's URL is no endpoint for CreateQueue or
// ListQueues; the queue's own actions are served there.
TEST_F(SqsServiceTest, QueueUrlIsNoEndpointForQueuelessActions) {
  CallQuery("Action=CreateQueue&QueueName=q");
  for (const char* action : {"CreateQueue&QueueName=other", "ListQueues"}) {
    auto x = CallQuery(std::string("Action=") + action, "/000000000000/q");
    EXPECT_EQ(x->status, 400) << action;
    auto error = x->doc.child("ErrorResponse").child("Error");
    EXPECT_STREQ(error.child_value("Code"), "InvalidAction");
    EXPECT_EQ(std::string(error.child_value("Message")).rfind("The action ", 0), 0u);
  }
  // Only q: "other" was not created.
  auto listed = CallQuery("Action=ListQueues");
  EXPECT_EQ(listed->status, 200);
  const auto result = listed->doc.child("ListQueuesResponse").child("ListQueuesResult");
  EXPECT_EQ(std::distance(result.children("QueueUrl").begin(), result.children("QueueUrl").end()),
            1);
  auto attrs = CallQuery("Action=GetQueueAttributes&AttributeName.1=All", "/000000000000/q");
  EXPECT_EQ(attrs->status, 200);
}

// AWS's words for an attribute with an empty value (recorded).
TEST_F(SqsServiceTest, EmptyAttributeValueInAwsWords) {
  auto [s1, empty] = CallJson(
      "SendMessage",
      {{"QueueUrl", CreateQueueJson("q")},
       {"MessageBody", "m"},
       {"MessageAttributes", {{"ErrorDetails", {{"DataType", "String"}, {"StringValue", ""}}}}}});
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(empty["message"],
            "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type "
            "'String'.");
}

// Error messages quote what the client sent; the reply must still parse as
// XML and decode as UTF-8 (found by sqs_service_fuzzer).
TEST_F(SqsServiceTest, QuotedBytesThatAreNotTextComeBackReplaced) {
  auto x = CallQuery("Action=Create%FF%07Queue&QueueName=q");
  EXPECT_EQ(x->status, 400);
  const std::string message = x->doc.child("ErrorResponse").child("Error").child_value("Message");
  EXPECT_NE(message.find("Create\xef\xbf\xbd\xef\xbf\xbdQueue"), std::string::npos) << message;
}

// A query parameter folded into an object (DelaySeconds.1=%FF) is quoted in
// its error with what is not text replaced (it threw in json::dump).
TEST_F(SqsServiceTest, FoldedParameterWithBytesIsAClearError) {
  CallQuery("Action=CreateQueue&QueueName=q");
  auto x =
      CallQuery("Action=SendMessage&QueueUrl=/000000000000/q&MessageBody=m&DelaySeconds.1=%FF");
  EXPECT_EQ(x->status, 400);
  auto error = x->doc.child("ErrorResponse").child("Error");
  EXPECT_STREQ(error.child_value("Code"), "InvalidParameterValue");
  EXPECT_NE(std::string(error.child_value("Message")).find("\xef\xbf\xbd"), std::string::npos);
}

// A .fifo name goes with FifoQueue=true and only with it, in either protocol;
// the FIFO-only attributes are unknown to a standard queue.
TEST_F(SqsServiceTest, FifoQueueTypeGoesWithItsName) {
  auto [s1, by_name] = CallJson("CreateQueue", {{"QueueName", "jobs.fifo"}});
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(by_name["__type"], "com.amazon.coral.service#InvalidParameterValueException");
  EXPECT_NE(by_name["message"].get<std::string>().find("FIFO"), std::string::npos);
  auto [s2, by_attribute] =
      CallJson("CreateQueue", {{"QueueName", "jobs"}, {"Attributes", {{"FifoQueue", "true"}}}});
  EXPECT_EQ(s2, 400);
  EXPECT_EQ(by_attribute["__type"], "com.amazon.coral.service#InvalidParameterValueException");
  auto [s3, dedup] =
      CallJson("CreateQueue",
               {{"QueueName", "jobs"}, {"Attributes", {{"ContentBasedDeduplication", "true"}}}});
  EXPECT_EQ(s3, 400);
  EXPECT_EQ(dedup["__type"], "com.amazonaws.sqs#InvalidAttributeName");
  auto query = CallQuery("Action=CreateQueue&QueueName=jobs.fifo&Version=2012-11-05");
  EXPECT_EQ(query->status, 400);
  auto error = query->doc.child("ErrorResponse").child("Error");
  EXPECT_STREQ(error.child_value("Code"), "InvalidParameterValue");
  // A standard queue does not know FifoQueue, even false (AWS, recorded).
  auto [s5, standard] =
      CallJson("CreateQueue", {{"QueueName", "jobs"}, {"Attributes", {{"FifoQueue", "false"}}}});
  EXPECT_EQ(s5, 400) << standard.dump();
  EXPECT_EQ(standard["__type"], "com.amazonaws.sqs#InvalidAttributeName");
  EXPECT_EQ(standard["message"], "Unknown Attribute FifoQueue.");
  // Nothing was created by the refused calls.
  auto [s4, listed] = CallJson("ListQueues", Json::object());
  EXPECT_EQ(s4, 200);
  EXPECT_FALSE(listed.contains("QueueUrls") && !listed["QueueUrls"].empty()) << listed.dump();
}

// A FIFO send answers with its SequenceNumber in both protocols, and a
// receive gives the FIFO system attributes.
TEST_F(SqsServiceTest, FifoSendAndReceiveInBothProtocols) {
  auto [s1, created] = CallJson(
      "CreateQueue", {{"QueueName", "jobs.fifo"}, {"Attributes", {{"FifoQueue", "true"}}}});
  ASSERT_EQ(s1, 200) << created.dump();
  const std::string url = created["QueueUrl"];
  auto [s2, sent] = CallJson("SendMessage", {{"QueueUrl", url},
                                             {"MessageBody", "one"},
                                             {"MessageGroupId", "g"},
                                             {"MessageDeduplicationId", "d1"}});
  ASSERT_EQ(s2, 200) << sent.dump();
  const std::string sequence = sent["SequenceNumber"];
  EXPECT_EQ(sequence.size(), 20u);
  auto query = CallQuery(
      "Action=SendMessage&QueueUrl=/000000000000/jobs.fifo&MessageBody=two&MessageGroupId=g&"
      "MessageDeduplicationId=d2");
  ASSERT_EQ(query->status, 200);
  const std::string second = query->doc.child("SendMessageResponse")
                                 .child("SendMessageResult")
                                 .child_value("SequenceNumber");
  EXPECT_GT(second, sequence);
  auto [s3, got] = CallJson(
      "ReceiveMessage",
      {{"QueueUrl", url}, {"MaxNumberOfMessages", 10}, {"MessageSystemAttributeNames", {"All"}}});
  ASSERT_EQ(s3, 200) << got.dump();
  ASSERT_EQ(got["Messages"].size(), 2u);
  const Json& a = got["Messages"][0]["Attributes"];
  EXPECT_EQ(a["MessageGroupId"], "g");
  EXPECT_EQ(a["MessageDeduplicationId"], "d1");
  EXPECT_EQ(a["SequenceNumber"], sequence);
  auto [s4, missing_group] = CallJson(
      "SendMessage", {{"QueueUrl", url}, {"MessageBody", "x"}, {"MessageDeduplicationId", "d"}});
  EXPECT_EQ(s4, 400);
  EXPECT_EQ(missing_group["__type"], "com.amazon.coral.service#MissingRequiredParameterException");
}

// AWS (recorded) refuses a whole FIFO batch when one entry lacks its group
// or, without content-based deduplication, its deduplication id: nothing of
// it is sent.
TEST_F(SqsServiceTest, FifoBatchLackingAGroupOrDedupIdIsRefusedWhole) {
  auto [s1, created] =
      CallJson("CreateQueue", {{"QueueName", "b.fifo"}, {"Attributes", {{"FifoQueue", "true"}}}});
  ASSERT_EQ(s1, 200) << created.dump();
  const std::string url = created["QueueUrl"];
  const Json good = {
      {"Id", "a"}, {"MessageBody", "a"}, {"MessageGroupId", "g"}, {"MessageDeduplicationId", "d1"}};
  auto [s2, no_dedup] =
      CallJson("SendMessageBatch",
               {{"QueueUrl", url},
                {"Entries", {good, {{"Id", "b"}, {"MessageBody", "b"}, {"MessageGroupId", "g"}}}}});
  EXPECT_EQ(s2, 400) << no_dedup.dump();
  EXPECT_EQ(no_dedup["message"],
            "The queue should either have ContentBasedDeduplication enabled or "
            "MessageDeduplicationId provided explicitly");
  auto [s3, no_group] = CallJson(
      "SendMessageBatch",
      {{"QueueUrl", url},
       {"Entries", {good, {{"Id", "b"}, {"MessageBody", "b"}, {"MessageDeduplicationId", "d2"}}}}});
  EXPECT_EQ(s3, 400) << no_group.dump();
  EXPECT_EQ(no_group["__type"], "com.amazon.coral.service#InvalidParameterValueException");
  EXPECT_EQ(no_group["message"], "The request must contain the parameter MessageGroupId.");
  auto [s4, got] = CallJson("ReceiveMessage", {{"QueueUrl", url}, {"MaxNumberOfMessages", 10}});
  ASSERT_EQ(s4, 200) << got.dump();
  EXPECT_FALSE(got.contains("Messages")) << got.dump();  // the good entries were not sent
  // With content-based deduplication the id may be left out.
  auto [s5, set] =
      CallJson("SetQueueAttributes",
               {{"QueueUrl", url}, {"Attributes", {{"ContentBasedDeduplication", "true"}}}});
  ASSERT_EQ(s5, 200) << set.dump();
  auto [s6, sent] =
      CallJson("SendMessageBatch",
               {{"QueueUrl", url},
                {"Entries", {good, {{"Id", "b"}, {"MessageBody", "b"}, {"MessageGroupId", "g"}}}}});
  EXPECT_EQ(s6, 200) << sent.dump();
  EXPECT_EQ(sent["Successful"].size(), 2u) << sent.dump();
}

TEST_F(SqsServiceTest, QueueAttributesAndConflicts) {
  const std::string url = CreateQueueJson("q", {{"DelaySeconds", "2"}});
  auto [s1, again] =
      CallJson("CreateQueue", {{"QueueName", "q"}, {"Attributes", {{"DelaySeconds", "3"}}}});
  EXPECT_EQ(s1, 400);
  EXPECT_EQ(again["__type"], "com.amazonaws.sqs#QueueNameExists");
  EXPECT_EQ(last_->response().headers.Get("x-amzn-query-error"), "QueueAlreadyExists;Sender");
  auto [s2, all] = CallJson("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"All"}}});
  EXPECT_EQ(all["Attributes"]["DelaySeconds"], "2");
  EXPECT_EQ(all["Attributes"]["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_TRUE(all["Attributes"].contains("ApproximateNumberOfMessagesDelayed"));
  EXPECT_TRUE(all["Attributes"].contains("CreatedTimestamp"));
  auto [s3, bad] =
      CallJson("GetQueueAttributes", {{"QueueUrl", url}, {"AttributeNames", {"Nope"}}});
  EXPECT_EQ(bad["__type"], "com.amazonaws.sqs#InvalidAttributeName");
  auto [s4, set] = CallJson("SetQueueAttributes",
                            {{"QueueUrl", url}, {"Attributes", {{"VisibilityTimeout", "x"}}}});
  EXPECT_EQ(set["__type"], "com.amazonaws.sqs#InvalidAttributeValue");
}

TEST_F(SqsServiceTest, ListQueuesPaginates) {
  for (const char* n : {"a1", "a2", "a3", "b1"}) CreateQueueJson(n);
  auto [s1, page1] = CallJson("ListQueues", {{"QueueNamePrefix", "a"}, {"MaxResults", 2}});
  ASSERT_EQ(page1["QueueUrls"].size(), 2u);
  ASSERT_TRUE(page1.contains("NextToken"));
  auto [s2, page2] =
      CallJson("ListQueues",
               {{"QueueNamePrefix", "a"}, {"MaxResults", 2}, {"NextToken", page1["NextToken"]}});
  ASSERT_EQ(page2["QueueUrls"].size(), 1u);
  EXPECT_EQ(page2["QueueUrls"][0], "http://localhost:4566/000000000000/a3");
  EXPECT_FALSE(page2.contains("NextToken"));
  auto x = CallQuery("Action=ListQueues");
  int urls = 0;
  for (auto u : x->doc.child("ListQueuesResponse").child("ListQueuesResult").children("QueueUrl")) {
    (void)u;
    ++urls;
  }
  EXPECT_EQ(urls, 4);
}

TEST_F(SqsServiceTest, RedriveMoveTaskAndSourcesOverTheWire) {
  const std::string dlq = CreateQueueJson("dlq");
  const std::string src = CreateQueueJson(
      "src",
      {{"RedrivePolicy",
        R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":1})"}});
  auto [s1, sources] = CallJson("ListDeadLetterSourceQueues", {{"QueueUrl", dlq}});
  EXPECT_EQ(sources["queueUrls"], (Json{src}));
  CallJson("SendMessage", {{"QueueUrl", src}, {"MessageBody", "x"}});
  CallJson("ReceiveMessage", {{"QueueUrl", src}, {"VisibilityTimeout", 0}});
  auto [s2, none] = CallJson("ReceiveMessage", {{"QueueUrl", src}});
  EXPECT_FALSE(none.contains("Messages"));
  auto [s3, dead] = CallJson(
      "ReceiveMessage", {{"QueueUrl", dlq}, {"VisibilityTimeout", 0}, {"AttributeNames", {"All"}}});
  ASSERT_EQ(dead["Messages"].size(), 1u);
  EXPECT_EQ(dead["Messages"][0]["Attributes"]["DeadLetterQueueSourceArn"],
            "arn:aws:sqs:us-east-1:000000000000:src");
  auto [s4, task] =
      CallJson("StartMessageMoveTask", {{"SourceArn", "arn:aws:sqs:us-east-1:000000000000:dlq"}});
  ASSERT_EQ(s4, 200) << task.dump();
  EXPECT_FALSE(task["TaskHandle"].get<std::string>().empty());
  engine_->Poke();
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  Json tasks;
  while (std::chrono::steady_clock::now() < deadline) {
    tasks =
        CallJson("ListMessageMoveTasks", {{"SourceArn", "arn:aws:sqs:us-east-1:000000000000:dlq"}})
            .second;
    if (tasks["Results"][0]["Status"] != "RUNNING") break;
    std::this_thread::sleep_for(5ms);
  }
  EXPECT_EQ(tasks["Results"][0]["Status"], "COMPLETED");
  EXPECT_EQ(tasks["Results"][0]["ApproximateNumberOfMessagesMoved"], 1);
  auto [s5, back] = CallJson("ReceiveMessage", {{"QueueUrl", src}});
  EXPECT_EQ(back["Messages"].size(), 1u);
}

TEST_F(SqsServiceTest, TagsAndVisibilityInQuery) {
  CallQuery("Action=CreateQueue&QueueName=t&Tag.1.Key=team&Tag.1.Value=img");
  CallQuery("Action=TagQueue&QueueUrl=/000000000000/t&Tag.1.Key=env&Tag.1.Value=dev");
  CallQuery("Action=UntagQueue&QueueUrl=/000000000000/t&TagKey.1=team");
  auto tags = CallQuery("Action=ListQueueTags&QueueUrl=/000000000000/t");
  auto tag = tags->doc.child("ListQueueTagsResponse").child("ListQueueTagsResult").child("Tag");
  EXPECT_STREQ(tag.child_value("Key"), "env");
  EXPECT_STREQ(tag.child_value("Value"), "dev");
  EXPECT_FALSE(tag.next_sibling("Tag"));

  CallQuery("Action=SendMessage&QueueUrl=/000000000000/t&MessageBody=m");
  auto got = CallQuery("Action=ReceiveMessage&QueueUrl=/000000000000/t");
  std::string handle = got->doc.child("ReceiveMessageResponse")
                           .child("ReceiveMessageResult")
                           .child("Message")
                           .child_value("ReceiptHandle");
  ASSERT_FALSE(handle.empty());
  auto changed = CallQuery(
      "Action=ChangeMessageVisibility&QueueUrl=/000000000000/t"
      "&ReceiptHandle=" +
      UriEncode(handle) + "&VisibilityTimeout=0");
  EXPECT_EQ(changed->status, 200);
  EXPECT_TRUE(changed->doc.child("ChangeMessageVisibilityResponse").child("ResponseMetadata"));
  auto again = CallQuery("Action=ReceiveMessage&QueueUrl=/000000000000/t");
  EXPECT_TRUE(
      again->doc.child("ReceiveMessageResponse").child("ReceiveMessageResult").child("Message"));
}

}  // namespace
}  // namespace imgbatch::sqs
