// Put/GetBucketNotificationConfiguration through the handler, against the
// real store, queue engine and notifier (events land in a real queue), and
// the notification XML parser on its own.
#include <future>
#include <nlohmann/json.hpp>

#include "notify/notifier.h"
#include "notify/queue_destination.h"
#include "queue/queue_engine.h"
#include "s3/notification_xml.h"
#include "s3/testing/s3_test_util.h"

namespace imgbatch::s3::testing {
namespace {

constexpr char kQueueArn[] = "arn:aws:sqs:us-east-1:000000000000:events";

std::string QueueConfig(const std::string& inner) {
  return "<QueueConfiguration>" + inner + "</QueueConfiguration>";
}

std::string Document(const std::string& inner) {
  return "<NotificationConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">" + inner +
         "</NotificationConfiguration>";
}

std::string FilterRule(const std::string& name, const std::string& value) {
  return "<FilterRule><Name>" + name + "</Name><Value>" + value + "</Value></FilterRule>";
}

// A queue configuration for kQueueArn on ObjectCreated with a key filter.
std::string CreatedConfig(const std::string& id, const std::string& prefix,
                          const std::string& suffix = "") {
  std::string rules;
  if (!prefix.empty()) rules += FilterRule("prefix", prefix);
  if (!suffix.empty()) rules += FilterRule("Suffix", suffix);
  std::string filter = rules.empty() ? "" : "<Filter><S3Key>" + rules + "</S3Key></Filter>";
  std::string id_element = id.empty() ? "" : "<Id>" + id + "</Id>";
  return QueueConfig(id_element + "<Queue>" + std::string(kQueueArn) +
                     "</Queue><Event>s3:ObjectCreated:*</Event>" + filter);
}

class NotificationOpsTest : public S3Fixture {
 protected:
  void SetUp() override {
    auto engine = queue::QueueEngine::Open(*db_, clock_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    queues_ = std::move(engine).value();
    ASSERT_TRUE(queues_->CreateQueue("events", {}, {}).ok());
    destination_ = std::make_unique<notify::QueueDestination>(*queues_);
    notifier_ =
        std::make_unique<notify::Notifier>(*store_, *destination_, notify::EventSource{}, clock_);
    store_->SetEventSink(notifier_.get());
    context_.notifier = notifier_.get();
    handler_ = MakeS3Handler(context_);
    CreateBucket("photos");
  }

  void TearDown() override {
    handler_ = nullptr;
    if (store_) store_->SetEventSink(nullptr);
  }

  std::shared_ptr<http::FakeExchange> PutConfig(const std::string& bucket,
                                                const std::string& body) {
    return Call("PUT", "/" + bucket + "?notification", {}, body);
  }

  // Every message now in the queue (bodies), taking them off the queue.
  std::vector<std::string> Drain() {
    std::vector<std::string> bodies;
    while (true) {
      std::promise<Result<std::vector<queue::ReceivedMessage>>> done;
      queue::ReceiveOptions options;
      options.max_messages = queue::kMaxReceiveMessages;
      options.wait_seconds = 0;
      queues_->Receive("events", options, [&](auto result) { done.set_value(std::move(result)); });
      auto received = done.get_future().get();
      EXPECT_TRUE(received.ok()) << received.status().ToString();
      if (!received.ok() || received->empty()) return bodies;
      for (const auto& message : *received) {
        bodies.push_back(message.body);
        EXPECT_TRUE(queues_->Delete("events", message.receipt_handle).ok());
      }
    }
  }

  std::unique_ptr<queue::QueueEngine> queues_;
  std::unique_ptr<notify::QueueDestination> destination_;
  std::unique_ptr<notify::Notifier> notifier_;
};

TEST_F(NotificationOpsTest, GetWithoutConfigurationIsEmptyDocument) {
  auto ex = Call("GET", "/photos?notification");
  ASSERT_EQ(ex->response().status, 200) << ex->BodyText();
  EXPECT_EQ(Header(*ex, "Content-Type"), "application/xml");
  auto doc = Xml(ex->BodyText());
  auto root = doc.child("NotificationConfiguration");
  ASSERT_TRUE(root);
  EXPECT_STREQ(root.attribute("xmlns").value(), "http://s3.amazonaws.com/doc/2006-03-01/");
  EXPECT_FALSE(root.first_child());
}

TEST_F(NotificationOpsTest, PutThenGetRoundTripsWithGeneratedIdAndAwsRuleNames) {
  auto put = PutConfig("photos", Document(CreatedConfig("", "incoming/", ".jpg")));
  ASSERT_EQ(put->response().status, 200) << put->BodyText();
  EXPECT_TRUE(put->BodyText().empty());

  auto get = Call("GET", "/photos?notification");
  ASSERT_EQ(get->response().status, 200) << get->BodyText();
  auto doc = Xml(get->BodyText());
  auto queue = doc.child("NotificationConfiguration").child("QueueConfiguration");
  ASSERT_TRUE(queue);
  EXPECT_FALSE(std::string(queue.child_value("Id")).empty());
  EXPECT_EQ(std::string(queue.child_value("Queue")), kQueueArn);
  EXPECT_EQ(std::string(queue.child_value("Event")), "s3:ObjectCreated:*");
  std::vector<std::pair<std::string, std::string>> rules;
  for (auto rule : queue.child("Filter").child("S3Key").children("FilterRule")) {
    rules.emplace_back(rule.child_value("Name"), rule.child_value("Value"));
  }
  EXPECT_EQ(rules, (std::vector<std::pair<std::string, std::string>>{{"Prefix", "incoming/"},
                                                                     {"Suffix", ".jpg"}}));
  EXPECT_FALSE(queue.next_sibling("QueueConfiguration"));

  // A client's own id is kept.
  ASSERT_EQ(PutConfig("photos", Document(CreatedConfig("mine", "")))->response().status, 200);
  auto again = Xml(Call("GET", "/photos?notification")->BodyText());
  auto only = again.child("NotificationConfiguration").child("QueueConfiguration");
  EXPECT_EQ(std::string(only.child_value("Id")), "mine");
  EXPECT_FALSE(only.child("Filter"));
}

TEST_F(NotificationOpsTest, PutSendsOneTestEventAndObjectsThenNotify) {
  ASSERT_EQ(PutConfig("photos", Document(CreatedConfig("jpg", "", ".jpg")))->response().status,
            200);
  auto bodies = Drain();
  ASSERT_EQ(bodies.size(), 1u);
  auto test_event = nlohmann::json::parse(bodies[0]);
  EXPECT_EQ(test_event["Event"], "s3:TestEvent");
  EXPECT_EQ(test_event["Bucket"], "photos");

  Put("photos", "a b.jpg", "hello");
  Put("photos", "notes.txt", "filtered out");
  bodies = Drain();
  ASSERT_EQ(bodies.size(), 1u);
  auto record = nlohmann::json::parse(bodies[0])["Records"][0];
  EXPECT_EQ(record["eventName"], "ObjectCreated:Put");
  EXPECT_EQ(record["s3"]["configurationId"], "jpg");
  EXPECT_EQ(record["s3"]["object"]["key"], "a+b.jpg");
}

TEST_F(NotificationOpsTest, EmptyConfigurationRemovesNotifications) {
  ASSERT_EQ(PutConfig("photos", Document(CreatedConfig("all", "")))->response().status, 200);
  ASSERT_EQ(PutConfig("photos", Document(""))->response().status, 200);
  Drain();
  Put("photos", "k", "v");
  EXPECT_TRUE(Drain().empty());
  auto doc = Xml(Call("GET", "/photos?notification")->BodyText());
  EXPECT_FALSE(doc.child("NotificationConfiguration").first_child());
}

TEST_F(NotificationOpsTest, UnknownQueueIsInvalidArgument) {
  std::string config = QueueConfig(
      "<Queue>arn:aws:sqs:us-east-1:000000000000:nope</Queue><Event>s3:ObjectCreated:*</Event>");
  auto ex = PutConfig("photos", Document(config));
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "InvalidArgument");
  EXPECT_TRUE(Drain().empty());
}

TEST_F(NotificationOpsTest, OverlappingConfigurationsAreAmbiguous) {
  auto ex = PutConfig("photos", Document(CreatedConfig("a", "incoming/") +
                                         CreatedConfig("b", "incoming/x", ".jpg")));
  EXPECT_EQ(ex->response().status, 400);
  EXPECT_EQ(ErrorCode(*ex), "InvalidArgument");
  auto doc = Xml(ex->BodyText());
  EXPECT_NE(std::string(doc.child("Error").child_value("Message"))
                .find("Configuration is ambiguously defined"),
            std::string::npos)
      << ex->BodyText();
  auto get = Xml(Call("GET", "/photos?notification")->BodyText());
  EXPECT_FALSE(get.child("NotificationConfiguration").first_child());
}

TEST_F(NotificationOpsTest, MalformedXmlAndUnsupportedDestinations) {
  for (const std::string& body :
       {std::string("<NotificationConfiguration><QueueConfiguration>"), std::string(""),
        std::string("<Other/>"), Document(QueueConfig("<Event>s3:ObjectCreated:*</Event>")),
        Document(CreatedConfig("a", "") + "<Surprise/>"),
        // Not XML text (a raw byte that is not UTF-8, a control character by
        // reference): it could not be served back as it was accepted.
        Document(CreatedConfig("a",
                               "in\xC9"
                               "coming/")),
        Document(CreatedConfig("a&#1;", ""))}) {
    auto ex = PutConfig("photos", body);
    EXPECT_EQ(ex->response().status, 400) << body;
    EXPECT_EQ(ErrorCode(*ex), "MalformedXML") << body;
  }
  auto topic =
      PutConfig("photos", Document("<TopicConfiguration><Topic>arn:aws:sns:us-east-1:1:t</Topic>"
                                   "<Event>s3:ObjectCreated:*</Event></TopicConfiguration>"));
  EXPECT_EQ(topic->response().status, 400);
  EXPECT_EQ(ErrorCode(*topic), "InvalidArgument");
  EXPECT_NE(topic->BodyText().find("not supported"), std::string::npos);
}

TEST_F(NotificationOpsTest, MissingBucketIsNoSuchBucket) {
  auto put = PutConfig("absent", Document(CreatedConfig("a", "")));
  EXPECT_EQ(put->response().status, 404);
  EXPECT_EQ(ErrorCode(*put), "NoSuchBucket");
  auto get = Call("GET", "/absent?notification");
  EXPECT_EQ(get->response().status, 404);
  EXPECT_EQ(ErrorCode(*get), "NoSuchBucket");
}

TEST_F(NotificationOpsTest, NeedsTheNotificationPermissions) {
  key_ = "reader";
  auth_->Grant("reader", "s3:GetBucketNotification", "arn:aws:s3:::photos");
  EXPECT_EQ(Call("GET", "/photos?notification")->response().status, 200);
  auto put = PutConfig("photos", Document(CreatedConfig("a", "")));
  EXPECT_EQ(put->response().status, 403);
  EXPECT_EQ(ErrorCode(*put), "AccessDenied");
}

TEST_F(NotificationOpsTest, WithoutNotifierIsNotImplemented) {
  context_.notifier = nullptr;
  handler_ = MakeS3Handler(context_);
  for (const char* method : {"GET", "PUT"}) {
    auto ex = Call(method, "/photos?notification", {}, Document(CreatedConfig("a", "")));
    EXPECT_EQ(ex->response().status, 501) << method;
    EXPECT_EQ(ErrorCode(*ex), "NotImplemented") << method;
  }
}

TEST(NotificationXmlTest, ParsesAwsDocumentCaseInsensitiveRuleNames) {
  auto config = ParseNotificationConfiguration(
      Document("<QueueConfiguration><Id>x</Id><Queue> arn:q </Queue>"
               "<Event>s3:ObjectCreated:*</Event><Event>s3:ObjectRemoved:*</Event>"
               "<Filter><S3Key>" +
               FilterRule("PREFIX", "in/ ") + FilterRule("suffix", ".png") +
               "</S3Key></Filter></QueueConfiguration>"));
  ASSERT_TRUE(config.ok()) << config.status().ToString();
  ASSERT_EQ(config->queues.size(), 1u);
  const auto& q = config->queues[0];
  EXPECT_EQ(q.id, "x");
  EXPECT_EQ(q.queue_arn, "arn:q");
  EXPECT_EQ(q.events, (std::vector<std::string>{"s3:ObjectCreated:*", "s3:ObjectRemoved:*"}));
  EXPECT_EQ(q.prefix, "in/ ");  // values as sent
  EXPECT_EQ(q.suffix, ".png");
  // Rendered and parsed again: the same configuration.
  auto again = ParseNotificationConfiguration(RenderNotificationConfiguration(*config));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(*again, *config);
}

TEST(NotificationXmlTest, RefusesBadFilterRules) {
  auto with_rules = [](const std::string& rules) {
    return ParseNotificationConfiguration(
        Document(QueueConfig("<Queue>q</Queue><Event>s3:ObjectCreated:*</Event><Filter><S3Key>" +
                             rules + "</S3Key></Filter>")));
  };
  auto twice = with_rules(FilterRule("prefix", "a") + FilterRule("Prefix", "b"));
  EXPECT_EQ(twice.status().detail(), "InvalidArgument");
  auto unknown = with_rules(FilterRule("middle", "a"));
  EXPECT_EQ(unknown.status().detail(), "InvalidArgument");
  auto no_value = with_rules("<FilterRule><Name>prefix</Name></FilterRule>");
  EXPECT_EQ(no_value.status().detail(), "MalformedXML");
  auto cloud = ParseNotificationConfiguration(
      Document("<CloudFunctionConfiguration/><EventBridgeConfiguration/>"));
  EXPECT_EQ(cloud.status().detail(), "InvalidArgument");
  auto bridge = ParseNotificationConfiguration(Document("<EventBridgeConfiguration/>"));
  EXPECT_EQ(bridge.status().detail(), "InvalidArgument");
}

}  // namespace
}  // namespace imgbatch::s3::testing
