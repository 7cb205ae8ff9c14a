#include "queue/queue_engine.h"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "common/hashing.h"
#include "db/testing/sync_gate.h"
#include "queue/queue_sql.h"

namespace imgbatch::queue {
namespace {

using namespace std::chrono_literals;
using Messages = std::vector<ReceivedMessage>;

class QueueEngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("queue_engine_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    engine_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }

  using Report = std::function<void(const std::string& line)>;
  // kill -9 tests: runs `work` in a forked child on this database (its own
  // engine, its clock at clock_'s instant; `report` writes a line to the
  // parent, from any thread), kills the child with SIGKILL once `kill_after`
  // reported lines start with `counted`, and returns every line it reported
  // (the pipe drains after the kill). nullopt, with a failure, when the child
  // ended by itself first (`work` returned).
  std::optional<std::vector<std::string>> RunChildUntilKilled(
      size_t kill_after, std::string_view counted,
      const std::function<void(QueueEngine&, const Report&)>& work) {
    engine_.reset();  // the child opens its own; fork with no other threads alive
    db_.reset();
    int fds[2];
    if (pipe(fds) != 0) {
      ADD_FAILURE() << "pipe failed";
      return std::nullopt;
    }
    const std::string path = (dir_ / "test.db").string();
    const int64_t now = clock_.NowMillis();
    pid_t child = fork();
    if (child < 0) {
      ADD_FAILURE() << "fork failed";
      return std::nullopt;
    }
    if (child == 0) {
      close(fds[0]);
      db::Options options;
      options.path = path;
      auto db = db::Database::Open(options);
      if (!db.ok()) _exit(2);
      ManualClock clock(now);
      auto engine = QueueEngine::Open(**db, clock);
      if (!engine.ok()) _exit(3);
      std::mutex report_mu;
      work(**engine, [&](const std::string& line) {
        const std::string l = line + "\n";
        std::lock_guard lock(report_mu);
        if (write(fds[1], l.data(), l.size()) != static_cast<ssize_t>(l.size())) _exit(4);
      });
      _exit(0);
    }
    close(fds[1]);
    FILE* in = fdopen(fds[0], "r");
    std::vector<std::string> lines;
    size_t sent = 0;
    bool killed = false;
    char line[256];
    while (in != nullptr && std::fgets(line, sizeof line, in)) {
      std::string l(line);
      if (!l.empty() && l.back() == '\n') l.pop_back();
      if (l.starts_with(counted)) ++sent;
      lines.push_back(std::move(l));
      if (!killed && sent >= kill_after) {
        kill(child, SIGKILL);  // the rest of the pipe still drains below
        killed = true;
      }
    }
    if (in != nullptr) std::fclose(in);
    int status = 0;
    waitpid(child, &status, 0);
    if (!killed) {
      ADD_FAILURE() << "child ended early, status " << status;
      return std::nullopt;
    }
    return lines;
  }

  void Reopen() {
    engine_.reset();
    db_.reset();
    db::Options options;
    options.path = (dir_ / "test.db").string();
    options.wal_sync_for_test = wal_sync_for_test_;
    auto db = db::Database::Open(options);
    ASSERT_TRUE(db.ok()) << db.status().ToString();
    db_ = std::move(*db);
    auto engine = QueueEngine::Open(*db_, clock_, engine_options_);
    ASSERT_TRUE(engine.ok()) << engine.status().ToString();
    engine_ = std::move(*engine);
  }

  // SQLite's EXPLAIN QUERY PLAN for `sql`, one step per line ("" on error).
  std::string QueryPlan(const std::string& sql) {
    std::string plan;
    Status read = db_->Read([&](db::Conn& conn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare("EXPLAIN QUERY PLAN " + sql));
      while (true) {
        IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        plan += st.ColumnText(3) + "\n";
      }
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok()) << read.ToString();
    return plan;
  }

  // The first column of the first row `sql` reads, or -1 without a row.
  int64_t QueryInt(const std::string& sql) {
    int64_t value = -1;
    Status read = db_->Read([&](db::Conn& conn) -> Status {
      IMGBATCH_ASSIGN_OR_RETURN(db::Statement st, conn.Prepare(sql));
      IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
      if (row) value = st.ColumnInt(0);
      return Status::Ok();
    });
    EXPECT_TRUE(read.ok()) << read.ToString();
    return value;
  }

  // Replaces the database with one made by the queue schema's first
  // `migrations` steps holding what `sql` writes (the next Reopen() upgrades
  // it).
  void WriteOldSchemaDatabase(size_t migrations, const std::string& sql) {
    engine_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    auto old_db = db::Database::Open(options);
    ASSERT_TRUE(old_db.ok());
    std::vector<db::Migration> old_steps = QueueEngine::Migrations();
    old_steps.resize(migrations);
    ASSERT_TRUE((*old_db)->Migrate("queue", old_steps).ok());
    ASSERT_TRUE((*old_db)->Write([&](db::Txn& txn) { return txn.Exec(sql); }).ok());
  }

  void Create(const std::string& name, AttributeMap attributes = {}) {
    auto q = engine_->CreateQueue(name, attributes, {});
    ASSERT_TRUE(q.ok()) << q.status().ToString();
  }

  std::string Send(const std::string& queue, const std::string& body,
                   std::optional<int> delay = std::nullopt) {
    SendRequest r;
    r.body = body;
    r.delay_seconds = delay;
    auto sent = engine_->Send(queue, std::move(r));
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->message_id : "";
  }

  // Starts a receive; the future completes when the engine calls back.
  std::future<Result<Messages>> ReceiveAsync(const std::string& queue, int max = 10,
                                             std::optional<int> visibility = std::nullopt,
                                             int wait = 0) {
    auto promise = std::make_shared<std::promise<Result<Messages>>>();
    auto future = promise->get_future();
    ReceiveOptions options;
    options.max_messages = max;
    options.visibility_timeout = visibility;
    options.wait_seconds = wait;
    engine_->Receive(queue, options,
                     [promise](Result<Messages> r) { promise->set_value(std::move(r)); });
    return future;
  }

  Messages Receive(const std::string& queue, int max = 10,
                   std::optional<int> visibility = std::nullopt) {
    auto future = ReceiveAsync(queue, max, visibility, 0);
    EXPECT_EQ(future.wait_for(10s), std::future_status::ready);
    auto r = future.get();
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : Messages{};
  }

  // What a receive started with ReceiveAsync gives once the engine answers
  // (a failure, and nothing, if it does not or answers with an error).
  Messages Await(std::future<Result<Messages>>& pending) {
    if (pending.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the receive did not answer";
      return {};
    }
    auto got = pending.get();
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Messages{};
  }

  QueueCounts Counts(const std::string& queue) {
    auto c = engine_->Counts(queue);
    EXPECT_TRUE(c.ok());
    return c.ok() ? *c : QueueCounts{};
  }

  // A handle that no longer names the message's latest receive: as AWS
  // documents, the delete succeeds and deletes nothing, and a visibility
  // change is refused ("The receipt handle has expired").
  void ExpectSuperseded(const std::string& queue, const std::string& handle) {
    EXPECT_TRUE(engine_->Delete(queue, handle).ok());
    EXPECT_EQ(engine_->ChangeVisibility(queue, handle, 0).detail(), "InvalidParameterValue");
  }

  // The unkeyed ("ib1") form earlier versions gave for the same receive:
  // its numbers without the time, then 16 random hex digits.
  static std::string UnkeyedForm(const std::string& handle) {
    const std::string raw = Base64Decode(handle).value_or("");
    const size_t time_at = raw.rfind(':', raw.rfind(':') - 1);
    return Base64Encode("ib1:" + raw.substr(4, time_at - 4) + ":" + RandomHex(8));
  }

  // Polls until done() holds, for what the engine thread does on its own
  // (a move task's steps, its sweep); false if it has not after 10 s.
  static bool PollUntil(const std::function<bool()>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 10s;
    while (!done()) {
      if (std::chrono::steady_clock::now() >= deadline) return false;
      std::this_thread::sleep_for(5ms);
    }
    return true;
  }

  // The upgrade to keyed handles: the database as a version before them left
  // it (no receipt key), opened a second later.
  void UpgradeToKeyedHandles() {
    ASSERT_TRUE(
        db_->Write([](db::Txn& txn) { return txn.Exec("DELETE FROM queue_receipt_key"); }).ok());
    Advance(1s);
    Reopen();
  }

  void Advance(std::chrono::milliseconds d) {
    clock_.Advance(d);
    engine_->Poke();
  }

  std::filesystem::path dir_;
  EngineOptions engine_options_;  // Reopen() applies changes
  // db::Options::wal_sync_for_test, which Reopen() applies.
  std::function<Status(const std::function<Status()>&)> wal_sync_for_test_;
  ManualClock clock_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<QueueEngine> engine_;
};

TEST_F(QueueEngineTest, CreateIsIdempotentWithSameAttributes) {
  Create("jobs", {{"VisibilityTimeout", "60"}});
  EXPECT_TRUE(engine_->CreateQueue("jobs", {{"VisibilityTimeout", "60"}}, {}).ok());
  EXPECT_TRUE(engine_->CreateQueue("jobs", {}, {}).ok());
  auto conflict = engine_->CreateQueue("jobs", {{"VisibilityTimeout", "61"}}, {});
  EXPECT_EQ(conflict.status().code(), Code::kAlreadyExists);
  EXPECT_EQ(conflict.status().detail(), "QueueAlreadyExists");
}

TEST_F(QueueEngineTest, NameRules) {
  // ".fifo" names, and only they, are FIFO queues (FifoQueue=true).
  EXPECT_EQ(engine_->CreateQueue("a.fifo", {}, {}).status().detail(), "InvalidParameterValue");
  EXPECT_EQ(engine_->CreateQueue("a", {{"FifoQueue", "true"}}, {}).status().detail(),
            "InvalidParameterValue");
  EXPECT_TRUE(engine_->CreateQueue("a.fifo", {{"FifoQueue", "true"}}, {}).ok());
  EXPECT_TRUE(
      engine_->CreateQueue(std::string(75, 'f') + ".fifo", {{"FifoQueue", "true"}}, {}).ok());
  EXPECT_EQ(engine_->CreateQueue(std::string(76, 'f') + ".fifo", {{"FifoQueue", "true"}}, {})
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(engine_->CreateQueue(".fifo", {{"FifoQueue", "true"}}, {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(engine_->CreateQueue("bad name", {}, {}).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_->CreateQueue(std::string(81, 'a'), {}, {}).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(engine_->CreateQueue(std::string(80, 'a'), {}, {}).ok());
  EXPECT_EQ(engine_->GetQueue("missing").status().detail(), "QueueDoesNotExist");
}

TEST_F(QueueEngineTest, AttributesDefaultsAndLimits) {
  Create("q");
  auto attrs = engine_->GetAttributes("q");
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->at("VisibilityTimeout"), "30");
  EXPECT_EQ(attrs->at("MessageRetentionPeriod"), "345600");
  EXPECT_EQ(attrs->at("MaximumMessageSize"), "1048576");
  EXPECT_EQ(attrs->at("QueueArn"), "arn:aws:sqs:us-east-1:000000000000:q");
  EXPECT_EQ(attrs->at("ApproximateNumberOfMessages"), "0");
  EXPECT_EQ(engine_->SetAttributes("q", {{"VisibilityTimeout", "43201"}}).detail(),
            "InvalidAttributeValue");
  EXPECT_EQ(engine_->SetAttributes("q", {{"Bogus", "1"}}).detail(), "InvalidAttributeName");
  EXPECT_EQ(engine_->SetAttributes("q", {{"MessageRetentionPeriod", "59"}}).detail(),
            "InvalidAttributeValue");
  EXPECT_TRUE(engine_->SetAttributes("q", {{"DelaySeconds", "900"}}).ok());
  EXPECT_EQ(engine_->GetAttributes("q")->at("DelaySeconds"), "900");
  // 1 KiB .. 1 MiB, AWS's range since messages may be 1 MiB.
  EXPECT_TRUE(engine_->SetAttributes("q", {{"MaximumMessageSize", "1048576"}}).ok());
  EXPECT_EQ(engine_->SetAttributes("q", {{"MaximumMessageSize", "1048577"}}).detail(),
            "InvalidAttributeValue");
}

// SSE-SQS (the default) or SSE-KMS with a key, as AWS reports them; kept across
// a restart like every other attribute.
TEST_F(QueueEngineTest, EncryptionAttributesAreKeptOneKindAtATime) {
  Create("q");
  EXPECT_EQ(engine_->GetAttributes("q")->at("SqsManagedSseEnabled"), "true");
  EXPECT_FALSE(engine_->GetAttributes("q")->contains("KmsMasterKeyId"));
  EXPECT_FALSE(engine_->GetAttributes("q")->contains("KmsDataKeyReusePeriodSeconds"));

  ASSERT_TRUE(engine_->SetAttributes("q", {{"KmsMasterKeyId", "alias/aws/sqs"}}).ok());
  Reopen();
  auto attrs = engine_->GetAttributes("q");
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->at("KmsMasterKeyId"), "alias/aws/sqs");
  EXPECT_EQ(attrs->at("KmsDataKeyReusePeriodSeconds"), "300");
  EXPECT_EQ(attrs->at("SqsManagedSseEnabled"), "false");

  ASSERT_TRUE(engine_->SetAttributes("q", {{"KmsDataKeyReusePeriodSeconds", "86400"}}).ok());
  EXPECT_EQ(engine_->GetAttributes("q")->at("KmsDataKeyReusePeriodSeconds"), "86400");
  for (const char* bad : {"59", "86401", "soon"}) {
    EXPECT_EQ(engine_->SetAttributes("q", {{"KmsDataKeyReusePeriodSeconds", bad}}).detail(),
              "InvalidAttributeValue")
        << bad;
  }
  // AWS's code and words (recorded).
  const Status both =
      engine_->SetAttributes("q", {{"KmsMasterKeyId", "k"}, {"SqsManagedSseEnabled", "true"}});
  EXPECT_EQ(both.detail(), "InvalidAttributeName");
  EXPECT_EQ(both.message(),
            "You can use one type of server-side encryption (SSE) at one time. You can either "
            "enable KMS SSE or SQS SSE.");
  EXPECT_EQ(engine_->SetAttributes("q", {{"KmsMasterKeyId", "\xff"}}).detail(),
            "InvalidAttributeValue");
  EXPECT_EQ(engine_->SetAttributes("q", {{"KmsMasterKeyId", std::string(2049, 'k')}}).detail(),
            "InvalidAttributeValue");
  EXPECT_EQ(engine_->GetAttributes("q")->at("KmsMasterKeyId"), "alias/aws/sqs");

  ASSERT_TRUE(engine_->SetAttributes("q", {{"SqsManagedSseEnabled", "true"}}).ok());
  attrs = engine_->GetAttributes("q");
  EXPECT_EQ(attrs->at("SqsManagedSseEnabled"), "true");
  EXPECT_FALSE(attrs->contains("KmsMasterKeyId"));

  // Same key twice is the same queue; another key is QueueAlreadyExists.
  ASSERT_TRUE(engine_->CreateQueue("k", {{"KmsMasterKeyId", "alias/a"}}, {}).ok());
  EXPECT_TRUE(engine_->CreateQueue("k", {{"KmsMasterKeyId", "alias/a"}}, {}).ok());
  EXPECT_EQ(engine_->CreateQueue("k", {{"KmsMasterKeyId", "alias/b"}}, {}).status().detail(),
            "QueueAlreadyExists");
}

// AddPermission / RemovePermission: statements of the stored Policy, labelled
// by Sid, in the shape AWS writes them.
TEST_F(QueueEngineTest, PermissionsAreStatementsOfThePolicy) {
  Create("q");
  auto add = [&](const Permission& p) {
    return engine_->UpdatePolicy("q", [&](std::string_view policy, std::string_view arn) {
      return AddPermissionStatement(policy, arn, p);
    });
  };
  auto remove = [&](const std::string& label) {
    return engine_->UpdatePolicy("q", [&](std::string_view policy, std::string_view) {
      return RemovePermissionStatement(policy, label);
    });
  };
  auto policy = [&] {
    auto attrs = engine_->GetAttributes("q");
    return attrs->contains("Policy") ? nlohmann::json::parse(attrs->at("Policy"))
                                     : nlohmann::json();
  };
  ASSERT_TRUE(add({"send", {"111122223333"}, {"SendMessage"}}).ok());
  ASSERT_TRUE(add({"both", {"111122223333", "444455556666"}, {"ReceiveMessage", "*"}}).ok());
  Reopen();
  const nlohmann::json doc = policy();
  EXPECT_EQ(doc["Version"], "2008-10-17");
  EXPECT_EQ(doc["Id"], "arn:aws:sqs:us-east-1:000000000000:q/SQSDefaultPolicy");
  ASSERT_EQ(doc["Statement"].size(), 2u);
  EXPECT_EQ(doc["Statement"][0], nlohmann::json::parse(R"({
      "Sid": "send", "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
      "Action": "SQS:SendMessage", "Resource": "arn:aws:sqs:us-east-1:000000000000:q"})"));
  EXPECT_EQ(doc["Statement"][1]["Principal"]["AWS"],
            nlohmann::json({"arn:aws:iam::111122223333:root", "arn:aws:iam::444455556666:root"}));
  EXPECT_EQ(doc["Statement"][1]["Action"], nlohmann::json({"SQS:ReceiveMessage", "SQS:*"}));

  // Refused, and nothing changes.
  EXPECT_EQ(add({"send", {"111122223333"}, {"DeleteMessage"}}).detail(), "InvalidParameterValue");
  EXPECT_EQ(add({"bad label", {"111122223333"}, {"SendMessage"}}).detail(),
            "InvalidParameterValue");
  EXPECT_EQ(add({"x", {"1234"}, {"SendMessage"}}).detail(), "InvalidParameterValue");
  EXPECT_EQ(add({"x", {}, {"SendMessage"}}).detail(), "InvalidParameterValue");
  EXPECT_EQ(add({"x", {"111122223333"}, {"CreateQueue"}}).detail(), "InvalidParameterValue");
  EXPECT_EQ(add({"x", {"111122223333"}, {}}).detail(), "MissingParameter");
  EXPECT_EQ(add({"x", {"111122223333"}, std::vector<std::string>(8, "SendMessage")}).detail(),
            "OverLimit");
  EXPECT_EQ(remove("nope").detail(), "InvalidParameterValue");
  EXPECT_EQ(policy(), doc);

  ASSERT_TRUE(remove("send").ok());
  EXPECT_EQ(policy()["Statement"].size(), 1u);
  EXPECT_EQ(policy()["Statement"][0]["Sid"], "both");
  ASSERT_TRUE(remove("both").ok());
  EXPECT_FALSE(engine_->GetAttributes("q")->contains("Policy"));
  EXPECT_EQ(remove("both").detail(), "InvalidParameterValue");

  // A policy set by hand (one statement as an object) gets a second one.
  ASSERT_TRUE(engine_
                  ->SetAttributes("q", {{"Policy", R"({"Version":"2012-10-17","Statement":
                      {"Sid":"own","Effect":"Allow","Principal":"*","Action":"sqs:*"}})"}})
                  .ok());
  ASSERT_TRUE(add({"send", {"111122223333"}, {"SendMessage"}}).ok());
  EXPECT_EQ(policy()["Statement"].size(), 2u);
  EXPECT_EQ(policy()["Statement"][0]["Sid"], "own");
  EXPECT_EQ(engine_
                ->UpdatePolicy("missing",
                               [](std::string_view, std::string_view) {
                                 return Result<std::string>(std::string());
                               })
                .detail(),
            "QueueDoesNotExist");
}

// SQS's policy quotas (8,192 bytes, 20 statements, 7 actions per statement,
// 50 principals, 10 conditions): OverLimit with AWS's messages, for a Policy
// given to CreateQueue / SetQueueAttributes and for what AddPermission makes.
TEST_F(QueueEngineTest, PoliciesOverSqsQuotasAreOverLimit) {
  auto statement = [](int actions, int principals, int conditions) {
    nlohmann::json st = {{"Effect", "Allow"}, {"Resource", "*"}};
    st["Action"] = nlohmann::json::array();
    for (int i = 0; i < actions; ++i) st["Action"].push_back("sqs:SendMessage");
    st["Principal"] = {{"AWS", nlohmann::json::array()}};
    for (int i = 0; i < principals; ++i) {
      st["Principal"]["AWS"].push_back("arn:aws:iam::" + std::to_string(100000000000 + i) +
                                       ":root");
    }
    for (int i = 0; i < conditions; ++i) {
      st["Condition"]["StringEquals"]["aws:k" + std::to_string(i)] = "v";
    }
    return st;
  };
  auto policy = [](std::vector<nlohmann::json> statements) {
    return nlohmann::json{{"Version", "2012-10-17"}, {"Statement", statements}}.dump();
  };
  auto set = [&](const std::string& text) {
    return engine_->SetAttributes("q", {{"Policy", text}});
  };
  Create("q");
  EXPECT_TRUE(set(policy(std::vector<nlohmann::json>(20, statement(7, 2, 0)))).ok());
  EXPECT_TRUE(set(policy({statement(1, 50, 10)})).ok());

  Status statements = set(policy(std::vector<nlohmann::json>(21, statement(1, 1, 0))));
  EXPECT_EQ(statements.detail(), "OverLimit");
  EXPECT_EQ(statements.message(),
            "21 statements were found in the submitted policy, max allowed is 20");
  Status actions = set(policy({statement(10, 1, 0)}));
  EXPECT_EQ(actions.detail(), "OverLimit");
  EXPECT_EQ(actions.message(),
            "10 actions were found in a statement from the submitted policy, max allowed is 7");
  EXPECT_EQ(set(policy({statement(1, 26, 0), statement(1, 25, 0)})).detail(), "OverLimit");
  EXPECT_EQ(set(policy({statement(1, 1, 6), statement(1, 1, 5)})).detail(), "OverLimit");
  nlohmann::json big = statement(1, 1, 0);
  big["Sid"] = std::string(8200, 'x');
  Status size = set(policy({big}));
  EXPECT_EQ(size.detail(), "OverLimit");
  EXPECT_EQ(size.message(), "Submitted policy is over max allowed size.");
  EXPECT_EQ(
      engine_->CreateQueue("q2", {{"Policy", policy({statement(8, 1, 0)})}}, {}).status().detail(),
      "OverLimit");
  EXPECT_FALSE(engine_->GetQueue("q2").ok());
  // Refused, and the policy set before stays.
  EXPECT_EQ(nlohmann::json::parse(engine_->GetAttributes("q")->at("Policy")),
            nlohmann::json::parse(policy({statement(1, 50, 10)})));

  // AddPermission onto a policy of 20 statements makes a 21st.
  ASSERT_TRUE(set(policy(std::vector<nlohmann::json>(20, statement(1, 1, 0)))).ok());
  Status added = engine_->UpdatePolicy("q", [](std::string_view text, std::string_view arn) {
    return AddPermissionStatement(text, arn, {"one-more", {"111122223333"}, {"SendMessage"}});
  });
  EXPECT_EQ(added.detail(), "OverLimit");
}

// ---- FIFO queues ----------------------------------------------------------

// Parked long polls, as many as `count`, waiting (no timing: the engine's count).
void WaitUntilParked(QueueEngine& engine, int64_t count) {
  for (int spins = 0; engine.WaitingReceives() < count && spins < 10'000; ++spins) {
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_EQ(engine.WaitingReceives(), count);
}

class FifoQueueTest : public QueueEngineTest {
 protected:
  void SetUp() override {
    QueueEngineTest::SetUp();
    Create("f.fifo", {{"FifoQueue", "true"}, {"VisibilityTimeout", "30"}});
  }

  Result<SendResult> SendTo(const std::string& queue, const std::string& body,
                            const std::string& group, const std::string& dedup = "") {
    SendRequest r;
    r.body = body;
    r.group_id = group;
    r.dedup_id = dedup.empty() ? body : dedup;
    return engine_->Send(queue, r);
  }
  // A receive of f.fifo with a ReceiveRequestAttemptId; the future
  // completes when the engine calls back.
  std::future<Result<Messages>> ReceiveAttempt(const std::string& attempt, int max, int wait = 0) {
    auto promise = std::make_shared<std::promise<Result<Messages>>>();
    ReceiveOptions options;
    options.max_messages = max;
    options.wait_seconds = wait;
    options.attempt_id = attempt;
    engine_->Receive("f.fifo", options,
                     [promise](Result<Messages> r) { promise->set_value(std::move(r)); });
    return promise->get_future();
  }
  // A long poll of f.fifo with a ReceiveRequestAttemptId, parked, then
  // served by sending `body` to `group`.
  Result<Messages> PollServedBySend(const std::string& attempt, int max, const std::string& body,
                                    const std::string& group) {
    auto waiting = ReceiveAttempt(attempt, max, 20);
    WaitUntilParked(*engine_, 1);
    SendF(body, group);
    if (waiting.wait_for(10s) != std::future_status::ready) {
      ADD_FAILURE() << "the long poll was not served";
      return Internal("the long poll was not served");
    }
    return waiting.get();
  }
  std::string SendF(const std::string& body, const std::string& group) {
    auto sent = SendTo("f.fifo", body, group);
    EXPECT_TRUE(sent.ok()) << sent.status().ToString();
    return sent.ok() ? sent->message_id : "";
  }
  static std::vector<std::string> Bodies(const Messages& ms) {
    std::vector<std::string> out;
    for (const auto& m : ms) out.push_back(m.body);
    return out;
  }
  using Strings = std::vector<std::string>;
};

// AWS (recorded): a FIFO message whose visibility ran out is its group's
// again; the receipt that hid it has expired, for deletes and changes.
TEST_F(FifoQueueTest, AnExpiredReceiptNeitherDeletesNorChanges) {
  SendF("a", "g");
  Messages got = Receive("f.fifo", 1, 1);
  ASSERT_EQ(got.size(), 1u);
  Advance(2s);
  const Status deleted = engine_->Delete("f.fifo", got[0].receipt_handle);
  EXPECT_EQ(deleted.detail(), "InvalidParameterValue") << deleted.ToString();
  EXPECT_NE(deleted.message().find("The receipt handle has expired."), std::string::npos);
  EXPECT_EQ(engine_->ChangeVisibility("f.fifo", got[0].receipt_handle, 30).detail(),
            "MessageNotInflight");
  Messages again = Receive("f.fifo", 1, 30);
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].body, "a");
  // In flight (extended), the latest receipt deletes; deleting twice is fine.
  EXPECT_TRUE(engine_->ChangeVisibility("f.fifo", again[0].receipt_handle, 60).ok());
  Advance(45s);
  EXPECT_TRUE(engine_->Delete("f.fifo", again[0].receipt_handle).ok());
  EXPECT_TRUE(engine_->Delete("f.fifo", again[0].receipt_handle).ok());
  EXPECT_EQ(Counts("f.fifo").visible + Counts("f.fifo").not_visible, 0);
}

TEST_F(FifoQueueTest, AttributesAndTheirRules) {
  auto attrs = engine_->GetAttributes("f.fifo");
  ASSERT_TRUE(attrs.ok());
  EXPECT_EQ(attrs->at("FifoQueue"), "true");
  EXPECT_EQ(attrs->at("ContentBasedDeduplication"), "false");
  EXPECT_EQ(attrs->at("DeduplicationScope"), "queue");
  EXPECT_EQ(attrs->at("FifoThroughputLimit"), "perQueue");
  EXPECT_EQ(engine_->SetAttributes("f.fifo", {{"FifoQueue", "false"}}).detail(),
            "InvalidAttributeValue");
  EXPECT_EQ(
      engine_->SetAttributes("f.fifo", {{"FifoThroughputLimit", "perMessageGroupId"}}).detail(),
      "InvalidAttributeValue");  // needs DeduplicationScope messageGroup
  ASSERT_TRUE(engine_
                  ->SetAttributes("f.fifo", {{"DeduplicationScope", "messageGroup"},
                                             {"FifoThroughputLimit", "perMessageGroupId"},
                                             {"ContentBasedDeduplication", "true"}})
                  .ok());
  Reopen();
  attrs = engine_->GetAttributes("f.fifo");
  EXPECT_EQ(attrs->at("ContentBasedDeduplication"), "true");
  EXPECT_EQ(attrs->at("DeduplicationScope"), "messageGroup");
  EXPECT_EQ(attrs->at("FifoThroughputLimit"), "perMessageGroupId");
  EXPECT_EQ(engine_->SetAttributes("f.fifo", {{"DeduplicationScope", "group"}}).detail(),
            "InvalidAttributeValue");

  Create("std");
  EXPECT_FALSE(engine_->GetAttributes("std")->contains("FifoQueue"));
  EXPECT_EQ(engine_->SetAttributes("std", {{"ContentBasedDeduplication", "true"}}).detail(),
            "InvalidAttributeName");
  // Unknown to a standard queue, whatever its value (AWS, recorded).
  EXPECT_EQ(engine_->SetAttributes("std", {{"FifoQueue", "true"}}).message(),
            "Unknown Attribute FifoQueue.");
  EXPECT_EQ(engine_->SetAttributes("std", {{"FifoQueue", "false"}}).detail(),
            "InvalidAttributeName");
  EXPECT_EQ(engine_->SetAttributes("std", {{"DeduplicationScope", "queue"}}).message(),
            "You can specify the DeduplicationScope only when FifoQueue is set to true.");
  EXPECT_TRUE(engine_->SetAttributes("f.fifo", {{"FifoQueue", "true"}}).ok());
  // A dead-letter queue is of its source's type.
  const std::string fifo_dlq =
      R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:f.fifo","maxReceiveCount":1})";
  EXPECT_EQ(engine_->SetAttributes("std", {{"RedrivePolicy", fifo_dlq}}).detail(),
            "InvalidParameterValue");
  Create("g.fifo", {{"FifoQueue", "true"}});
  EXPECT_TRUE(engine_->SetAttributes("g.fifo", {{"RedrivePolicy", fifo_dlq}}).ok());
  // Booleans in any case, as AWS takes them; read back as "true"/"false".
  Create("h.fifo", {{"FifoQueue", "True"}, {"ContentBasedDeduplication", "TRUE"}});
  EXPECT_EQ(engine_->GetAttributes("h.fifo")->at("ContentBasedDeduplication"), "true");
  EXPECT_TRUE(engine_->SetAttributes("h.fifo", {{"ContentBasedDeduplication", "False"}}).ok());
  EXPECT_EQ(engine_->GetAttributes("h.fifo")->at("ContentBasedDeduplication"), "false");
  EXPECT_EQ(engine_->SetAttributes("h.fifo", {{"ContentBasedDeduplication", "yes"}}).detail(),
            "InvalidAttributeValue");
}

TEST_F(FifoQueueTest, SendsCarryWhatTheQueueTypeNeeds) {
  SendRequest r;
  r.body = "b";
  r.dedup_id = "d";
  EXPECT_EQ(engine_->Send("f.fifo", r).status().detail(), "MissingParameter");  // no group
  r.group_id = "g";
  r.delay_seconds = 5;
  EXPECT_EQ(engine_->Send("f.fifo", r).status().detail(), "InvalidParameterValue");
  r.delay_seconds.reset();
  r.dedup_id = "";
  EXPECT_EQ(engine_->Send("f.fifo", r).status().detail(), "InvalidParameterValue");
  r.dedup_id = "has space";
  EXPECT_EQ(engine_->Send("f.fifo", r).status().detail(), "InvalidParameterValue");
  r.dedup_id = "d";
  auto sent = engine_->Send("f.fifo", r);
  ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  EXPECT_EQ(sent->sequence_number.size(), 20u);
  Create("std");
  EXPECT_EQ(engine_->Send("std", r).status().detail(), "InvalidParameterValue");  // dedup id
}

// Within a group one batch is in flight at a time, in send order; other
// groups go on. A delete, or the visibility timeout, lets the group go on.
TEST_F(FifoQueueTest, EachGroupIsDeliveredInOrderOneBatchAtATime) {
  for (const char* body : {"a1", "b1", "a2", "b2", "a3"}) SendF(body, std::string(1, body[0]));
  Messages first = Receive("f.fifo", 1);
  EXPECT_EQ(Bodies(first), Strings{"a1"});
  Messages second = Receive("f.fifo", 10);
  EXPECT_EQ(Bodies(second), (Strings{"b1", "b2"}));  // group a is held by a1
  EXPECT_TRUE(Receive("f.fifo").empty());
  ASSERT_TRUE(engine_->Delete("f.fifo", first[0].receipt_handle).ok());
  EXPECT_EQ(Bodies(Receive("f.fifo", 1)), Strings{"a2"});
  // a2 and b1/b2 come back when their timeout passes, in order, counted;
  // the group of the oldest first (b1), as much of it as there is.
  Advance(31s);
  Messages again = Receive("f.fifo", 10);
  EXPECT_EQ(Bodies(again), (Strings{"b1", "b2", "a2", "a3"}));
  for (const auto& m : again) {
    EXPECT_EQ(m.group_id, std::string(1, m.body[0]));
    EXPECT_EQ(m.dedup_id, m.body);
    EXPECT_EQ(m.sequence_number.size(), 20u);
  }
  EXPECT_LT(again[0].sequence_number, again[1].sequence_number);
  EXPECT_EQ(again[0].receive_count, 2);
  EXPECT_EQ(again[3].receive_count, 1);
  QueueCounts c = Counts("f.fifo");
  EXPECT_EQ(c.visible, 0);
  EXPECT_EQ(c.not_visible, 4);
}

// AWS: "Amazon SQS first attempts to return as many messages with the same
// message group ID as possible", leaving other groups to other consumers.
TEST_F(FifoQueueTest, AReceiveTakesAsMuchOfOneGroupAsItCan) {
  for (const char* body : {"a1", "b1", "c1", "a2", "b2", "a3", "c2"}) {
    SendF(body, std::string(1, body[0]));
  }
  EXPECT_EQ(Bodies(Receive("f.fifo", 2)), (Strings{"a1", "a2"}));
  // Another consumer: group a is in flight; b, then c.
  EXPECT_EQ(Bodies(Receive("f.fifo", 3)), (Strings{"b1", "b2", "c1"}));
  EXPECT_TRUE(Receive("f.fifo", 10).empty());  // every group has one in flight
}

TEST_F(FifoQueueTest, VisibilityZeroLetsTheGroupGoOn) {
  SendF("a1", "a");
  SendF("a2", "a");
  Messages got = Receive("f.fifo", 1);
  ASSERT_EQ(Bodies(got), Strings{"a1"});
  EXPECT_TRUE(Receive("f.fifo").empty());
  ASSERT_TRUE(engine_->ChangeVisibility("f.fifo", got[0].receipt_handle, 0).ok());
  EXPECT_EQ(Bodies(Receive("f.fifo", 10, 0)), (Strings{"a1", "a2"}));  // each once
}

// A deduplication id seen in the last five minutes answers with the first
// message and queues nothing, also after that message was deleted and after
// a restart.
TEST_F(FifoQueueTest, DeduplicationIdsHoldForFiveMinutes) {
  auto first = SendTo("f.fifo", "one", "g", "id-1");
  ASSERT_TRUE(first.ok());
  auto again = SendTo("f.fifo", "other body", "h", "id-1");
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->message_id, first->message_id);
  EXPECT_EQ(again->sequence_number, first->sequence_number);
  EXPECT_EQ(Counts("f.fifo").visible, 1);
  Messages got = Receive("f.fifo");
  ASSERT_EQ(got.size(), 1u);
  ASSERT_TRUE(engine_->Delete("f.fifo", got[0].receipt_handle).ok());
  Reopen();
  EXPECT_EQ(SendTo("f.fifo", "one", "g", "id-1")->message_id, first->message_id);
  EXPECT_EQ(Counts("f.fifo").visible, 0);
  Advance(std::chrono::milliseconds(kDeduplicationIntervalMs));
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  auto later = SendTo("f.fifo", "one", "g", "id-1");
  ASSERT_TRUE(later.ok());
  EXPECT_NE(later->message_id, first->message_id);
  EXPECT_GT(later->sequence_number, first->sequence_number);
  EXPECT_EQ(Counts("f.fifo").visible, 1);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_dedup"), 1);  // the old id was forgotten
}

// A send whose commit fails leaves its deduplication id behind in memory
// only: the retry is a new message, not an answer naming the lost one.
TEST_F(FifoQueueTest, AFailedSendRemembersNoDeduplicationId) {
  db_->FailCommitAfter(1);
  EXPECT_FALSE(SendTo("f.fifo", "one", "g", "id-1").ok());
  auto retry = SendTo("f.fifo", "one", "g", "id-1");
  ASSERT_TRUE(retry.ok()) << retry.status().ToString();
  EXPECT_EQ(Counts("f.fifo").visible, 1);
  EXPECT_EQ(SendTo("f.fifo", "one", "g", "id-1")->message_id, retry->message_id);
  ASSERT_TRUE(engine_->ExpireMessages().ok());  // rebuilds the index, keeps the id
  EXPECT_EQ(SendTo("f.fifo", "one", "g", "id-1")->message_id, retry->message_id);
  EXPECT_EQ(Counts("f.fifo").visible, 1);
}

// A deleted queue's ids stay until they expire (no queue sees them: a
// queue made with the same name gets a new id) instead of a scan of the log.
TEST_F(FifoQueueTest, AQueueMadeAgainDoesNotSeeTheDeletedOnesDeduplicationIds) {
  Create("other.fifo", {{"FifoQueue", "true"}});
  auto first = SendTo("f.fifo", "one", "g", "id-1");
  auto other = SendTo("other.fifo", "one", "g", "id-1");
  ASSERT_TRUE(first.ok() && other.ok());
  ASSERT_TRUE(engine_->DeleteQueue("f.fifo").ok());
  Create("f.fifo", {{"FifoQueue", "true"}});
  auto again = SendTo("f.fifo", "one", "g", "id-1");
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->message_id, first->message_id);
  EXPECT_EQ(Counts("f.fifo").visible, 1);
  EXPECT_EQ(SendTo("other.fifo", "one", "g", "id-1")->message_id, other->message_id);
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_dedup"), 3);
  Advance(std::chrono::milliseconds(kDeduplicationIntervalMs));
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_dedup"), 0);
  EXPECT_EQ(engine_->DeduplicationIdsRemembered(), 0);
}

// Migration 10 turned queue_dedup into a log: the ids stored before it
// still deduplicate, and expire, after the upgrade.
TEST_F(FifoQueueTest, DeduplicationIdsLiveThroughTheUpgradeToALog) {
  const int64_t now = clock_.NowMillis();
  WriteOldSchemaDatabase(
      9,
      "INSERT INTO queues(name, created_ms, modified_ms, attributes) "
      "VALUES ('old.fifo', 0, 0, '{\"FifoQueue\":\"true\"}');"
      "INSERT INTO queue_dedup(queue_id, scope, dedup_id, message_id, seq, expires_ms) "
      "VALUES (1, '', 'late', 'message-late', 8, " +
          std::to_string(now + 2000) + "), (1, '', 'early', 'message-early', 7, " +
          std::to_string(now + 1000) + ");");
  if (HasFatalFailure()) return;
  Reopen();
  ASSERT_TRUE(engine_);
  EXPECT_EQ(SendTo("old.fifo", "b", "g", "early")->message_id, "message-early");
  EXPECT_EQ(SendTo("old.fifo", "b", "g", "late")->message_id, "message-late");
  EXPECT_EQ(Counts("old.fifo").visible, 0);
  Advance(std::chrono::milliseconds(1500));
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_dedup WHERE dedup_id IN ('early', 'late')"), 1);
  EXPECT_NE(SendTo("old.fifo", "b", "g", "early")->message_id, "message-early");
  EXPECT_EQ(SendTo("old.fifo", "b", "g", "late")->message_id, "message-late");
}

TEST_F(FifoQueueTest, DeduplicationByContentAndPerGroup) {
  Create("c.fifo", {{"FifoQueue", "true"}, {"ContentBasedDeduplication", "true"}});
  SendRequest r;
  r.body = "same";
  r.group_id = "g";
  auto a = engine_->Send("c.fifo", r);
  auto b = engine_->Send("c.fifo", r);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->message_id, b->message_id);
  // In a batch too: the second entry is the first's duplicate.
  r.body = "twice";
  auto batch = engine_->SendBatch("c.fifo", {r, r});
  ASSERT_TRUE(batch.ok());
  EXPECT_EQ((*batch)[0]->message_id, (*batch)[1]->message_id);
  EXPECT_EQ(Counts("c.fifo").visible, 2);

  Create("p.fifo", {{"FifoQueue", "true"}, {"DeduplicationScope", "messageGroup"}});
  auto g1 = SendTo("p.fifo", "x", "g1", "id");
  auto g2 = SendTo("p.fifo", "x", "g2", "id");
  ASSERT_TRUE(g1.ok() && g2.ok());
  EXPECT_NE(g1->message_id, g2->message_id);  // scoped to the group
  EXPECT_EQ(Counts("p.fifo").visible, 2);
}

// ReceiveRequestAttemptId: a retried receive gets the same messages while they
// are in flight from it (their timeout starting over), else it is a new one.
TEST_F(FifoQueueTest, RetriedReceiveAttemptGetsTheSameMessages) {
  SendF("a1", "a");
  SendF("a2", "a");
  SendF("b1", "b");
  auto receive = [&](const std::string& attempt, int max) {
    auto got = ReceiveAttempt(attempt, max).get();
    EXPECT_TRUE(got.ok()) << got.status().ToString();
    return got.ok() ? *got : Messages{};
  };
  Messages first = receive("try-1", 1);
  ASSERT_EQ(Bodies(first), Strings{"a1"});
  Advance(20s);
  Messages retried = receive("try-1", 1);  // the response was lost; the client retries
  ASSERT_EQ(Bodies(retried), Strings{"a1"});
  EXPECT_EQ(retried[0].receive_count, 1);
  EXPECT_EQ(retried[0].message_id, first[0].message_id);
  EXPECT_EQ(retried[0].receipt_handle, first[0].receipt_handle);  // as AWS: the same handle
  Advance(20s);  // 40 s after the first receive, 20 s after the retry: still hidden
  EXPECT_EQ(Bodies(receive("try-2", 10)), Strings{"b1"});
  // Either receipt handle deletes it; then the attempt's messages are gone
  // and its id is a new receive.
  ASSERT_TRUE(engine_->Delete("f.fifo", first[0].receipt_handle).ok());
  EXPECT_EQ(Bodies(receive("try-1", 1)), Strings{"a2"});
  // A standard queue ignores the id.
  Create("std");
  Send("std", "s");
  ReceiveOptions options;
  options.attempt_id = "try-1";
  std::promise<Result<Messages>> got;
  engine_->Receive("std", options, [&](Result<Messages> r) { got.set_value(std::move(r)); });
  EXPECT_EQ(got.get_future().get()->size(), 1u);
}

// A long poll answered after waiting is an attempt like any other: its
// retry gets what the wait delivered.
TEST_F(FifoQueueTest, RetriedLongPollAttemptGetsWhatTheWaitDelivered) {
  auto first = PollServedBySend("poll-1", 10, "a1", "a");
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(Bodies(*first), Strings{"a1"});
  SendF("a2", "a");
  auto retried = ReceiveAttempt("poll-1", 10).get();  // the response was lost; the client retries
  ASSERT_TRUE(retried.ok());
  ASSERT_EQ(Bodies(*retried), Strings{"a1"});
  EXPECT_EQ((*retried)[0].message_id, (*first)[0].message_id);
  EXPECT_EQ((*retried)[0].receive_count, 1);
  EXPECT_EQ((*retried)[0].receipt_handle, (*first)[0].receipt_handle);
}

// A receive attempt is stored with what it took: after a restart its retry
// still gets the same messages (the served long poll's as well), and it is
// forgotten, in memory and on disk, five minutes on.
TEST_F(FifoQueueTest, ReceiveAttemptsLiveThroughARestart) {
  auto receive = [&](const std::string& attempt, int wait) {
    return ReceiveAttempt(attempt, 1, wait);
  };
  SendF("a1", "a");
  SendF("a2", "a");
  auto first = receive("now-1", 0).get();
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(Bodies(*first), Strings{"a1"});
  auto polled = PollServedBySend("poll-1", 1, "b1", "b");
  ASSERT_TRUE(polled.ok());
  ASSERT_EQ(Bodies(*polled), Strings{"b1"});
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_receive_attempts"), 2);
  Reopen();
  for (const auto& [attempt, earlier] :
       {std::pair{"now-1", *first}, std::pair{"poll-1", *polled}}) {
    auto retried = receive(attempt, 0).get();
    ASSERT_TRUE(retried.ok());
    ASSERT_EQ(Bodies(*retried), Bodies(earlier)) << attempt;
    EXPECT_EQ((*retried)[0].receipt_handle, earlier[0].receipt_handle) << attempt;
    EXPECT_EQ((*retried)[0].receive_count, 1) << attempt;
  }
  Advance(std::chrono::milliseconds(kDeduplicationIntervalMs));
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  EXPECT_EQ(QueryInt("SELECT count(*) FROM queue_receive_attempts"), 0);
  Reopen();  // nothing expired comes back: a1 is visible again, and now-1 is a new receive
  auto later = receive("now-1", 0).get();
  ASSERT_TRUE(later.ok());
  ASSERT_EQ(later->size(), 1u);
  EXPECT_EQ((*later)[0].receive_count, 2);
}

// A serve that finds only waiters whose clients left reads nothing; it must
// not forget when the next hidden message becomes visible, or a poll parked
// after it would sleep through that.
TEST_F(FifoQueueTest, AServeOfLeftWaitersKeepsTheNextVisibilityTime) {
  SendF("a1", "a");
  SendF("b1", "b");
  SendF("b2", "b");
  Messages a = Receive("f.fifo", 1, 5);
  ASSERT_EQ(Bodies(a), Strings{"a1"});
  ASSERT_EQ(Bodies(Receive("f.fifo", 1, 10)), Strings{"b1"});  // b2 waits for it
  auto left = std::make_shared<std::atomic<bool>>(false);
  auto promise = std::make_shared<std::promise<Result<Messages>>>();
  ReceiveOptions options;
  options.wait_seconds = 20;
  options.abandoned = [left] { return left->load(); };
  engine_->Receive("f.fifo", options,
                   [promise](Result<Messages> r) { promise->set_value(std::move(r)); });
  WaitUntilParked(*engine_, 1);
  left->store(true);
  ASSERT_TRUE(engine_->Delete("f.fifo", a[0].receipt_handle).ok());  // wakes the waiters
  auto gone = promise->get_future();
  ASSERT_EQ(gone.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(gone.get()->empty());
  auto waiting = ReceiveAsync("f.fifo", 10, std::nullopt, 20);
  WaitUntilParked(*engine_, 1);
  Advance(10s);  // b1's timeout ends
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(Bodies(*waiting.get()), (Strings{"b1", "b2"}));
}

TEST_F(FifoQueueTest, LongPollWakesWhenADeleteFreesItsGroup) {
  SendF("a1", "a");
  SendF("a2", "a");
  Messages got = Receive("f.fifo", 1);
  ASSERT_EQ(got.size(), 1u);
  auto waiting = ReceiveAsync("f.fifo", 1, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(100ms), std::future_status::timeout);
  ASSERT_TRUE(engine_->Delete("f.fifo", got[0].receipt_handle).ok());
  EXPECT_EQ(Bodies(Await(waiting)), Strings{"a2"});
}

TEST_F(FifoQueueTest, RedriveKeepsTheGroupsOrder) {
  Create("dlq.fifo", {{"FifoQueue", "true"}});
  ASSERT_TRUE(engine_
                  ->SetAttributes("f.fifo", {{"RedrivePolicy",
                                              R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:)"
                                              R"(000000000000:dlq.fifo","maxReceiveCount":1})"}})
                  .ok());
  SendF("a1", "a");
  SendF("a2", "a");
  EXPECT_EQ(Bodies(Receive("f.fifo", 10)), (Strings{"a1", "a2"}));
  Advance(31s);
  EXPECT_TRUE(Receive("f.fifo").empty());  // both past maxReceiveCount: moved
  Messages dead = Receive("dlq.fifo", 10, 0);
  EXPECT_EQ(Bodies(dead), (Strings{"a1", "a2"}));
  for (const auto& m : dead) EXPECT_EQ(m.group_id, "a");

  // Moved back by a move task, in the same order; never into a standard queue.
  const std::string dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq.fifo";
  Create("std");
  EXPECT_EQ(engine_->StartMoveTask(dlq_arn, "arn:aws:sqs:us-east-1:000000000000:std", 10)
                .status()
                .detail(),
            "InvalidParameterValue");
  ASSERT_TRUE(engine_->StartMoveTask(dlq_arn, "", std::nullopt).ok());
  engine_->Poke();
  PollUntil([&] { return Counts("dlq.fifo").visible == 0; });
  EXPECT_EQ(Bodies(Receive("f.fifo", 10)), (Strings{"a1", "a2"}));
}

TEST_F(QueueEngineTest, SendReceiveDelete) {
  Create("q");
  SendRequest r;
  r.body = "hello";
  r.attributes["k"] = {"String", "v"};
  auto sent = engine_->Send("q", r);
  ASSERT_TRUE(sent.ok());
  EXPECT_EQ(sent->md5_of_body, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_EQ(sent->md5_of_attributes, Md5OfAttributes(r.attributes));

  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, sent->message_id);
  EXPECT_EQ(got[0].body, "hello");
  EXPECT_EQ(got[0].attributes.at("k").value, "v");
  EXPECT_EQ(got[0].receive_count, 1);
  EXPECT_EQ(got[0].first_receive_ms, clock_.NowMillis());
  EXPECT_EQ(got[0].md5_of_body, "5d41402abc4b2a76b9719d911017c592");
  // Stored at send (queue migration 5), not hashed again per receive.
  std::string stored_md5;
  ASSERT_TRUE(db_->Read([&](db::Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(db::Statement st,
                                             conn.Prepare("SELECT body_md5 FROM queue_messages"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
                   if (row) stored_md5 = st.ColumnText(0);
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(stored_md5, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_TRUE(Receive("q").empty());  // invisible now
  EXPECT_TRUE(engine_->Delete("q", got[0].receipt_handle).ok());
  Advance(31s);
  EXPECT_TRUE(Receive("q").empty());  // deleted, not back
  EXPECT_EQ(Counts("q").visible + Counts("q").not_visible, 0);
}

// ReceiveOptions::complete_on: a receive that took messages is finished
// (receipt handles, MD5s) and completed where the caller says, not on the
// thread that completed the commit; one that took nothing completes as before.
TEST_F(QueueEngineTest, ReceiveFinishesWhereCompleteOnSays) {
  Create("q");
  std::promise<std::function<void()>> handed;
  auto handed_over = handed.get_future();
  std::atomic<int> hand_overs{0};
  ReceiveOptions options;
  options.max_messages = 10;
  options.complete_on = [&](std::function<void()> finish) {
    ++hand_overs;
    handed.set_value(std::move(finish));
  };
  std::promise<Result<Messages>> got;
  auto got_future = got.get_future();
  engine_->Receive("q", options, [&](Result<Messages> r) { got.set_value(std::move(r)); });
  ASSERT_EQ(got_future.wait_for(10s), std::future_status::ready);  // empty: at once
  EXPECT_TRUE(got_future.get()->empty());
  EXPECT_EQ(hand_overs, 0);

  const std::string id = Send("q", "hello");
  std::promise<Result<Messages>> got2;
  auto got2_future = got2.get_future();
  engine_->Receive("q", options, [&](Result<Messages> r) { got2.set_value(std::move(r)); });
  ASSERT_EQ(handed_over.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(got2_future.wait_for(0s), std::future_status::timeout);  // not before it runs
  std::thread elsewhere(handed_over.get());
  elsewhere.join();
  ASSERT_EQ(got2_future.wait_for(10s), std::future_status::ready);
  Result<Messages> messages = got2_future.get();
  ASSERT_TRUE(messages.ok());
  ASSERT_EQ(messages->size(), 1u);
  EXPECT_EQ((*messages)[0].message_id, id);
  EXPECT_EQ((*messages)[0].md5_of_body, "5d41402abc4b2a76b9719d911017c592");
  EXPECT_TRUE(engine_->Delete("q", (*messages)[0].receipt_handle).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
  EXPECT_EQ(hand_overs, 1);
}

TEST_F(QueueEngineTest, VisibilityTimeoutExpiresAndCountsReceives) {
  Create("q", {{"VisibilityTimeout", "10"}});
  Send("q", "m");
  ASSERT_EQ(Receive("q").size(), 1u);
  EXPECT_EQ(Counts("q").not_visible, 1);
  Advance(9999ms);
  EXPECT_TRUE(Receive("q").empty());
  Advance(1ms);
  Messages again = Receive("q", 1, 5);  // per-receive visibility timeout
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].receive_count, 2);
  Advance(5s);
  EXPECT_EQ(Receive("q").size(), 1u);
}

TEST_F(QueueEngineTest, ChangeVisibilityZeroMakesVisibleNow) {
  Create("q");
  Send("q", "m");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(engine_->ChangeVisibility("q", got[0].receipt_handle, 0).ok());
  EXPECT_EQ(Counts("q").visible, 1);
  Messages again = Receive("q");
  ASSERT_EQ(again.size(), 1u);
  // Extending works with the latest handle; the old one has expired.
  EXPECT_TRUE(engine_->ChangeVisibility("q", again[0].receipt_handle, 600).ok());
  EXPECT_EQ(engine_->ChangeVisibility("q", got[0].receipt_handle, 600).detail(),
            "InvalidParameterValue");
  EXPECT_EQ(engine_->ChangeVisibility("q", again[0].receipt_handle, 43201).detail(),
            "InvalidParameterValue");
  Advance(599s);
  EXPECT_TRUE(Receive("q").empty());
}

// AWS (recorded): a visibility change named by the latest receipt of a
// message whose timeout ran out succeeds and hides it again; one the
// consumer gave back (visibility 0) is not in flight.
TEST_F(QueueEngineTest, ChangeVisibilityAfterTheTimeoutRanOutHidesAgain) {
  Create("q", {{"VisibilityTimeout", "1"}});
  Send("q", "m");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  Advance(2s);
  EXPECT_EQ(Counts("q").visible, 1);
  EXPECT_TRUE(engine_->ChangeVisibility("q", got[0].receipt_handle, 5).ok());
  EXPECT_EQ(Counts("q").not_visible, 1);
  EXPECT_TRUE(Receive("q").empty());
  Advance(5s);
  Messages again = Receive("q");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].receive_count, 2);
  // Given back, then changed: not in flight, and stays visible.
  EXPECT_TRUE(engine_->ChangeVisibility("q", again[0].receipt_handle, 0).ok());
  EXPECT_EQ(engine_->ChangeVisibility("q", again[0].receipt_handle, 10).detail(),
            "MessageNotInflight");
  EXPECT_EQ(Counts("q").visible, 1);
  // So is one received with visibility 0.
  Messages zero = Receive("q", 1, 0);
  ASSERT_EQ(zero.size(), 1u);
  EXPECT_EQ(engine_->ChangeVisibility("q", zero[0].receipt_handle, 10).detail(),
            "MessageNotInflight");
}

TEST_F(QueueEngineTest, VisibilityCapIsTwelveHoursFromTheReceiveInWholeSeconds) {
  Create("q");
  Send("q", "m");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  Advance(999ms);  // still within the receive's first second
  EXPECT_TRUE(engine_->ChangeVisibility("q", got[0].receipt_handle, 43200).ok());
  Advance(1ms);
  EXPECT_EQ(engine_->ChangeVisibility("q", got[0].receipt_handle, 43200).detail(),
            "InvalidParameterValue");
  EXPECT_TRUE(engine_->ChangeVisibility("q", got[0].receipt_handle, 43199).ok());
}

TEST_F(QueueEngineTest, OnlyTheLatestReceiptHandleDeletes) {
  Create("q", {{"VisibilityTimeout", "1"}});
  Send("q", "m");
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 1u);
  Advance(1s);
  Messages second = Receive("q");
  ASSERT_EQ(second.size(), 1u);
  EXPECT_NE(first[0].receipt_handle, second[0].receipt_handle);
  // As AWS documents: an old handle's delete succeeds but deletes nothing.
  EXPECT_TRUE(engine_->Delete("q", first[0].receipt_handle).ok());
  Advance(1s);
  Messages third = Receive("q");
  ASSERT_EQ(third.size(), 1u);
  EXPECT_TRUE(engine_->Delete("q", third[0].receipt_handle).ok());
  Advance(1s);
  EXPECT_TRUE(Receive("q").empty());
  EXPECT_EQ(engine_->Delete("q", "garbage").detail(), "ReceiptHandleIsInvalid");
}

// A receipt handle carries a MAC under the database's key
// (queue/receipt.h): one made from what a client can know of a message (its
// queue, the seq in its message id, its receive count) does nothing but get
// ReceiptHandleIsInvalid, and the message stays.
TEST_F(QueueEngineTest, AReceiptHandleCannotBeMadeFromWhatAClientKnows) {
  Create("q", {{"VisibilityTimeout", "1"}});
  Send("q", "m");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  const std::string raw = Base64Decode(got[0].receipt_handle).value_or("");
  ASSERT_TRUE(raw.starts_with("ib2:")) << raw;
  std::string forged = raw;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(engine_->Delete("q", Base64Encode(forged)).detail(), "ReceiptHandleIsInvalid");
  EXPECT_EQ(engine_->ChangeVisibility("q", Base64Encode(forged), 0).detail(),
            "ReceiptHandleIsInvalid");
  // The unkeyed shape of earlier versions, for a receive made since keying:
  // it names no receive of this key's time, so it acts like a superseded
  // handle (AWS: the delete succeeds and deletes nothing).
  ExpectSuperseded("q", UnkeyedForm(got[0].receipt_handle));
  Advance(1s);
  Messages again = Receive("q");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].receive_count, 2);
  EXPECT_TRUE(engine_->Delete("q", again[0].receipt_handle).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
}

// The key is the database's: handles given before a restart still act.
TEST_F(QueueEngineTest, ReceiptHandlesOutliveARestart) {
  Create("q", {{"VisibilityTimeout", "30"}});
  Send("q", "a");
  Send("q", "b");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 2u);
  Reopen();
  EXPECT_TRUE(engine_->ChangeVisibility("q", got[0].receipt_handle, 0).ok());
  EXPECT_TRUE(engine_->Delete("q", got[1].receipt_handle).ok());
  Messages back = Receive("q");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].body, "a");
  EXPECT_EQ(Counts("q").visible + Counts("q").not_visible, 1);
}

// A move task sends a dead letter back with its receive count reset, so its
// next receive has the count of its first one: the handle of that first
// receive must not delete it (the receive time tells them apart).
TEST_F(QueueEngineTest, AHandleFromBeforeAMoveBackDoesNotActAfterIt) {
  Create("dlq");
  Create("src",
         {{"VisibilityTimeout", "1"},
          {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":1})"}});
  Send("src", "m");
  Messages first = Receive("src");
  ASSERT_EQ(first.size(), 1u);
  Advance(1s);
  EXPECT_TRUE(Receive("src").empty());  // dead-lettered
  const std::string dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
  ASSERT_TRUE(engine_->StartMoveTask(dlq_arn, "", std::nullopt).ok());
  engine_->Poke();
  PollUntil([&] { return Counts("src").visible != 0; });
  Advance(1ms);
  Messages back = Receive("src");
  ASSERT_EQ(back.size(), 1u);
  ASSERT_EQ(back[0].receive_count, first[0].receive_count);
  EXPECT_NE(back[0].receipt_handle, first[0].receipt_handle);
  ExpectSuperseded("src", first[0].receipt_handle);
  EXPECT_EQ(Counts("src").not_visible, 1);
  EXPECT_TRUE(engine_->Delete("src", back[0].receipt_handle).ok());
  EXPECT_EQ(Counts("src").not_visible, 0);
}

// A database from before keyed handles gets its key at the first start of
// this version; the unkeyed ("ib1") handles its clients hold still act on
// what they were given for, receives before that start, and on nothing else.
TEST_F(QueueEngineTest, UnkeyedHandlesActOnlyOnReceivesBeforeKeying) {
  Create("q", {{"VisibilityTimeout", "60"}});
  Send("q", "old-a");
  Send("q", "old-b");
  Messages old = Receive("q");
  ASSERT_EQ(old.size(), 2u);
  UpgradeToKeyedHandles();
  EXPECT_TRUE(engine_->ChangeVisibility("q", UnkeyedForm(old[0].receipt_handle), 0).ok());
  EXPECT_TRUE(engine_->Delete("q", UnkeyedForm(old[1].receipt_handle)).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
  // old-a, received again now, is beyond its unkeyed handles' reach.
  Messages now = Receive("q");
  ASSERT_EQ(now.size(), 1u);
  EXPECT_EQ(now[0].body, "old-a");
  ExpectSuperseded("q", UnkeyedForm(now[0].receipt_handle));
  EXPECT_EQ(Counts("q").not_visible, 1);
  EXPECT_TRUE(engine_->Delete("q", now[0].receipt_handle).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
}

// A wall clock stepped back (a restored snapshot, a board without a
// battery-backed clock booting in the past) must not let an unkeyed handle
// act on a receive made since keying: such a receive is never recorded as
// earlier than the keying.
TEST_F(QueueEngineTest, AClockSteppedBackLetsNoUnkeyedHandleAct) {
  Create("q", {{"VisibilityTimeout", "60"}});
  Send("q", "m");
  clock_.StepWall(-1h);
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_TRUE(engine_->Delete("q", UnkeyedForm(got[0].receipt_handle)).ok());
  EXPECT_EQ(Counts("q").not_visible, 1);
  EXPECT_TRUE(engine_->Delete("q", got[0].receipt_handle).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
}

// The same after an upgrade, while unkeyed handles given before it may
// still act on their own receives.
TEST_F(QueueEngineTest, AClockSteppedBackAfterAnUpgradeLetsNoUnkeyedHandleAct) {
  Create("q", {{"VisibilityTimeout", "60"}});
  Send("q", "old");
  Messages old = Receive("q");
  ASSERT_EQ(old.size(), 1u);
  UpgradeToKeyedHandles();
  Send("q", "new");
  clock_.StepWall(-1h);
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "new");
  EXPECT_TRUE(engine_->Delete("q", UnkeyedForm(got[0].receipt_handle)).ok());
  EXPECT_EQ(Counts("q").not_visible, 2);
  EXPECT_TRUE(engine_->Delete("q", UnkeyedForm(old[0].receipt_handle)).ok());
  EXPECT_EQ(Counts("q").not_visible, 1);
}

// Unkeyed handles are refused outright once none can name a receive: in a
// new database at once, after an upgrade from the first start that finds the
// last receive from before keying gone. The start looks for one through the
// received rows' index, not the whole table.
TEST_F(QueueEngineTest, UnkeyedHandlesRetireWithTheLastReceiveBeforeKeying) {
  const std::string legacy_before = "SELECT legacy_before_ms FROM queue_receipt_key";
  EXPECT_EQ(QueryInt(legacy_before), 0);
  Create("q", {{"VisibilityTimeout", "60"}});
  Send("q", "old");
  Messages old = Receive("q");
  ASSERT_EQ(old.size(), 1u);
  UpgradeToKeyedHandles();
  const int64_t keyed_at = clock_.NowMillis();
  EXPECT_EQ(QueryInt(legacy_before), keyed_at);
  Advance(1s);
  Reopen();
  EXPECT_EQ(QueryInt(legacy_before), keyed_at);  // "old" is still in flight
  EXPECT_TRUE(engine_->Delete("q", UnkeyedForm(old[0].receipt_handle)).ok());
  EXPECT_EQ(Counts("q").not_visible, 0);
  Reopen();
  EXPECT_EQ(QueryInt(legacy_before), 0);
  const std::string plan = QueryPlan(sql::kAnyReceiveBefore);
  EXPECT_NE(plan.find("USING INDEX queue_messages_visible"), std::string::npos) << plan;
}

// Migration 13 renames the key's second column: a database keyed before it
// keeps its key, so the handles it gave still act.
TEST_F(QueueEngineTest, AKeyMadeBeforeMigration13IsKept) {
  WriteOldSchemaDatabase(12,
                         "INSERT INTO queue_receipt_key (id, key, created_ms) "
                         "VALUES (1, x'00112233445566778899aabbccddeeff', 5)");
  Reopen();
  EXPECT_EQ(QueryInt("SELECT key = x'00112233445566778899aabbccddeeff' FROM queue_receipt_key"), 1);
  EXPECT_EQ(QueryInt("SELECT legacy_before_ms FROM queue_receipt_key"), 0);  // nothing received
}

TEST_F(QueueEngineTest, DelaysFromQueueAndMessage) {
  Create("q", {{"DelaySeconds", "5"}});
  Send("q", "queue-delay");
  Send("q", "no-delay", 0);
  Send("q", "long-delay", 20);
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 1);
  EXPECT_EQ(c.delayed, 2);
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "no-delay");
  Advance(5s);
  got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "queue-delay");
  c = Counts("q");
  EXPECT_EQ(c.not_visible, 2);
  EXPECT_EQ(c.delayed, 1);
  SendRequest bad;
  bad.body = "x";
  bad.delay_seconds = 901;
  EXPECT_EQ(engine_->Send("q", bad).status().detail(), "InvalidParameterValue");
}

// A queue engine whose WAL syncs the test holds until it releases them.
class HeldSyncQueueTest : public QueueEngineTest {
 protected:
  void SetUp() override {
    gate_.ReleaseAll(true);  // opening and creating the queue sync freely
    wal_sync_for_test_ = gate_.Hook();
    QueueEngineTest::SetUp();
    Create("q");
    ASSERT_FALSE(Send("q", "old").empty());  // durable: counted, receivable
    gate_.ReleaseAll(false);
  }
  void TearDown() override {
    gate_.ReleaseAll(true);
    QueueEngineTest::TearDown();
  }
  // Waits until `n` syncs (since MarkBase) have started, then lets them finish.
  void ReleaseSyncs(int n) { ASSERT_TRUE(gate_.Release(base_ + n)); }
  void WaitForSyncs(int n) { ASSERT_TRUE(gate_.WaitForStarted(base_ + n)); }
  // A write whose sync is then held (sync number n since MarkBase).
  void HoldASync(int n) {
    db_->WriteAsync([](db::Txn&) { return Status::Ok(); }, [](Status) {});
    WaitForSyncs(n);
  }
  void MarkBase() { base_ = gate_.Started(); }

  db::testing::SyncGate gate_;
  int base_ = 0;
};

// A receive from a standard queue is acknowledged once its commit returns,
// before the WAL's sync (docs/design/queue.md, "Durability, per operation").
TEST_F(HeldSyncQueueTest, AReceiveIsAcknowledgedAtItsCommitBeforeTheSync) {
  MarkBase();
  HoldASync(1);
  auto pending = ReceiveAsync("q", 10, 30);  // runs behind the held sync
  ReleaseSyncs(1);  // the syncer commits the receive and starts its sync, held
  WaitForSyncs(2);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);  // sync 2 still held
  auto got = pending.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].body, "old");
}

// ... unless it took a message sent in its own transaction: that one is
// handed out only once its send is durable.
TEST_F(HeldSyncQueueTest, AReceiveOfAMessageSentInItsOwnTransactionWaitsForTheSync) {
  MarkBase();
  HoldASync(1);
  // Sent and received in the transaction that is open behind the held sync.
  std::promise<Status> sent;
  db_->WriteAsync(
      [&](db::Txn& txn) -> Status {
        SendRequest r;
        r.body = "new";
        return engine_->SendInTransaction(txn, "q", std::move(r)).status();
      },
      [&](Status st) { sent.set_value(std::move(st)); });
  auto pending = ReceiveAsync("q", 10, 30);
  ReleaseSyncs(1);
  WaitForSyncs(2);  // their commit's sync, held
  EXPECT_EQ(pending.wait_for(200ms), std::future_status::timeout);
  ReleaseSyncs(2);
  EXPECT_TRUE(sent.get_future().get().ok());
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto got = pending.get();
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  std::vector<std::string> bodies;
  for (const auto& m : *got) bodies.push_back(m.body);
  EXPECT_EQ(bodies, (std::vector<std::string>{"old", "new"}));
}

TEST_F(QueueEngineTest, RetentionExpiresMessages) {
  Create("q", {{"MessageRetentionPeriod", "60"}});
  Send("q", "old");
  Advance(30s);
  Send("q", "new");
  Advance(30s);
  // "old" is past retention: never delivered, even before the sweep ran.
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "new");
  Advance(31s);
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible + c.not_visible + c.delayed, 0);
}

TEST_F(QueueEngineTest, RedriveMovesToDeadLetterQueueAfterMaxReceives) {
  Create("dlq");
  Create("src",
         {{"VisibilityTimeout", "1"},
          {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":"2"})"}});
  Send("src", "poison");
  for (int i = 1; i <= 2; ++i) {
    Messages got = Receive("src");
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].receive_count, i);
    Advance(1s);
  }
  // The third receive would exceed maxReceiveCount: the message moves instead.
  EXPECT_TRUE(Receive("src").empty());
  EXPECT_EQ(Counts("src").visible + Counts("src").not_visible, 0);
  EXPECT_EQ(Counts("dlq").visible, 1);
  Messages dead = Receive("dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(dead[0].dead_letter_source_arn, "arn:aws:sqs:us-east-1:000000000000:src");
  auto sources = engine_->DeadLetterSources("dlq");
  ASSERT_TRUE(sources.ok());
  EXPECT_EQ(*sources, std::vector<std::string>{"src"});
}

// One receive whose batch mixes a message past maxReceiveCount, one past
// its retention and deliverable ones: the first moves to the DLQ and the
// second is dropped in the same transaction as the others are hidden, and
// the receive still fills up with the messages behind them.
TEST_F(QueueEngineTest, RedriveExpiryAndDeliveryInOneReceive) {
  Create("dlq");
  Create("src",
         {{"VisibilityTimeout", "1"},
          {"MessageRetentionPeriod", "60"},
          {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":"1"})"}});
  Send("src", "old");  // received once, then past its retention
  Advance(50s);
  Send("src", "poison");  // received once, then redriven
  ASSERT_EQ(Receive("src", 2).size(), 2u);
  Advance(11s);  // "old" past retention; both visible again
  for (int i = 0; i < 3; ++i) Send("src", "fresh" + std::to_string(i));
  Messages got = Receive("src", 3);
  ASSERT_EQ(got.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(got[i].body, "fresh" + std::to_string(i));
    EXPECT_EQ(got[i].receive_count, 1);
    EXPECT_EQ(got[i].first_receive_ms, clock_.NowMillis());
  }
  EXPECT_EQ(Counts("src").not_visible, 3);
  EXPECT_EQ(Counts("src").visible, 0);
  Messages dead = Receive("dlq");
  ASSERT_EQ(dead.size(), 1u);
  EXPECT_EQ(dead[0].body, "poison");
  EXPECT_EQ(dead[0].receive_count, 2);  // its count carries over, +1 for this receive
  // The delivered ones were hidden by this receive (with its count and
  // times): their receipts delete them.
  std::vector<std::string> handles;
  for (const auto& m : got) handles.push_back(m.receipt_handle);
  ASSERT_TRUE(engine_->DeleteBatch("src", handles).ok());
  Advance(2s);
  EXPECT_TRUE(Receive("src").empty());
}

// VisibilityTimeout 0 leaves delivered messages visible at once: one receive
// still returns each message once (with fewer messages than asked for, a
// second round of the receive used to pick the same rows again).
TEST_F(QueueEngineTest, ZeroVisibilityReceiveReturnsEachMessageOnce) {
  Create("q");
  for (int i = 0; i < 3; ++i) Send("q", "m" + std::to_string(i));
  Messages got = Receive("q", 10, 0);
  ASSERT_EQ(got.size(), 3u);
  std::set<std::string> ids;
  for (const auto& m : got) ids.insert(m.message_id);
  EXPECT_EQ(ids.size(), 3u);
  Messages again = Receive("q", 10, 0);
  ASSERT_EQ(again.size(), 3u);
  EXPECT_EQ(again[0].receive_count, 2);
}

// DeleteBatch runs one statement per receipt: each receipt deletes only when
// it is its message's latest, whatever else is in the batch (a stale and the
// current receipt of one message, a receipt of a deleted message, a
// message of another queue).
TEST_F(QueueEngineTest, DeleteBatchMatchesEachReceiptToItsLatestReceive) {
  Create("q", {{"VisibilityTimeout", "1"}});
  Create("other");
  Send("q", "a");
  Send("q", "b");
  Send("other", "x");
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 2u);
  Advance(1s);
  Messages second = Receive("q", 1);  // "a" again: its first receipt is stale
  ASSERT_EQ(second.size(), 1u);
  ASSERT_EQ(second[0].message_id, first[0].message_id);
  Messages in_other = Receive("other");
  ASSERT_EQ(in_other.size(), 1u);
  // Stale "a" and "b" (b's first receipt is still its latest).
  auto results = engine_->DeleteBatch("q", {first[0].receipt_handle, first[1].receipt_handle});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ(Counts("q").not_visible + Counts("q").visible, 1);  // only "a" left
  // A receipt of another queue is refused, not applied.
  results = engine_->DeleteBatch("q", {in_other[0].receipt_handle});
  ASSERT_TRUE(results.ok());
  EXPECT_EQ((*results)[0].detail(), "ReceiptHandleIsInvalid");
  EXPECT_EQ(Counts("other").not_visible, 1);
  // The stale receipt first, the latest after it: the message goes.
  results = engine_->DeleteBatch(
      "q", {first[0].receipt_handle, second[0].receipt_handle, first[1].receipt_handle});
  ASSERT_TRUE(results.ok());
  for (const Status& st : *results) EXPECT_TRUE(st.ok()) << st.ToString();
  Advance(2s);
  EXPECT_TRUE(Receive("q").empty());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible + c.not_visible + c.delayed, 0);
}

// A SendBatch is one multi-row INSERT: every entry lands with its own body,
// attributes and delay, in order, and invalid entries do not stop the rest.
TEST_F(QueueEngineTest, SendBatchStoresEachEntry) {
  Create("q");
  std::vector<SendRequest> batch(kMaxBatchEntries);
  for (int i = 0; i < kMaxBatchEntries; ++i) {
    batch[i].body = "body" + std::to_string(i);
    batch[i].attributes["n"] = {"Number", std::to_string(i)};
    batch[i].sender_id = "sender" + std::to_string(i);
    if (i == 9) batch[i].delay_seconds = 5;
  }
  batch[3].body = std::string("bad\x01", 4);  // invalid character
  auto sent = engine_->SendBatch("q", batch);
  ASSERT_TRUE(sent.ok());
  EXPECT_FALSE((*sent)[3].ok());
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 8u);  // 9 stored, one of them delayed
  for (size_t k = 0, i = 0; k < got.size(); ++k, ++i) {
    if (i == 3) ++i;
    EXPECT_EQ(got[k].body, "body" + std::to_string(i));
    EXPECT_EQ(got[k].message_id, (*sent)[i]->message_id);
    EXPECT_EQ(got[k].attributes.at("n").value, std::to_string(i));
    EXPECT_EQ(got[k].sender_id, "sender" + std::to_string(i));
    EXPECT_EQ(got[k].md5_of_body, (*sent)[i]->md5_of_body);
  }
  EXPECT_EQ(Counts("q").delayed, 1);
  Advance(5s);
  Messages late = Receive("q");
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0].body, "body9");
}

TEST_F(QueueEngineTest, RedrivePolicyNeedsExistingAllowedTarget) {
  Create("q");
  EXPECT_EQ(
      engine_
          ->SetAttributes("q", {{"RedrivePolicy",
                                 R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)"
                                 R"(none","maxReceiveCount":3})"}})
          .detail(),
      "InvalidParameterValue");
  Create("closed", {{"RedriveAllowPolicy", R"({"redrivePermission":"denyAll"})"}});
  EXPECT_EQ(
      engine_
          ->SetAttributes("q", {{"RedrivePolicy",
                                 R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:)"
                                 R"(closed","maxReceiveCount":3})"}})
          .detail(),
      "InvalidParameterValue");
  EXPECT_EQ(engine_->SetAttributes("q", {{"RedrivePolicy", R"({"maxReceiveCount":3})"}}).detail(),
            "InvalidAttributeValue");
}

TEST_F(QueueEngineTest, PurgeOncePerMinute) {
  Create("q");
  Send("q", "a");
  Send("q", "b");
  EXPECT_TRUE(engine_->Purge("q").ok());
  EXPECT_EQ(Counts("q").visible, 0);
  EXPECT_EQ(engine_->Purge("q").detail(), "PurgeQueueInProgress");
  Advance(60s);
  EXPECT_TRUE(engine_->Purge("q").ok());
}

TEST_F(QueueEngineTest, CountsAreExact) {
  Create("q");
  for (int i = 0; i < 7; ++i) Send("q", "m" + std::to_string(i));
  Send("q", "later", 60);
  ASSERT_EQ(Receive("q", 3).size(), 3u);
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 4);
  EXPECT_EQ(c.not_visible, 3);
  EXPECT_EQ(c.delayed, 1);
  auto attrs = engine_->GetAttributes("q");
  EXPECT_EQ(attrs->at("ApproximateNumberOfMessages"), "4");
  EXPECT_EQ(attrs->at("ApproximateNumberOfMessagesNotVisible"), "3");
  EXPECT_EQ(attrs->at("ApproximateNumberOfMessagesDelayed"), "1");
}

TEST_F(QueueEngineTest, AQueueTakesMessagesUpTo1MiBByDefault) {
  Create("q");
  SendRequest largest;
  largest.body = std::string(1048576, 'x');
  EXPECT_TRUE(engine_->Send("q", largest).ok());
  SendRequest over;
  over.body = std::string(1048577, 'x');
  EXPECT_EQ(engine_->Send("q", over).status().detail(), "InvalidParameterValue");
}

TEST_F(QueueEngineTest, AQueueKeepsTheMaximumMessageSizeItWasCreatedWith) {
  // What a queue created under the old default of 256 KiB has stored.
  Create("q", {{"MaximumMessageSize", "262144"}});
  Reopen();
  EXPECT_EQ(engine_->GetAttributes("q")->at("MaximumMessageSize"), "262144");
  SendRequest over;
  over.body = std::string(262145, 'x');
  EXPECT_EQ(engine_->Send("q", over).status().detail(), "InvalidParameterValue");
}

TEST_F(QueueEngineTest, BatchesReportPerEntry) {
  Create("q", {{"MaximumMessageSize", "1024"}});
  std::vector<SendRequest> batch(3);
  batch[0].body = "ok";
  batch[1].body = std::string(1025, 'x');
  batch[2].body = std::string("bad\x01", 4);
  auto sent = engine_->SendBatch("q", batch);
  ASSERT_TRUE(sent.ok());
  ASSERT_EQ(sent->size(), 3u);
  EXPECT_TRUE((*sent)[0].ok());
  EXPECT_EQ((*sent)[1].status().detail(), "InvalidParameterValue");
  EXPECT_EQ((*sent)[2].status().detail(), "InvalidMessageContents");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  auto deleted = engine_->DeleteBatch("q", {got[0].receipt_handle, "nope"});
  ASSERT_TRUE(deleted.ok());
  EXPECT_TRUE((*deleted)[0].ok());
  EXPECT_EQ((*deleted)[1].detail(), "ReceiptHandleIsInvalid");
}

TEST_F(QueueEngineTest, LongPollWakesOnSend) {
  Create("q");
  auto pending = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  std::string id = Send("q", "wake");
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto got = pending.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].message_id, id);
}

TEST_F(QueueEngineTest, SendInTransactionCommitsWithTheCallerAndWakesLongPolls) {
  Create("events");
  auto waiting = ReceiveAsync("events", 10, std::nullopt, 20);
  // Rolled back with the caller's transaction: no message, no count.
  Status failed = db_->Write([&](db::Txn& txn) -> Status {
    SendRequest r;
    r.body = "lost";
    IMGBATCH_RETURN_IF_ERROR(engine_->SendInTransaction(txn, "events", r).status());
    return InvalidArgument("the object write failed");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(engine_->Counts("events")->visible, 0);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  // Committed: the parked receiver gets it right away.
  Status ok = db_->Write([&](db::Txn& txn) -> Status {
    SendRequest r;
    r.body = "event";
    return engine_->SendInTransaction(txn, "events", r).status();
  });
  ASSERT_TRUE(ok.ok()) << ok.ToString();
  ASSERT_EQ(waiting.wait_for(10s), std::future_status::ready);
  auto got = waiting.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].body, "event");
  Status missing = db_->Write([&](db::Txn& txn) -> Status {
    SendRequest r;
    r.body = "x";
    return engine_->SendInTransaction(txn, "no-such-queue", r).status();
  });
  EXPECT_EQ(missing.code(), Code::kNotFound);
}

TEST_F(QueueEngineTest, ReleaseWaitersAnswersParkedAndLaterPollsAtOnce) {
  Create("q");
  auto parked = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(parked.wait_for(50ms), std::future_status::timeout);
  engine_->ReleaseWaiters();
  ASSERT_EQ(parked.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(parked.get()->empty());
  auto later = ReceiveAsync("q", 10, std::nullopt, 20);
  ASSERT_EQ(later.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(later.get()->empty());
}

// Thousands of long polls park as callbacks, not threads; each sent message
// goes to one of them, and every poll is answered once.
TEST_F(QueueEngineTest, ThousandsOfParkedReceivesShareTheMessagesSent) {
  constexpr int kPolls = 2000;
  Create("q");
  std::vector<std::future<Result<Messages>>> polls;
  for (int i = 0; i < kPolls; ++i) polls.push_back(ReceiveAsync("q", 1, std::nullopt, 20));
  WaitUntilParked(*engine_, kPolls);
  for (int batch = 0; batch < kPolls / 10; ++batch) {
    std::vector<SendRequest> requests(10);
    for (int i = 0; i < 10; ++i) requests[i].body = "m" + std::to_string(batch * 10 + i);
    auto sent = engine_->SendBatch("q", requests);
    ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  }
  std::set<std::string> bodies;
  for (auto& poll : polls) {
    ASSERT_EQ(poll.wait_for(30s), std::future_status::ready);
    auto got = poll.get();
    ASSERT_TRUE(got.ok()) << got.status().ToString();
    ASSERT_EQ(got->size(), 1u);
    bodies.insert((*got)[0].body);
  }
  EXPECT_EQ(bodies.size(), static_cast<size_t>(kPolls));
  EXPECT_EQ(engine_->WaitingReceives(), 0);
}

// The engine thread times long polls, its sweep and move tasks' pace by the
// monotonic clock: a wall clock stepped back (an NTP step, a restored
// snapshot) holds none of them for the length of the step.
TEST_F(QueueEngineTest, ALongPollEndsOnTimeWhenTheWallClockStepsBack) {
  Create("q");
  auto pending = ReceiveAsync("q", 1, std::nullopt, 20);
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  clock_.StepWall(-1h);
  Advance(20s);
  EXPECT_TRUE(Await(pending).empty());
}

TEST_F(QueueEngineTest, TheSweepKeepsItsPaceWhenTheWallClockStepsBack) {
  Create("q", {{"MessageRetentionPeriod", "60"}});
  clock_.StepWall(-1h);
  Send("q", "m");
  Advance(61s);  // "m" is past retention on the wall clock too
  PollUntil([&] { return Counts("q").visible == 0; });
  EXPECT_EQ(Counts("q").visible, 0) << "the engine thread's sweep did not run";
}

TEST_F(QueueEngineTest, LongPollWakesOnVisibilityExpiry) {
  Create("q", {{"VisibilityTimeout", "5"}});
  Send("q", "m");
  ASSERT_EQ(Receive("q").size(), 1u);
  auto pending = ReceiveAsync("q", 1, std::nullopt, 20);
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  Advance(5s);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto got = pending.get();
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got->size(), 1u);
  EXPECT_EQ((*got)[0].receive_count, 2);
}

TEST_F(QueueEngineTest, LongPollWakesOnDelayExpiry) {
  Create("q");
  Send("q", "m", 3);
  auto pending = ReceiveAsync("q", 1, std::nullopt, 20);
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  Advance(3s);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(pending.get()->size(), 1u);
}

TEST_F(QueueEngineTest, LongPollTimesOutEmpty) {
  Create("q");
  auto pending = ReceiveAsync("q", 1, std::nullopt, 2);
  EXPECT_EQ(pending.wait_for(50ms), std::future_status::timeout);
  Advance(2s);
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  auto got = pending.get();
  ASSERT_TRUE(got.ok());
  EXPECT_TRUE(got->empty());
}

TEST_F(QueueEngineTest, ManyWaitersHoldNoThreads) {
  Create("q");
  std::vector<std::future<Result<Messages>>> waiting;
  for (int i = 0; i < 1000; ++i) waiting.push_back(ReceiveAsync("q", 1, std::nullopt, 20));
  std::vector<SendRequest> batch(10);
  for (auto& r : batch) r.body = "x";
  ASSERT_TRUE(engine_->SendBatch("q", batch).ok());
  // Ten waiters get one message each, the oldest first.
  for (int i = 0; i < 10; ++i) {
    ASSERT_EQ(waiting[i].wait_for(10s), std::future_status::ready) << i;
    EXPECT_EQ(waiting[i].get()->size(), 1u);
  }
  EXPECT_EQ(waiting[10].wait_for(10ms), std::future_status::timeout);
  Advance(20s);
  for (size_t i = 10; i < waiting.size(); ++i) {
    ASSERT_EQ(waiting[i].wait_for(10s), std::future_status::ready);
    EXPECT_TRUE(waiting[i].get()->empty());
  }
}

// No send announces messages whose visibility timeout ends: the serve starts
// with one waiter and doubles while each round fills its last one.
TEST_F(QueueEngineTest, ManyMessagesVisibleAgainReachAsManyWaiters) {
  constexpr int kMessages = 50;
  Create("q", {{"VisibilityTimeout", "5"}});
  for (int i = 0; i < kMessages; ++i) Send("q", "m" + std::to_string(i));
  size_t taken = 0;
  for (int i = 0; i < kMessages / 10; ++i) taken += Receive("q").size();
  ASSERT_EQ(taken, static_cast<size_t>(kMessages));
  std::vector<std::future<Result<Messages>>> polls;
  for (int i = 0; i < kMessages + 5; ++i) polls.push_back(ReceiveAsync("q", 1, std::nullopt, 20));
  WaitUntilParked(*engine_, kMessages + 5);
  Advance(5s);
  std::set<std::string> bodies;
  for (int i = 0; i < kMessages; ++i) {
    ASSERT_EQ(polls[i].wait_for(10s), std::future_status::ready) << i;
    auto got = polls[i].get();
    ASSERT_TRUE(got.ok());
    ASSERT_EQ(got->size(), 1u) << "poll " << i;
    bodies.insert((*got)[0].body);
  }
  EXPECT_EQ(bodies.size(), static_cast<size_t>(kMessages));
  // The last five stay parked, in line, for the next message (once the
  // serve that found nothing for them puts them back).
  WaitUntilParked(*engine_, 5);
  Send("q", "next");
  ASSERT_EQ(polls[kMessages].wait_for(10s), std::future_status::ready);
  EXPECT_EQ(polls[kMessages].get()->at(0).body, "next");
}

TEST_F(QueueEngineTest, ShorterWaitsTimeOutFirstAndTheOthersKeepTheirPlace) {
  Create("q");
  auto long_wait = ReceiveAsync("q", 1, std::nullopt, 20);
  WaitUntilParked(*engine_, 1);
  auto short_wait = ReceiveAsync("q", 1, std::nullopt, 2);
  auto later = ReceiveAsync("q", 1, std::nullopt, 20);
  WaitUntilParked(*engine_, 3);
  Advance(2s);
  ASSERT_EQ(short_wait.wait_for(10s), std::future_status::ready);
  EXPECT_TRUE(short_wait.get()->empty());
  EXPECT_EQ(engine_->WaitingReceives(), 2);
  Send("q", "first");
  ASSERT_EQ(long_wait.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(long_wait.get()->at(0).body, "first");
  EXPECT_EQ(later.wait_for(10ms), std::future_status::timeout);
  Send("q", "second");
  ASSERT_EQ(later.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(later.get()->at(0).body, "second");
}

TEST_F(QueueEngineTest, DeleteQueueCompletesWaiters) {
  Create("q");
  auto pending = ReceiveAsync("q", 1, std::nullopt, 20);
  ASSERT_TRUE(engine_->DeleteQueue("q").ok());
  ASSERT_EQ(pending.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(pending.get().status().detail(), "QueueDoesNotExist");
  EXPECT_EQ(engine_->Send("q", SendRequest()).status().code(), Code::kNotFound);
}

TEST_F(QueueEngineTest, MoveTaskSendsDeadLettersBack) {
  Create("dlq");
  Create("src",
         {{"VisibilityTimeout", "1"},
          {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":1})"}});
  for (int i = 0; i < 3; ++i) Send("src", "m" + std::to_string(i));
  ASSERT_EQ(Receive("src").size(), 3u);
  Advance(1s);
  EXPECT_TRUE(Receive("src").empty());  // all three dead-lettered
  EXPECT_EQ(Counts("dlq").visible, 3);

  const std::string dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
  EXPECT_EQ(engine_->StartMoveTask("arn:aws:sqs:us-east-1:000000000000:src", "", std::nullopt)
                .status()
                .detail(),
            "InvalidParameterValue");  // src is no dead-letter queue
  auto handle = engine_->StartMoveTask(dlq_arn, "", std::nullopt);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  engine_->Poke();
  std::vector<MoveTaskInfo> tasks;
  PollUntil([&] {
    tasks = *engine_->ListMoveTasks(dlq_arn, 10);
    return tasks.at(0).status != MoveTaskStatus::kRunning;
  });
  ASSERT_EQ(tasks.size(), 1u);
  EXPECT_EQ(tasks[0].status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(tasks[0].moved, 3);
  EXPECT_EQ(tasks[0].to_move, 3);
  EXPECT_EQ(Counts("dlq").visible, 0);
  Messages back = Receive("src");
  ASSERT_EQ(back.size(), 3u);
  EXPECT_EQ(back[0].receive_count, 1);  // counting starts over
  EXPECT_EQ(engine_->CancelMoveTask(*handle).status().detail(), "UnsupportedOperation");
}

TEST_F(QueueEngineTest, PeekReadsWithoutReceiving) {
  Create("q", {{"VisibilityTimeout", "30"}});
  SendRequest r;
  r.body = "first";
  r.attributes["ErrorCode"] = MessageAttribute{"String", "NotAnImage"};
  r.attributes["Size"] = MessageAttribute{"Number", "12"};
  ASSERT_TRUE(engine_->Send("q", std::move(r)).ok());
  Advance(1ms);
  Send("q", "second");
  Advance(1ms);
  Send("q", "third");
  auto first = engine_->Peek("q", 2);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].body, "first");  // oldest first
  EXPECT_EQ((*first)[1].body, "second");
  EXPECT_EQ((*first)[0].attributes.at("ErrorCode").value, "NotAnImage");
  EXPECT_EQ((*first)[0].attributes.at("Size").data_type, "Number");
  EXPECT_EQ((*first)[0].sent_ms, clock_.NowMillis() - 2);
  EXPECT_EQ((*first)[0].receive_count, 0);
  EXPECT_TRUE((*first)[0].visible);
  // Peeking twice changes nothing: every message is still receivable once.
  ASSERT_EQ(engine_->Peek("q", 10)->size(), 3u);
  EXPECT_EQ(Counts("q").visible, 3);
  Messages got = Receive("q", 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].receive_count, 1);
  auto after = engine_->Peek("q", 10);
  ASSERT_EQ(after->size(), 3u);
  EXPECT_EQ((*after)[0].receive_count, 1);  // in flight, still listed
  EXPECT_FALSE((*after)[0].visible);
  EXPECT_EQ(Counts("q").not_visible, 1);
  EXPECT_EQ(engine_->Peek("q", 0).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_->Peek("q", kMaxPeekMessages + 1).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(engine_->Peek("missing", 1).status().detail(), "QueueDoesNotExist");
}

TEST_F(QueueEngineTest, PeekLeavesOutExpiredMessagesAndShowsDeadLetterSource) {
  Create("dlq", {{"MessageRetentionPeriod", "60"}});
  Create("src",
         {{"VisibilityTimeout", "1"},
          {"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":1})"}});
  Send("src", "poison");
  ASSERT_EQ(Receive("src").size(), 1u);
  Advance(1s);
  EXPECT_TRUE(Receive("src").empty());  // moved to the DLQ
  auto dead = engine_->Peek("dlq", 10);
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].dead_letter_source_arn, "arn:aws:sqs:us-east-1:000000000000:src");
  EXPECT_EQ((*dead)[0].receive_count, 1);
  Advance(60s);  // past the DLQ's retention (counted from the original send)
  EXPECT_TRUE(engine_->Peek("dlq", 10)->empty());
}

TEST_F(QueueEngineTest, DeleteByIdRemovesOneMessageInAnyState) {
  Create("q");
  const std::string a = Send("q", "a");
  const std::string b = Send("q", "b");
  Messages got = Receive("q", 1, 30);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].message_id, a);
  ASSERT_TRUE(engine_->DeleteById("q", a).ok());                  // in flight
  EXPECT_TRUE(engine_->Delete("q", got[0].receipt_handle).ok());  // receiver's delete: no-op
  EXPECT_EQ(Counts("q").not_visible, 0);
  EXPECT_EQ(Counts("q").visible, 1);
  Status again = engine_->DeleteById("q", a);
  EXPECT_EQ(again.code(), Code::kNotFound);
  EXPECT_EQ(again.detail(), "MessageNotFound");
  Create("other");
  EXPECT_EQ(engine_->DeleteById("other", b).detail(), "MessageNotFound");  // wrong queue
  EXPECT_EQ(engine_->DeleteById("missing", b).detail(), "QueueDoesNotExist");
  ASSERT_TRUE(engine_->DeleteById("q", b).ok());
  EXPECT_EQ(Counts("q").visible, 0);
  EXPECT_TRUE(engine_->Peek("q", 10)->empty());
}

TEST_F(QueueEngineTest, TagsRoundTrip) {
  ASSERT_TRUE(engine_->CreateQueue("q", {}, {{"team", "img"}}).ok());
  ASSERT_TRUE(engine_->TagQueue("q", {{"env", "dev"}}).ok());
  ASSERT_TRUE(engine_->UntagQueue("q", {"team"}).ok());
  Reopen();
  auto tags = engine_->ListTags("q");
  ASSERT_TRUE(tags.ok());
  EXPECT_EQ(*tags, (AttributeMap{{"env", "dev"}}));
}

// Tags come back verbatim in XML and JSON replies: bytes that are not
// Unicode text there are refused when set, and lengths count characters.
TEST_F(QueueEngineTest, TagsMustBeTextThatRepliesCanCarry) {
  ASSERT_TRUE(engine_->CreateQueue("q", {}, {}).ok());
  for (const AttributeMap& bad :
       {AttributeMap{{"k", "\xff"}}, AttributeMap{{"\xc0\xaf", "v"}},
        AttributeMap{{"k", std::string("a\x01")}}, AttributeMap{{"", "v"}},
        AttributeMap{{std::string(129, 'k'), ""}}, AttributeMap{{"k", std::string(257, 'v')}}}) {
    Status st = engine_->TagQueue("q", bad);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << bad.begin()->first;
    EXPECT_EQ(st.detail(), "InvalidParameterValue");
  }
  EXPECT_EQ(engine_->CreateQueue("r", {}, {{"k", "\xff"}}).status().code(), Code::kInvalidArgument);
  // 128 and 256 characters of three bytes each are within the limits.
  std::string key, value;
  for (int i = 0; i < 128; ++i) key += "\xe2\x82\xac";
  for (int i = 0; i < 256; ++i) value += "\xe2\x82\xac";
  ASSERT_TRUE(engine_->TagQueue("q", {{key, value}}).ok());
  EXPECT_EQ(engine_->ListTags("q")->at(key), value);
}

TEST_F(QueueEngineTest, TraceHeaderMustBeTextThatRepliesCanCarry) {
  Create("q");
  SendRequest bad;
  bad.body = "body";
  bad.trace_header = "Root=1-\xff";
  auto sent = engine_->Send("q", bad);
  EXPECT_EQ(sent.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(sent.status().detail(), "InvalidParameterValue");
  SendRequest good;
  good.body = "body";
  good.trace_header = "Root=1-5759e988-bd862e3fe1be46a994272793;Sampled=1";
  ASSERT_TRUE(engine_->Send("q", good).ok());
  EXPECT_EQ(Counts("q").visible, 1);
}

// A standard queue keeps a message's MessageGroupId (a fair queue's tenant)
// across a restart and a move to the dead-letter queue.
TEST_F(QueueEngineTest, GroupIdIsKeptWithTheMessage) {
  Create("dlq");
  Create("q",
         {{"RedrivePolicy", R"({"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq",)"
                            R"("maxReceiveCount":1})"}});
  SendRequest grouped;
  grouped.body = "a";
  grouped.group_id = "tenant-1/!~";
  ASSERT_TRUE(engine_->Send("q", grouped).ok());
  Send("q", "b");
  for (const std::string& bad :
       std::vector<std::string>{"has space", std::string(129, 'x'), "caf\xc3\xa9", "\xff"}) {
    SendRequest r;
    r.body = "x";
    r.group_id = bad;
    EXPECT_EQ(engine_->Send("q", r).status().detail(), "InvalidParameterValue") << bad;
  }
  Reopen();
  Messages got = Receive("q", 10, 0);
  ASSERT_EQ(got.size(), 2u);
  std::map<std::string, std::string> groups;
  for (const auto& m : got) groups[m.body] = m.group_id;
  EXPECT_EQ(groups, (std::map<std::string, std::string>{{"a", "tenant-1/!~"}, {"b", ""}}));
  EXPECT_TRUE(Receive("q").empty());  // past maxReceiveCount: both moved
  Messages dead = Receive("dlq");
  ASSERT_EQ(dead.size(), 2u);
  for (const auto& m : dead) EXPECT_EQ(m.group_id, groups[m.body]);
}

TEST_F(QueueEngineTest, RestartKeepsMessagesInflightStateAndCounts) {
  Create("q", {{"VisibilityTimeout", "30"}});
  Send("q", "a");
  Send("q", "b");
  Messages got = Receive("q", 1);
  ASSERT_EQ(got.size(), 1u);
  const std::string inflight_id = got[0].message_id;
  Reopen();
  EXPECT_EQ(engine_->GetAttributes("q")->at("VisibilityTimeout"), "30");
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 1);
  EXPECT_EQ(c.not_visible, 1);
  // The in-flight message comes back once its timeout passed, its receive
  // count kept.
  Messages other = Receive("q", 10, 100);
  ASSERT_EQ(other.size(), 1u);
  EXPECT_NE(other[0].message_id, inflight_id);
  Advance(30s);
  Messages back = Receive("q");
  ASSERT_EQ(back.size(), 1u);
  EXPECT_EQ(back[0].message_id, inflight_id);
  EXPECT_EQ(back[0].receive_count, 2);
  EXPECT_TRUE(engine_->Delete("q", back[0].receipt_handle).ok());
  Reopen();
  Advance(70s);
  Messages rest = Receive("q");
  ASSERT_EQ(rest.size(), 1u);
  EXPECT_EQ(rest[0].message_id, other[0].message_id);
}

TEST_F(QueueEngineTest, ListQueuesByPrefix) {
  Create("alpha");
  Create("alpine");
  Create("beta");
  EXPECT_EQ(engine_->ListQueues("alp"), (std::vector<std::string>{"alpha", "alpine"}));
  EXPECT_EQ(engine_->ListQueues("").size(), 3u);
}

TEST_F(QueueEngineTest, FailedCommitIsReportedAndNothingChanges) {
  Create("q");
  db_->FailCommitAfter(1);
  SendRequest r;
  r.body = "lost";
  EXPECT_FALSE(engine_->Send("q", r).ok());
  EXPECT_EQ(Counts("q").visible, 0);
  EXPECT_TRUE(Receive("q").empty());
}

// kill -9 while senders are busy: every send acknowledged to the caller is
// there after reopening, and a deleted message never comes back.
TEST_F(QueueEngineTest, KillNineKeepsEveryAcknowledgedSend) {
  Create("q", {{"VisibilityTimeout", "0"}});
  auto lines = RunChildUntilKilled(200, "sent ", [](QueueEngine& engine, const Report& report) {
    SendRequest doomed;
    doomed.body = "doomed";
    auto sent = engine.Send("q", doomed);
    if (!sent.ok()) _exit(5);
    std::promise<Result<Messages>> got;
    engine.Receive("q", ReceiveOptions{}, [&](Result<Messages> r) { got.set_value(std::move(r)); });
    auto received = got.get_future().get();
    if (!received.ok() || received->size() != 1) _exit(6);
    if (!engine.Delete("q", (*received)[0].receipt_handle).ok()) _exit(7);
    report("deleted " + sent->message_id);
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        for (int i = 0; i < 100000; ++i) {
          SendRequest r;
          r.body = "m" + std::to_string(t) + "-" + std::to_string(i);
          auto ok = engine.Send("q", r);
          if (ok.ok()) report("sent " + ok->message_id);
        }
      });
    }
    for (auto& s : senders) s.join();
  });
  ASSERT_TRUE(lines);
  std::set<std::string> acked;
  std::string deleted;
  for (const std::string& l : *lines) {
    if (l.starts_with("deleted ")) deleted = l.substr(8);
    if (l.starts_with("sent ")) acked.insert(l.substr(5));
  }
  ASSERT_FALSE(deleted.empty());

  Reopen();
  std::set<std::string> present;
  while (true) {
    Messages got = Receive("q", 10, 600);
    if (got.empty()) break;
    for (const auto& m : got) present.insert(m.message_id);
  }
  for (const auto& id : acked) EXPECT_TRUE(present.count(id)) << id;
  EXPECT_FALSE(present.count(deleted));
  EXPECT_GE(present.size(), acked.size());
}

// kill -9 while FIFO senders are busy: every acknowledged send is there after
// reopening, each group still in send order, and its deduplication id still
// answers with the same message.
TEST_F(QueueEngineTest, KillNineKeepsFifoOrderAndDeduplication) {
  Create("f.fifo", {{"FifoQueue", "true"}});
  auto lines = RunChildUntilKilled(200, "sent ", [](QueueEngine& engine, const Report& report) {
    std::vector<std::thread> senders;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        for (int i = 0; i < 100000; ++i) {
          SendRequest r;
          r.body = std::to_string(i);
          r.group_id = "g" + std::to_string(t);
          r.dedup_id = r.group_id + "-" + r.body;
          auto ok = engine.Send("f.fifo", r);
          if (ok.ok()) report("sent " + r.dedup_id + " " + ok->message_id);
        }
      });
    }
    for (auto& s : senders) s.join();
  });
  ASSERT_TRUE(lines);
  std::map<std::string, std::string> acked;  // dedup id -> message id
  for (const std::string& l : *lines) {
    std::istringstream words(l);
    std::string verb, dedup, id;
    words >> verb >> dedup >> id;
    if (verb == "sent") acked[dedup] = id;
  }

  Reopen();
  std::set<std::string> present;
  std::map<std::string, int> last_of_group;
  while (true) {
    Messages got = Receive("f.fifo", 10);
    if (got.empty()) break;
    for (const auto& m : got) {
      present.insert(m.message_id);
      const int n = std::stoi(m.body);
      auto [it, first] = last_of_group.emplace(m.group_id, n);
      if (!first) {
        EXPECT_GT(n, it->second) << m.group_id;  // send order within the group
      }
      it->second = n;
      ASSERT_TRUE(engine_->Delete("f.fifo", m.receipt_handle).ok());
    }
  }
  for (const auto& [dedup, id] : acked) EXPECT_TRUE(present.count(id)) << dedup;
  // Within the interval, a resend of an acknowledged message is that message.
  const auto& [dedup, id] = *acked.begin();
  SendRequest again;
  again.body = "again";
  again.group_id = dedup.substr(0, dedup.find('-'));
  again.dedup_id = dedup;
  auto resent = engine_->Send("f.fifo", again);
  ASSERT_TRUE(resent.ok());
  EXPECT_EQ(resent->message_id, id);
  EXPECT_EQ(Counts("f.fifo").visible, 0);
}

// ---- move tasks across restarts ----------------------------------------------

// Holds the database's writer thread inside a write until released, so a
// test can observe what happens before a commit.
class WriterBlock {
 public:
  explicit WriterBlock(db::Database& db) {
    std::promise<void> entered;
    auto entered_future = entered.get_future();
    db.WriteAsync(
        [&entered, released = release_.get_future().share()](db::Txn&) -> Status {
          entered.set_value();
          released.wait();
          return Status::Ok();
        },
        [](Status) {});
    entered_future.wait();
  }
  void Release() { release_.set_value(); }

 private:
  std::promise<void> release_;
};

SendRequest Body(std::string body) {
  SendRequest r;
  r.body = std::move(body);
  return r;
}

TEST_F(QueueEngineTest, AsyncSendAndDeleteCompleteOnlyOnceCommitted) {
  Create("jobs");
  std::vector<SendRequest> requests;
  requests.push_back(Body("one"));
  requests.push_back(Body("two"));
  std::promise<Result<std::vector<Result<SendResult>>>> sent;
  auto sent_future = sent.get_future();
  {
    WriterBlock block(*db_);
    engine_->SendBatchAsync("jobs", std::move(requests),
                            [&](auto result) { sent.set_value(std::move(result)); });
    // The writer is held: nothing is committed, so nothing is acknowledged.
    EXPECT_EQ(sent_future.wait_for(0s), std::future_status::timeout);
    block.Release();
  }
  auto results = sent_future.get();
  ASSERT_TRUE(results.ok()) << results.status().ToString();
  ASSERT_EQ(results->size(), 2u);
  EXPECT_TRUE((*results)[0].ok() && (*results)[1].ok());

  Messages got = Receive("jobs");
  ASSERT_EQ(got.size(), 2u);
  std::promise<Result<std::vector<Status>>> deleted;
  engine_->DeleteBatchAsync("jobs", {got[0].receipt_handle, got[1].receipt_handle, "garbage"},
                            [&](auto result) { deleted.set_value(std::move(result)); });
  auto statuses = deleted.get_future().get();
  ASSERT_TRUE(statuses.ok());
  EXPECT_TRUE((*statuses)[0].ok());
  EXPECT_TRUE((*statuses)[1].ok());
  EXPECT_EQ((*statuses)[2].detail(), "ReceiptHandleIsInvalid");
  EXPECT_EQ(Counts("jobs").visible + Counts("jobs").not_visible, 0);

  std::promise<Result<std::vector<Result<SendResult>>>> missing;
  engine_->SendBatchAsync("nope", {}, [&](auto result) { missing.set_value(std::move(result)); });
  EXPECT_EQ(missing.get_future().get().status().code(), Code::kNotFound);
}

TEST_F(QueueEngineTest, ClosingTheEngineWaitsForAsyncSendsWhichStayDurable) {
  Create("jobs");
  std::vector<SendRequest> requests;
  requests.push_back(Body("kept"));
  std::atomic<bool> acknowledged{false};
  WriterBlock block(*db_);
  engine_->SendBatchAsync("jobs", std::move(requests),
                          [&](auto result) { acknowledged = result.ok() && (*result)[0].ok(); });
  // The engine's destructor waits for the completion, which needs the commit.
  std::thread closer([&] { engine_.reset(); });
  block.Release();
  closer.join();
  EXPECT_TRUE(acknowledged.load());
  Reopen();
  Messages got = Receive("jobs");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "kept");
}

constexpr char kDlqArn[] = "arn:aws:sqs:us-east-1:000000000000:dlq";

class MoveTaskRestartTest : public QueueEngineTest {
 protected:
  void DeadLetter(int n) {
    Create("dlq");
    Create("src", {{"VisibilityTimeout", "1"},
                   {"RedrivePolicy", std::string(R"({"deadLetterTargetArn":")") + kDlqArn +
                                         R"(","maxReceiveCount":1})"}});
    for (int i = 0; i < n; ++i) Send("src", "m" + std::to_string(i));
    ASSERT_EQ(Receive("src").size(), static_cast<size_t>(n));
    Advance(1s);
    ASSERT_TRUE(Receive("src").empty());
    ASSERT_EQ(Counts("dlq").visible, n);
  }

  // Polls the newest task of the DLQ until pred holds (10 s at most).
  MoveTaskInfo WaitForTask(const std::function<bool(const MoveTaskInfo&)>& pred) {
    MoveTaskInfo last;
    const bool reached = PollUntil([&] {
      auto tasks = engine_->ListMoveTasks(kDlqArn, 10);
      if (!tasks.ok() || tasks->empty()) return false;
      last = tasks->front();
      return pred(last);
    });
    if (!reached) {
      ADD_FAILURE() << "task never reached the expected state; last moved " << last.moved;
    }
    return last;
  }
};

// A rate-limited task (2 per second on a pinned clock) moves 2, the engine
// restarts, and the task is still listed, resumes from its cursor and
// completes: nothing moved twice, nothing left behind.
TEST_F(MoveTaskRestartTest, RunningTaskResumesAfterRestart) {
  DeadLetter(5);
  auto handle = engine_->StartMoveTask(kDlqArn, "", 2);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  engine_->Poke();
  MoveTaskInfo first = WaitForTask([](const MoveTaskInfo& t) { return t.moved == 2; });
  EXPECT_EQ(first.status, MoveTaskStatus::kRunning);
  Reopen();
  MoveTaskInfo resumed = WaitForTask([](const MoveTaskInfo& t) { return t.moved == 4; });
  EXPECT_EQ(resumed.task_handle, *handle);
  EXPECT_EQ(resumed.status, MoveTaskStatus::kRunning);
  EXPECT_EQ(resumed.to_move, 5);
  EXPECT_EQ(resumed.max_per_second, 2);
  EXPECT_EQ(Counts("src").visible, 4);
  EXPECT_EQ(Counts("dlq").visible, 1);
  Advance(1s);
  MoveTaskInfo done =
      WaitForTask([](const MoveTaskInfo& t) { return t.status != MoveTaskStatus::kRunning; });
  EXPECT_EQ(done.status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(done.moved, 5);
  EXPECT_EQ(Counts("src").visible, 5);
  EXPECT_EQ(Counts("dlq").visible, 0);
  Reopen();  // a finished task stays listed as it ended
  auto listed = engine_->ListMoveTasks(kDlqArn, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(listed->front().moved, 5);
}

TEST_F(MoveTaskRestartTest, ARateLimitedTaskKeepsItsPaceWhenTheWallClockStepsBack) {
  DeadLetter(3);
  auto handle = engine_->StartMoveTask(kDlqArn, "", 2);
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  engine_->Poke();
  WaitForTask([](const MoveTaskInfo& t) { return t.moved == 2; });
  clock_.StepWall(-1h);
  Advance(1s);
  MoveTaskInfo done =
      WaitForTask([](const MoveTaskInfo& t) { return t.status != MoveTaskStatus::kRunning; });
  EXPECT_EQ(done.status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(done.moved, 3);
}

// A move task's step and a purge of its destination both change the
// destination's count; the step applies its change after its commit, so a
// purge may commit in between. The counts must still come out exact: each
// change is applied whole, in any order (found by sqs_service_fuzzer, seed
// move_task_racing_a_purge). The race is timing: the test runs a task of
// many steps against a purge loop.
TEST_F(MoveTaskRestartTest, PurgesDuringAMoveTaskKeepTheCountsExact) {
  Create("dlq");
  Create("src", {{"RedrivePolicy", std::string(R"({"deadLetterTargetArn":")") + kDlqArn +
                                       R"(","maxReceiveCount":1})"}});
  Create("dst");
  constexpr int kMessages = 20000;
  for (int i = 0; i < kMessages; i += 10) {
    std::vector<SendRequest> batch(10);
    for (auto& r : batch) r.body = "m";
    ASSERT_TRUE(engine_->SendBatch("dlq", std::move(batch)).ok());
  }
  auto handle = engine_->StartMoveTask(kDlqArn, "arn:aws:sqs:us-east-1:000000000000:dst", {});
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  engine_->Poke();
  while (true) {
    auto tasks = engine_->ListMoveTasks(kDlqArn, 1);
    ASSERT_TRUE(tasks.ok() && !tasks->empty());
    if (tasks->front().status != MoveTaskStatus::kRunning) break;
    ASSERT_TRUE(engine_->Purge("dst").ok());
    Advance(60s);
  }
  ASSERT_TRUE(engine_->Purge("dst").ok());
  const QueueCounts c = Counts("dst");
  EXPECT_EQ(c.visible + c.not_visible + c.delayed,
            QueryInt("SELECT count(*) FROM queue_messages WHERE queue_id = "
                     "(SELECT id FROM queues WHERE name = 'dst')"));
}

TEST_F(MoveTaskRestartTest, CancelledTaskStaysCancelledAfterRestart) {
  DeadLetter(5);
  auto handle = engine_->StartMoveTask(kDlqArn, "", 2);
  ASSERT_TRUE(handle.ok());
  engine_->Poke();
  WaitForTask([](const MoveTaskInfo& t) { return t.moved == 2; });
  auto moved = engine_->CancelMoveTask(*handle);
  ASSERT_TRUE(moved.ok()) << moved.status().ToString();
  EXPECT_EQ(*moved, 2);
  Reopen();
  Advance(5s);
  std::this_thread::sleep_for(50ms);  // a resumed task would have run by now
  auto listed = engine_->ListMoveTasks(kDlqArn, 10);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ(listed->front().status, MoveTaskStatus::kCancelled);
  EXPECT_EQ(listed->front().moved, 2);
  EXPECT_EQ(Counts("dlq").visible, 3);
  EXPECT_EQ(engine_->CancelMoveTask(*handle).status().detail(), "UnsupportedOperation");
  // The source is free for a new task.
  EXPECT_TRUE(engine_->StartMoveTask(kDlqArn, "", std::nullopt).ok());
}

// The errors of starting and cancelling tasks, with the codes and words AWS
// answers (recorded against it; docs/compat.md, "Message move tasks").
TEST_F(MoveTaskRestartTest, StartAndCancelRefuseWithAwsErrors) {
  DeadLetter(3);
  auto handle = engine_->StartMoveTask(kDlqArn, "", 1);  // runs for seconds on the pinned clock
  ASSERT_TRUE(handle.ok()) << handle.status().ToString();
  const std::string nope = "arn:aws:sqs:us-east-1:000000000000:nope";
  auto expect_error = [](const Status& status, std::string_view detail, std::string_view message) {
    EXPECT_EQ(status.detail(), detail) << status.ToString();
    EXPECT_EQ(status.message(), message);
  };
  expect_error(engine_->StartMoveTask(kDlqArn, "", std::nullopt).status(), "InvalidParameterValue",
               "There is already a task running. Only one active task is allowed for a source "
               "queue arn at a given time.");
  expect_error(engine_->StartMoveTask(nope, "", std::nullopt).status(), "ResourceNotFoundException",
               "The resource that you specified for the SourceArn parameter doesn't exist.");
  expect_error(engine_->StartMoveTask(kDlqArn, nope, std::nullopt).status(),
               "ResourceNotFoundException",
               "The resource that you specified for the DestinationArn parameter doesn't exist.");
  expect_error(engine_->StartMoveTask(kDlqArn, kDlqArn, std::nullopt).status(),
               "InvalidParameterValue",
               "The source and destination queues must be different queues.");
  expect_error(engine_->ListMoveTasks(nope, 10).status(), "ResourceNotFoundException",
               "The resource that you specified for the SourceArn parameter doesn't exist.");
  expect_error(engine_->CancelMoveTask("garbage").status(), "InvalidParameterValue",
               "Value for parameter TaskHandle is invalid.");
  expect_error(
      engine_->CancelMoveTask(Base64Encode(R"({"taskId":"x","sourceArn":")" + nope + R"("})"))
          .status(),
      "ResourceNotFoundException",
      "The resource that you specified for the SourceArn parameter doesn't exist.");
  expect_error(engine_
                   ->CancelMoveTask(Base64Encode(R"({"taskId":"x","sourceArn":")" +
                                                 std::string(kDlqArn) + R"("})"))
                   .status(),
               "ResourceNotFoundException", "Task does not exist.");
  EXPECT_TRUE(engine_->CancelMoveTask(*handle).ok());
}

TEST_F(MoveTaskRestartTest, TaskOfADeletedSourceFailsAfterRestart) {
  DeadLetter(3);
  ASSERT_TRUE(engine_->StartMoveTask(kDlqArn, "", 1).ok());
  engine_->Poke();
  WaitForTask([](const MoveTaskInfo& t) { return t.moved == 1; });
  // Resumed after a restart, the task finds the queue its messages go back
  // to gone: it fails (as AWS reports it) instead of hanging.
  Reopen();
  ASSERT_TRUE(engine_->DeleteQueue("src").ok());
  Advance(1s);
  MoveTaskInfo t =
      WaitForTask([](const MoveTaskInfo& t) { return t.status != MoveTaskStatus::kRunning; });
  EXPECT_EQ(t.status, MoveTaskStatus::kFailed);
  EXPECT_FALSE(t.failure_reason.empty());
  Reopen();
  EXPECT_EQ(engine_->ListMoveTasks(kDlqArn, 10)->front().status, MoveTaskStatus::kFailed);
}

// kill -9 in the middle of a task: after restart the task's count and the
// messages agree (a step's moves and its progress commit together), and it
// completes from there.
TEST_F(MoveTaskRestartTest, KillNineMidTaskResumesConsistently) {
  DeadLetter(5);
  auto lines = RunChildUntilKilled(1, "moved", [](QueueEngine& engine, const Report& report) {
    if (!engine.StartMoveTask(kDlqArn, "", 2).ok()) return;
    engine.Poke();
    for (int i = 0; i < 2000; ++i) {
      auto tasks = engine.ListMoveTasks(kDlqArn, 1);
      if (tasks.ok() && !tasks->empty() && tasks->front().moved == 2) {
        report("moved");
        while (true) pause();  // killed here, the task running
      }
      std::this_thread::sleep_for(5ms);
    }
  });
  ASSERT_TRUE(lines);

  Reopen();
  MoveTaskInfo resumed = WaitForTask([](const MoveTaskInfo& t) { return t.moved == 4; });
  EXPECT_EQ(resumed.status, MoveTaskStatus::kRunning);
  EXPECT_EQ(Counts("src").visible, 4);
  EXPECT_EQ(Counts("dlq").visible, 1);
  Advance(1s);
  MoveTaskInfo done =
      WaitForTask([](const MoveTaskInfo& t) { return t.status != MoveTaskStatus::kRunning; });
  EXPECT_EQ(done.status, MoveTaskStatus::kCompleted);
  EXPECT_EQ(done.moved, 5);
  EXPECT_EQ(Counts("src").visible, 5);
}

TEST_F(QueueEngineTest, CountsFollowVisibilityAndDelayExpiry) {
  Create("q");
  for (int i = 0; i < 4; ++i) Send("q", "now" + std::to_string(i));
  for (int i = 0; i < 3; ++i) Send("q", "later" + std::to_string(i), 10);
  ASSERT_EQ(Receive("q", 2, 5).size(), 2u);
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 2);
  EXPECT_EQ(c.not_visible, 2);
  EXPECT_EQ(c.delayed, 3);
  Advance(5s);  // the in-flight two come back on their own
  c = Counts("q");
  EXPECT_EQ(c.visible, 4);
  EXPECT_EQ(c.not_visible, 0);
  EXPECT_EQ(c.delayed, 3);
  Advance(5s);  // the delay ends
  c = Counts("q");
  EXPECT_EQ(c.visible, 7);
  EXPECT_EQ(c.delayed, 0);
  // A message received before is in flight again (not delayed) on its
  // second receive.
  ASSERT_EQ(Receive("q", 10, 30).size(), 7u);
  c = Counts("q");
  EXPECT_EQ(c.visible, 0);
  EXPECT_EQ(c.not_visible, 7);
  EXPECT_EQ(c.delayed, 0);
}

TEST_F(QueueEngineTest, DeleteByIdIsScopedToItsQueue) {
  Create("q");
  Create("other");
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) ids.push_back(Send("q", "m" + std::to_string(i)));
  Send("other", "x");
  EXPECT_EQ(engine_->DeleteById("other", ids[7]).detail(), "MessageNotFound");
  ASSERT_TRUE(engine_->DeleteById("q", ids[7]).ok());
  EXPECT_EQ(Counts("q").visible, 19);
  EXPECT_EQ(Counts("other").visible, 1);
  auto peeked = engine_->Peek("q", 100);
  ASSERT_TRUE(peeked.ok());
  std::set<std::string> left;
  for (const PeekedMessage& m : *peeked) left.insert(m.message_id);
  EXPECT_EQ(left.size(), 19u);
  EXPECT_FALSE(left.contains(ids[7]));
}

// A database made by the schema before migration 3 (no message_id or seq
// index, narrower visible index) upgrades in place with its messages.
TEST_F(QueueEngineTest, UpgradesSchemaWithMessagesInPlace) {
  const std::string now = std::to_string(clock_.NowMillis());
  WriteOldSchemaDatabase(2,
                         "INSERT INTO queues(name, created_ms, modified_ms, attributes) "
                         "VALUES ('q', 0, 0, '{}');"
                         "INSERT INTO queue_messages(queue_id, message_id, body, attributes, "
                         "sender_id, trace_header, sent_ms, visible_at_ms) VALUES "
                         "(1, 'id-a', 'a', '', '', '', " +
                             now + ", " + now + "), (1, 'id-b', 'b', '', '', '', " + now + ", " +
                             now + ");");
  if (HasFatalFailure()) return;
  Reopen();
  ASSERT_TRUE(engine_);
  EXPECT_EQ(Counts("q").visible, 2);
  ASSERT_TRUE(engine_->DeleteById("q", "id-a").ok());
  // Migration 4 dropped the sent_ms index; the sweep walks seq order and
  // still finds the old rows once they expire (default retention 4 days).
  std::string sent_index;
  ASSERT_TRUE(db_->Read([&](db::Conn& conn) -> Status {
                   IMGBATCH_ASSIGN_OR_RETURN(
                       db::Statement st,
                       conn.Prepare("SELECT count(*) FROM sqlite_master WHERE type = 'index' "
                                    "AND name = 'queue_messages_sent'"));
                   IMGBATCH_ASSIGN_OR_RETURN(bool row, st.Step());
                   sent_index = row ? std::to_string(st.ColumnInt(0)) : "?";
                   return Status::Ok();
                 })
                  .ok());
  EXPECT_EQ(sent_index, "0");
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].message_id, "id-b");
  EXPECT_EQ(got[0].md5_of_body, Md5OfBody("b"));  // no stored MD5 before migration 5
  Send("q", "new");
  clock_.Advance(std::chrono::hours(4 * 24) + 1ms);
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible + c.not_visible + c.delayed, 0);
}

// ApproximateFirstReceiveTimestamp is the first receive's time: not the
// send time the row holds until then, nor a later receive's.
TEST_F(QueueEngineTest, FirstReceiveTimestampStaysTheFirstReceives) {
  Create("q");
  Send("q", "m");
  Advance(5s);
  const int64_t first = clock_.NowMillis();
  Messages got = Receive("q", 1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].first_receive_ms, first);
  Advance(2s);
  got = Receive("q", 1, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].receive_count, 2);
  EXPECT_EQ(got[0].first_receive_ms, first);
}

// A database at queue migration 5 holds messages with random (version-7)
// ids and the full message_id index. Migration 6 swaps that index for a
// partial one over exactly those rows: the old messages stay deletable by id
// (an index lookup), new ones carry their seq (no index entry), seqs go on
// after the old rows' (also after the newest old row was deleted), and both
// kinds receive. Once no old row is left, a restart drops the partial index.
TEST_F(QueueEngineTest, UpgradeToSeqCarryingIdsKeepsOldIdsDeletable) {
  const std::string now = std::to_string(clock_.NowMillis());
  std::vector<std::string> old_ids;
  for (int i = 0; i < 3; ++i) old_ids.push_back(NewMessageId());
  std::string insert =
      "INSERT INTO queues(name, created_ms, modified_ms, attributes) VALUES ('q', 0, 0, '{}');";
  for (const std::string& id : old_ids) {
    insert +=
        "INSERT INTO queue_messages(queue_id, message_id, body, attributes, sender_id, "
        "trace_header, sent_ms, visible_at_ms) VALUES (1, '" +
        id + "', 'old', '', '', '', " + now + ", " + now + ");";
  }
  insert += "DELETE FROM queue_messages WHERE message_id = '" + old_ids[2] + "';";
  WriteOldSchemaDatabase(5, insert);
  if (HasFatalFailure()) return;
  Reopen();
  ASSERT_TRUE(engine_);
  // Rows read through the legacy index (INDEXED BY fails if it is missing).
  auto legacy_rows = [&] {
    return QueryInt(
        "SELECT count(*) FROM queue_messages INDEXED BY queue_messages_legacy_id "
        "WHERE queue_id = 1 AND substr(message_id, 15, 1) <> '8'");
  };
  auto index_exists = [&](const std::string& name) {
    return QueryInt("SELECT count(*) FROM sqlite_master WHERE name = '" + name + "'") == 1;
  };
  EXPECT_FALSE(index_exists("queue_messages_id"));
  EXPECT_TRUE(index_exists("queue_messages_legacy_id"));
  const std::string plan = QueryPlan(sql::kDeleteByLegacyId);
  // (COVERING: with RETURNING, SQLite finds the rowids first, from the index alone.)
  EXPECT_TRUE(std::regex_search(
      plan, std::regex("SEARCH queue_messages USING (COVERING )?INDEX queue_messages_legacy_id")))
      << plan;
  EXPECT_EQ(legacy_rows(), 2);
  const std::string fresh = Send("q", "new");
  ASSERT_EQ(fresh.size(), 36u);
  EXPECT_EQ(fresh[14], '8');
  ASSERT_TRUE(SeqOfMessageId(fresh).has_value());
  EXPECT_EQ(*SeqOfMessageId(fresh), 4);  // after seq 3, the deleted newest old row
  EXPECT_EQ(legacy_rows(), 2);           // the new row is not in it
  EXPECT_EQ(Counts("q").visible, 3);
  ASSERT_TRUE(engine_->DeleteById("q", old_ids[0]).ok());
  EXPECT_EQ(engine_->DeleteById("q", old_ids[0]).detail(), "MessageNotFound");
  EXPECT_EQ(engine_->DeleteById("q", old_ids[2]).detail(), "MessageNotFound");
  EXPECT_EQ(legacy_rows(), 1);
  Messages got = Receive("q", 10);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message_id, old_ids[1]);
  EXPECT_EQ(got[1].message_id, fresh);
  ASSERT_TRUE(engine_->DeleteById("q", fresh).ok());
  EXPECT_EQ(engine_->DeleteById("q", fresh).detail(), "MessageNotFound");
  Reopen();  // one old row left: the index stays
  EXPECT_TRUE(index_exists("queue_messages_legacy_id"));
  ASSERT_TRUE(engine_->DeleteById("q", old_ids[1]).ok());
  Reopen();  // none left
  EXPECT_FALSE(index_exists("queue_messages_legacy_id"));
  EXPECT_EQ(engine_->DeleteById("q", old_ids[1]).detail(), "MessageNotFound");
  // Seqs go on from sqlite_sequence after a restart too: above seq 4 and
  // above what the send of seq 4 reserved there.
  const std::string after_restart = Send("q", "again");
  ASSERT_TRUE(SeqOfMessageId(after_restart).has_value());
  EXPECT_GT(*SeqOfMessageId(after_restart), 4 + 1000);
  ASSERT_TRUE(engine_->DeleteById("q", after_restart).ok());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible + c.not_visible + c.delayed, 0);
}

// Messages never received and sent without a delay have no index entry
// (queue migration 7): a receive reads them after the queue's cursor and
// merges them with the timed ones (back from flight, delay over) by the time
// each became visible.
TEST_F(QueueEngineTest, FreshAndTimedMessagesComeOutOldestVisibleFirst) {
  Create("q");
  const std::string a = Send("q", "a");
  Advance(1ms);
  const std::string b = Send("q", "b");
  const std::string delayed = Send("q", "delayed", 2);  // visible at +2 s
  ASSERT_EQ(Receive("q", 1, 1).size(), 1u);             // a, back at +1 s
  Advance(3s);
  const std::string c = Send("q", "c");
  const Messages got = Receive("q", 10, 30);
  std::vector<std::string> ids;
  for (const auto& m : got) ids.push_back(m.message_id);
  // b visible since its send, a since +1 s, delayed since +2 s, c now.
  EXPECT_EQ(ids, (std::vector<std::string>{b, a, delayed, c}));
  EXPECT_EQ(got[1].receive_count, 2);
}

// The cursor steps over rows in flight at the head once, and a restart (a
// new cursor) finds the fresh rows behind them again.
TEST_F(QueueEngineTest, ReceivesStepOverMessagesInFlightToFreshOnes) {
  Create("q");
  std::vector<std::string> sent;
  for (int i = 0; i < 6; ++i) sent.push_back(Send("q", "m" + std::to_string(i)));
  const Messages first = Receive("q", 2, 60);
  ASSERT_EQ(first.size(), 2u);
  EXPECT_EQ(first[0].message_id, sent[0]);
  const Messages second = Receive("q", 2, 60);
  ASSERT_EQ(second.size(), 2u);
  EXPECT_EQ(second[0].message_id, sent[2]);
  sent.push_back(Send("q", "m6"));
  Reopen();
  const Messages rest = Receive("q", 10, 60);
  std::vector<std::string> ids;
  for (const auto& m : rest) ids.push_back(m.message_id);
  EXPECT_EQ(ids, (std::vector<std::string>{sent[4], sent[5], sent[6]}));
  EXPECT_TRUE(Receive("q").empty());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 0);
  EXPECT_EQ(c.not_visible, 7);
  Advance(61s);
  EXPECT_EQ(Receive("q", 10).size(), 7u);
}

// A receive that read fresh messages and then failed (its change undone)
// has moved the queue's cursor past them: its completion marks the cursor
// stale, so the next receive looks from the start again and gets them.
TEST_F(QueueEngineTest, MessagesOfAFailedReceiveAreReceivedLater) {
  Create("q");
  const std::string poison = Send("q", "poison");
  const std::string other = Send("q", "other");
  auto exec = [&](const std::string& sql) {
    ASSERT_TRUE(db_->Write([&](db::Txn& txn) { return txn.Exec(sql); }).ok());
  };
  exec(
      "CREATE TRIGGER fail_hiding BEFORE UPDATE OF visible_at_ms ON queue_messages "
      "WHEN CAST(NEW.body AS TEXT) = 'poison' BEGIN SELECT RAISE(ABORT, 'injected failure'); END");
  auto failed = ReceiveAsync("q", 10, 30);
  ASSERT_EQ(failed.wait_for(10s), std::future_status::ready);
  EXPECT_FALSE(failed.get().ok());
  exec("DROP TRIGGER fail_hiding");
  const Messages got = Receive("q", 10, 30);
  ASSERT_EQ(got.size(), 2u);
  EXPECT_EQ(got[0].message_id, poison);
  EXPECT_EQ(got[1].message_id, other);
}

// Sends reserve seqs ahead in sqlite_sequence, so that the INSERTs between
// two reservations leave its page alone (AUTOINCREMENT rewrites it only for a
// seq above the stored value); no seq is given twice across a restart, also
// when the transaction that reserved rolled back.
TEST_F(QueueEngineTest, SeqsAreReservedAheadAndNeverGivenTwice) {
  ASSERT_TRUE(engine_->CreateQueue("q", {}, {}).ok());
  auto stored = [&] {
    return QueryInt("SELECT seq FROM sqlite_sequence WHERE name = 'queue_messages'");
  };
  const int64_t first = *SeqOfMessageId(Send("q", "first"));
  const int64_t reserved = stored();
  EXPECT_GT(reserved, first + 1000);
  int64_t last = first;
  for (int i = 0; i < 50; ++i) {
    const int64_t seq = *SeqOfMessageId(Send("q", "m" + std::to_string(i)));
    EXPECT_GT(seq, last);
    last = seq;
  }
  EXPECT_LE(last, reserved);
  EXPECT_EQ(stored(), reserved);  // not rewritten by the 50 sends
  Reopen();
  const int64_t after_restart = *SeqOfMessageId(Send("q", "after restart"));
  EXPECT_GT(after_restart, reserved);
  const int64_t reserved_again = stored();
  EXPECT_GT(reserved_again, after_restart);

  // A send whose transaction rolls back after reserving: the engine thinks
  // the seqs up to its mark are stored, but they are not; AUTOINCREMENT
  // still stores each higher seq, so a restart goes on above them.
  ASSERT_TRUE(db_->Write([&](db::Txn& txn) -> Status {
                   // Past the reservation: this send reserves again.
                   IMGBATCH_RETURN_IF_ERROR(txn.Exec(
                       "UPDATE sqlite_sequence SET seq = " + std::to_string(after_restart) +
                       " WHERE name = 'queue_messages'"));
                   return Status::Ok();
                 })
                  .ok());
  Reopen();  // the engine now starts with nothing reserved beyond after_restart
  SendRequest r;
  r.body = "rolled back";
  Status failed = db_->Write([&](db::Txn& txn) -> Status {
    IMGBATCH_RETURN_IF_ERROR(engine_->SendInTransaction(txn, "q", r).status());
    return Internal("roll back");
  });
  EXPECT_FALSE(failed.ok());
  EXPECT_EQ(stored(), after_restart);  // the reservation went with the rollback
  const int64_t kept = *SeqOfMessageId(Send("q", "kept"));
  EXPECT_GT(kept, after_restart);
  EXPECT_GE(stored(), kept);  // AUTOINCREMENT stored it
  Reopen();
  EXPECT_GT(*SeqOfMessageId(Send("q", "after the rollback")), kept);
}

// sent_ms is taken when the row is written and never goes below an earlier
// send's, even when the wall clock steps back (also across a restart): seq
// order stays sent order, which the retention sweep and peek walk.
TEST_F(QueueEngineTest, SentTimestampsNeverGoBackAndRetentionFollowsThem) {
  Create("q", {{"MessageRetentionPeriod", "60"}});
  Send("q", "a");
  clock_.Advance(-10s);  // the wall clock steps back
  Send("q", "b");
  clock_.Advance(40s);  // 30 s after "a"
  Send("q", "c");
  auto peeked = engine_->Peek("q", 10);
  ASSERT_TRUE(peeked.ok());
  ASSERT_EQ(peeked->size(), 3u);
  EXPECT_EQ((*peeked)[0].body, "a");
  EXPECT_EQ((*peeked)[1].body, "b");
  EXPECT_EQ((*peeked)[1].sent_ms, (*peeked)[0].sent_ms);  // clamped, not 10 s earlier
  EXPECT_EQ((*peeked)[2].sent_ms, (*peeked)[0].sent_ms + 30'000);
  Reopen();
  clock_.Advance(-20s);
  Send("q", "d");  // after the restart too
  peeked = engine_->Peek("q", 10);
  ASSERT_TRUE(peeked.ok());
  ASSERT_EQ(peeked->size(), 4u);
  EXPECT_EQ((*peeked)[3].sent_ms, (*peeked)[2].sent_ms);
  // 60 s after "a" (and "b"): those two go, "c" and "d" stay.
  clock_.Advance(50s);
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  peeked = engine_->Peek("q", 10);
  ASSERT_TRUE(peeked.ok());
  ASSERT_EQ(peeked->size(), 2u);
  EXPECT_EQ((*peeked)[0].body, "c");
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 2);
}

// The sweep deletes in chunks from the front of a queue's seq order: more
// expired messages than one chunk all go, the newer ones stay.
TEST_F(QueueEngineTest, RetentionSweepRemovesMoreThanOneChunk) {
  Create("q", {{"MessageRetentionPeriod", "60"}});
  for (int i = 0; i < 250; ++i) {
    std::vector<SendRequest> batch(kMaxBatchEntries);
    for (auto& r : batch) r.body = "old";
    ASSERT_TRUE(engine_->SendBatch("q", batch).ok());
  }
  Advance(30s);
  Send("q", "new");
  Advance(31s);
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  QueueCounts c = Counts("q");
  EXPECT_EQ(c.visible, 1);
  Messages got = Receive("q");
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "new");
}

// The plans of the statements that must stay flat with a large backlog, on
// a database holding 200k messages with statistics (ANALYZE), as a long-
// running server's would after PRAGMA optimize: each is an index search,
// never a scan of the table or a sort. (A plan, not a timing: it holds
// whatever the machine's load.)
TEST_F(QueueEngineTest, HotStatementsUseIndexesWithALargeBacklog) {
  Create("q");
  Create("dlq");
  ASSERT_TRUE(db_->Write([](db::Txn& txn) {
                   return txn.Exec(
                       "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n "
                       "WHERE i < 200000) "
                       "INSERT INTO queue_messages(queue_id, message_id, body, attributes, "
                       "sender_id, trace_header, sent_ms, visible_at_ms, receive_count) "
                       "SELECT (SELECT id FROM queues WHERE name = "
                       "  CASE WHEN i % 4 = 0 THEN 'dlq' ELSE 'q' END), "
                       "lower(hex(randomblob(16))), 'b', '', '', '', i, "
                       "CASE WHEN i % 3 = 0 THEN 1000000000 ELSE i END, i % 5 FROM n;"
                       "ANALYZE;");
                 })
                  .ok());
  struct Expectation {
    const char* name;
    const char* sql;
    const char* index;
  };
  const Expectation expectations[] = {
      {"receive", sql::kReceive, "INDEX queue_messages_visible"},
      {"receive fresh", sql::kReceiveFresh, "INDEX queue_messages_seq"},
      {"next visible", sql::kNextVisible, "COVERING INDEX queue_messages_visible"},
      {"count hidden", sql::kCountHidden, "COVERING INDEX queue_messages_visible"},
      {"peek", sql::kPeek, "INDEX queue_messages_seq"},
      {"expire oldest", sql::kExpireOldest, "COVERING INDEX queue_messages_seq"},
      {"delete by id", sql::kDeleteBySeqId, "INTEGER PRIMARY KEY (rowid=?)"},
      {"move step", sql::kMoveStep, "INDEX queue_messages_seq"},
      {"hide received", sql::kHideReceived, "INTEGER PRIMARY KEY (rowid=?)"},
      {"delete receipt", sql::kDeleteReceipt, "INTEGER PRIMARY KEY (rowid=?)"},
      {"delete legacy receipt", sql::kDeleteLegacyReceipt, "INTEGER PRIMARY KEY (rowid=?)"},
      {"fifo scan", sql::kFifoScan, "COVERING INDEX queue_messages_fifo"},
      {"receive by seq", sql::kReceiveBySeq, "INTEGER PRIMARY KEY (rowid=?)"},
      {"fair timed", sql::kFairTimed, "INDEX queue_messages_visible"},
      {"fair fresh", sql::kFairFresh, "INDEX queue_messages_seq"},
      {"in flight by group", sql::kInFlightGroups, "INDEX queue_messages_visible"},
  };
  for (const Expectation& e : expectations) {
    const std::string plan = QueryPlan(e.sql);
    SCOPED_TRACE(std::string(e.name) + ":\n" + plan);
    EXPECT_NE(plan.find("SEARCH queue_messages USING " + std::string(e.index)), std::string::npos);
    EXPECT_EQ(plan.find("SCAN queue_messages"), std::string::npos);
    EXPECT_EQ(plan.find("TEMP B-TREE"), std::string::npos);
  }
}

// Fair queues: a standard queue whose messages carry MessageGroupIds
// (tenants) gives quiet tenants' messages before a noisy tenant's backlog
// (queue/fair_share.h). Noisy tenants are found by the once-a-second sweep,
// which the tests run by hand (ExpireMessages).
class FairQueueTest : public QueueEngineTest {
 protected:
  void SetUp() override {
    QueueEngineTest::SetUp();
    Create("q");
  }

  // Sends `count` messages of tenant `group` ("" for none), bodies
  // "<group><first + i>", in batches of ten.
  void SendAs(const std::string& group, int count, int first = 0) {
    for (int i = 0; i < count;) {
      std::vector<SendRequest> batch;
      for (; i < count && batch.size() < 10; ++i) {
        SendRequest r;
        r.body = (group.empty() ? "-" : group) + std::to_string(first + i);
        r.group_id = group;
        batch.push_back(std::move(r));
      }
      auto sent = engine_->SendBatch("q", std::move(batch));
      ASSERT_TRUE(sent.ok()) << sent.status().ToString();
      for (const auto& r : *sent) ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  // Receives `count` messages (an hour's visibility, so they stay in
  // flight) and returns them.
  Messages Take(int count) {
    Messages got;
    while (static_cast<int>(got.size()) < count) {
      Messages m = Receive("q", std::min(10, count - static_cast<int>(got.size())), 3600);
      if (m.empty()) break;
      for (auto& x : m) got.push_back(std::move(x));
    }
    return got;
  }

  void Sweep() { ASSERT_TRUE(engine_->ExpireMessages().ok()); }

  int64_t NoisyGroups() {
    for (const auto& [queue, n] : engine_->NoisyGroups()) {
      if (queue == "q") return n;
    }
    return -1;
  }

  static std::vector<std::string> Bodies(const Messages& m) {
    std::vector<std::string> out;
    for (const auto& x : m) out.push_back(x.body);
    return out;
  }
  static int CountOf(const Messages& m, char tenant) {
    return static_cast<int>(
        std::count_if(m.begin(), m.end(), [&](const auto& x) { return x.body[0] == tenant; }));
  }
};

TEST_F(FairQueueTest, AQuietTenantComesBeforeANoisyTenantsBacklog) {
  SendAs("a", 100);
  ASSERT_EQ(Take(40).size(), 40u);  // a: 40 in flight, 60 waiting
  SendAs("b", 3);
  // Until a sample finds a noisy tenant, delivery is oldest first.
  EXPECT_EQ(NoisyGroups(), 0);
  EXPECT_EQ(Bodies(Receive("q", 1, 3600)), std::vector<std::string>{"a40"});
  Sweep();
  EXPECT_EQ(NoisyGroups(), 1);
  Messages m = Receive("q", 10, 3600);
  ASSERT_EQ(m.size(), 10u);
  // b's three first, then a's oldest.
  EXPECT_EQ(Bodies(m), (std::vector<std::string>{"b0", "b1", "b2", "a41", "a42", "a43", "a44",
                                                 "a45", "a46", "a47"}));
  EXPECT_EQ(m[0].group_id, "b");
}

TEST_F(FairQueueTest, MessagesWithoutAGroupAreQuiet) {
  SendAs("a", 60);
  ASSERT_EQ(Take(35).size(), 35u);
  SendAs("", 2);
  Sweep();
  EXPECT_EQ(Bodies(Receive("q", 3, 3600)), (std::vector<std::string>{"-0", "-1", "a35"}));
}

TEST_F(FairQueueTest, NoisyTenantsWithFewerInFlightComeFirst) {
  SendAs("a", 60);
  ASSERT_EQ(CountOf(Take(60), 'a'), 60);
  SendAs("b", 35);
  ASSERT_EQ(CountOf(Take(35), 'b'), 35);
  SendAs("a", 40, 60);  // older than b's below
  SendAs("b", 40, 35);
  Sweep();
  ASSERT_EQ(NoisyGroups(), 2);  // a 60 and b 35 of 95 in flight
  Messages m = Receive("q", 10, 3600);
  // b has 25 fewer in flight: all ten are b's, though a's are older.
  EXPECT_EQ(CountOf(m, 'b'), 10) << testing::PrintToString(Bodies(m));
  EXPECT_EQ(m.front().body, "b35");
  // Receives until the next sample count what they gave: b again until it
  // holds as many as a, then they alternate, the older first.
  ASSERT_EQ(CountOf(Take(15), 'b'), 15);  // b: 60 in flight, a: 60
  Messages next = Receive("q", 4, 3600);
  EXPECT_EQ(CountOf(next, 'a'), 2) << testing::PrintToString(Bodies(next));
  EXPECT_EQ(CountOf(next, 'b'), 2);
}

TEST_F(FairQueueTest, QuietMessagesBehindALongBacklogAreFoundAsTheScanCatchesUp) {
  SendAs("a", 3500);
  ASSERT_EQ(Take(40).size(), 40u);
  SendAs("b", 1);
  Sweep();
  ASSERT_EQ(NoisyGroups(), 1);
  // b0 sits behind 3,460 of a's rows; each receive steps over at most
  // kFairQuietScanRows (1,000) of them, and goes on from there at the next.
  int receives = 0;
  bool found = false;
  while (!found && receives < 10) {
    ++receives;
    for (const auto& x : Receive("q", 1, 3600)) found = found || x.body == "b0";
  }
  EXPECT_TRUE(found);
  EXPECT_LE(receives, 5);
  // Caught up: a quiet message sent now is the very next one given.
  SendAs("c", 1);
  SendAs("a", 5, 3500);
  EXPECT_EQ(Bodies(Receive("q", 1, 3600)), std::vector<std::string>{"c0"});
}

TEST_F(FairQueueTest, ATenantNoLongerNoisyIsServedInOrderAgain) {
  SendAs("a", 100);
  ASSERT_EQ(Take(40).size(), 40u);
  SendAs("b", 5);
  Sweep();
  ASSERT_EQ(NoisyGroups(), 1);
  ASSERT_EQ(Bodies(Receive("q", 1, 3600)), std::vector<std::string>{"b0"});
  // Five minutes without a send from a: quiet again, and its waiting
  // messages (older than b's) come first once more.
  Advance(std::chrono::minutes(5));
  Sweep();
  EXPECT_EQ(NoisyGroups(), 0);
  EXPECT_EQ(Bodies(Receive("q", 2, 3600)), (std::vector<std::string>{"a40", "a41"}));
}

TEST_F(FairQueueTest, EveryMessageIsGivenExactlyOnceWhateverTheOrder) {
  // Tenants of very different volumes, ungrouped messages, deletes and
  // visibility expiries mixed, a sample now and then: whatever the order,
  // no message may be skipped for good or given twice while in flight.
  std::mt19937 rng(7);
  std::map<std::string, int> sent_count;
  std::set<std::string> sent, deleted;
  const std::vector<std::pair<std::string, int>> tenants = {
      {"a", 150}, {"b", 4}, {"c", 1}, {"", 2}};
  for (int round = 0; round < 120; ++round) {
    for (const auto& [group, most] : tenants) {
      const int n = static_cast<int>(rng() % static_cast<unsigned>(most + 1));
      const int first = sent_count[group];
      SendAs(group, n, first);
      for (int i = 0; i < n; ++i) {
        sent.insert((group.empty() ? "-" : group) + std::to_string(first + i));
      }
      sent_count[group] += n;
    }
    // Visibility 2 s or an hour: some come back, most stay out.
    const int visibility = rng() % 4 == 0 ? 2 : 3600;
    Messages got = Receive("q", 10, visibility);
    for (const auto& m : got) {
      ASSERT_TRUE(sent.contains(m.body)) << m.body;
      ASSERT_FALSE(deleted.contains(m.body)) << m.body << " given after its delete";
      if (rng() % 3 != 0) {
        ASSERT_TRUE(engine_->Delete("q", m.receipt_handle).ok());
        deleted.insert(m.body);
      }
    }
    Advance(std::chrono::milliseconds(700));
    if (round % 3 == 0) Sweep();
  }
  // Everything not deleted comes out once it is visible.
  Advance(std::chrono::hours(2));
  Sweep();
  std::set<std::string> rest;
  for (Messages m = Receive("q", 10, 3600); !m.empty(); m = Receive("q", 10, 3600)) {
    for (const auto& x : m) {
      ASSERT_TRUE(rest.insert(x.body).second) << x.body << " given twice while in flight";
      ASSERT_FALSE(deleted.contains(x.body)) << x.body;
    }
  }
  EXPECT_EQ(rest.size() + deleted.size(), sent.size());
  EXPECT_EQ(Counts("q").visible, 0);
}

// ---- the FIFO throughput quota ------------------------------------------------

class FifoThroughputTest : public FifoQueueTest {
 protected:
  void SetUp() override {
    QueueEngineTest::SetUp();
    engine_options_.fifo_calls_per_second = 3;
    Reopen();
    Create("f.fifo", {{"FifoQueue", "true"}, {"VisibilityTimeout", "30"}});
  }
  Status ReceiveStatus(const std::string& queue) {
    auto got = ReceiveAsync(queue, 10, std::nullopt, 0);
    EXPECT_EQ(got.wait_for(10s), std::future_status::ready);
    return got.get().status();
  }
};

TEST_F(FifoThroughputTest, SendsOverTheQuotaAreThrottledAndQueueNothing) {
  for (int i = 0; i < 3; ++i) SendF("m" + std::to_string(i), "g");
  auto over = SendTo("f.fifo", "over", "g");
  EXPECT_EQ(over.status().detail(), "RequestThrottled") << over.status().ToString();
  EXPECT_EQ(Counts("f.fifo").visible, 3);
  clock_.Advance(334ms);  // one more call's worth at 3 per second
  SendF("later", "g");
  EXPECT_EQ(SendTo("f.fifo", "again", "g").status().detail(), "RequestThrottled");
  using Counts = std::vector<std::pair<std::string, int64_t>>;
  EXPECT_EQ(engine_->ThrottledCalls(), (Counts{{"f.fifo", 2}}));
}

TEST_F(FifoThroughputTest, ABatchIsOneCall) {
  std::vector<SendRequest> batch;
  for (int i = 0; i < 10; ++i) {
    SendRequest r;
    r.body = "b" + std::to_string(i);
    r.group_id = "g" + std::to_string(i % 3);
    r.dedup_id = r.body;
    batch.push_back(std::move(r));
  }
  for (int call = 0; call < 3; ++call) {
    auto sent = engine_->SendBatch("f.fifo", batch);  // duplicates after the first: still calls
    ASSERT_TRUE(sent.ok()) << sent.status().ToString();
  }
  EXPECT_EQ(engine_->SendBatch("f.fifo", batch).status().detail(), "RequestThrottled");
  EXPECT_EQ(Counts("f.fifo").visible, 10);
}

TEST_F(FifoThroughputTest, ReceivesAndDeletesHaveQuotasOfTheirOwn) {
  for (int i = 0; i < 3; ++i) SendF("m" + std::to_string(i), "g");
  EXPECT_EQ(SendTo("f.fifo", "over", "g").status().detail(), "RequestThrottled");
  Messages got = Receive("f.fifo", 10);
  ASSERT_EQ(got.size(), 3u);
  EXPECT_TRUE(Receive("f.fifo", 10).empty());  // the group is in flight
  EXPECT_TRUE(Receive("f.fifo", 10).empty());
  EXPECT_EQ(ReceiveStatus("f.fifo").detail(), "RequestThrottled");
  ASSERT_TRUE(engine_->Delete("f.fifo", got[0].receipt_handle).ok());
  ASSERT_TRUE(engine_->Delete("f.fifo", got[1].receipt_handle).ok());
  ASSERT_TRUE(engine_->DeleteBatch("f.fifo", {got[1].receipt_handle}).ok());  // a call
  EXPECT_EQ(engine_->Delete("f.fifo", got[2].receipt_handle).detail(), "RequestThrottled");
  EXPECT_EQ(engine_->DeleteBatch("f.fifo", {got[2].receipt_handle}).status().detail(),
            "RequestThrottled");
  EXPECT_EQ(Counts("f.fifo").not_visible, 1);  // the throttled deletes deleted nothing
  clock_.Advance(1s);
  EXPECT_TRUE(engine_->Delete("f.fifo", got[2].receipt_handle).ok());
  EXPECT_EQ(Counts("f.fifo").not_visible, 0);
}

TEST_F(FifoThroughputTest, AThrottledDeleteLeavesTheMessageInFlight) {
  SendF("m", "g");
  Messages got = Receive("f.fifo", 1);
  ASSERT_EQ(got.size(), 1u);
  for (int i = 0; i < 3; ++i) {  // refused calls count too
    ASSERT_EQ(engine_->Delete("f.fifo", "not a handle").detail(), "ReceiptHandleIsInvalid");
  }
  EXPECT_EQ(engine_->Delete("f.fifo", got[0].receipt_handle).detail(), "RequestThrottled");
  EXPECT_EQ(Counts("f.fifo").not_visible, 1);
}

TEST_F(FifoThroughputTest, PerMessageGroupIdCountsEachGroupsSends) {
  ASSERT_TRUE(engine_
                  ->SetAttributes("f.fifo", {{"DeduplicationScope", "messageGroup"},
                                             {"FifoThroughputLimit", "perMessageGroupId"}})
                  .ok());
  for (int i = 0; i < 3; ++i) SendF("a" + std::to_string(i), "a");
  EXPECT_EQ(SendTo("f.fifo", "a3", "a").status().detail(), "RequestThrottled");
  for (int i = 0; i < 3; ++i) SendF("b" + std::to_string(i), "b");
  // Receives and deletes are not counted per group: more than 3 go through.
  for (int i = 0; i < 5; ++i) {
    Messages got = Receive("f.fifo", 1);
    ASSERT_EQ(got.size(), 1u);
    ASSERT_TRUE(engine_->Delete("f.fifo", got[0].receipt_handle).ok());
  }
}

TEST_F(FifoThroughputTest, StandardQueuesHaveNoCallQuota) {
  Create("std");
  for (int i = 0; i < 10; ++i) Send("std", "m" + std::to_string(i));
  for (int i = 0; i < 10; ++i) ASSERT_EQ(Receive("std", 1, 0).size(), 1u);
}

// ---- the in-flight quota ----------------------------------------------------

class InFlightQuotaTest : public QueueEngineTest {
 protected:
  void SetUp() override {
    QueueEngineTest::SetUp();
    engine_options_.max_in_flight = 5;
    engine_options_.max_in_flight_fifo = 2;
    Reopen();
    Create("q", {{"VisibilityTimeout", "30"}});
    for (int i = 0; i < 8; ++i) Send("q", "m" + std::to_string(i));
  }

  Status ShortPollStatus(const std::string& queue) {
    auto got = ReceiveAsync(queue, 10, std::nullopt, 0);
    EXPECT_EQ(got.wait_for(10s), std::future_status::ready);
    return got.get().status();
  }
};

TEST_F(InFlightQuotaTest, AShortPollAtTheQuotaIsOverLimitUntilADeleteMakesRoom) {
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 5u);  // 8 visible, room for 5
  Status refused = ShortPollStatus("q");
  EXPECT_EQ(refused.detail(), "OverLimit") << refused.ToString();
  ASSERT_TRUE(engine_->Delete("q", first[0].receipt_handle).ok());
  EXPECT_EQ(Receive("q").size(), 1u);
  EXPECT_EQ(ShortPollStatus("q").detail(), "OverLimit");
  EXPECT_EQ(Counts("q").not_visible, 5);
}

TEST_F(InFlightQuotaTest, VisibilityGivenBackMakesRoom) {
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 5u);
  ASSERT_TRUE(engine_->ChangeVisibility("q", first[0].receipt_handle, 0).ok());
  EXPECT_EQ(Receive("q", 10).size(), 1u);
}

TEST_F(InFlightQuotaTest, ReceivesThatHideNothingAreNotHeldBack) {
  ASSERT_EQ(Receive("q").size(), 5u);
  // VisibilityTimeout 0 puts nothing in flight: the 3 visible ones come.
  EXPECT_EQ(Receive("q", 10, 0).size(), 3u);
}

TEST_F(InFlightQuotaTest, ALongPollAtTheQuotaWaitsForADelete) {
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 5u);
  auto waiting = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  ASSERT_TRUE(engine_->Delete("q", first[0].receipt_handle).ok());
  EXPECT_EQ(Await(waiting).size(), 1u);
}

// The operator's delete by message id (imgbatch queue delete, the
// dashboard) of a message in flight makes room at once, as DeleteMessage
// does, not only at the sweep's next count.
TEST_F(InFlightQuotaTest, ADeleteByIdOfAMessageInFlightMakesRoom) {
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 5u);
  EXPECT_EQ(ShortPollStatus("q").detail(), "OverLimit");
  ASSERT_TRUE(engine_->DeleteById("q", first[0].message_id).ok());
  EXPECT_EQ(Receive("q", 1).size(), 1u);
  auto waiting = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  ASSERT_TRUE(engine_->DeleteById("q", first[1].message_id).ok());
  EXPECT_EQ(Await(waiting).size(), 1u);
  EXPECT_EQ(Counts("q").not_visible, 5);
}

// At the quota a send has nothing a parked long poll could take: no serve
// (a write that finds no room) runs for it. Each send is one write.
TEST_F(InFlightQuotaTest, SendsAtTheQuotaDoNotServeParkedLongPolls) {
  Messages first = Receive("q");
  ASSERT_EQ(first.size(), 5u);
  auto waiting = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  const uint64_t writes_before = db_->GetStats().writes;
  for (int i = 0; i < 20; ++i) Send("q", "more" + std::to_string(i));
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  EXPECT_EQ(db_->GetStats().writes - writes_before, 20u);
  // Room comes with a delete, which serves the poll with what is visible.
  ASSERT_TRUE(engine_->Delete("q", first[0].receipt_handle).ok());
  EXPECT_EQ(Await(waiting).size(), 1u);
}

// A long poll with VisibilityTimeout 0 puts nothing in flight: a send at the
// quota still serves it.
TEST_F(InFlightQuotaTest, ALongPollThatHidesNothingIsServedAtTheQuota) {
  Create("p", {{"VisibilityTimeout", "30"}});
  for (int i = 0; i < 5; ++i) Send("p", "m" + std::to_string(i));
  ASSERT_EQ(Receive("p").size(), 5u);  // at the quota, nothing visible
  auto waiting = ReceiveAsync("p", 10, 0, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  Send("p", "new");
  Messages got = Await(waiting);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "new");
}

// ... also when an ordinary long poll, which the quota holds, waits ahead of
// it; that one keeps waiting for room.
TEST_F(InFlightQuotaTest, ALongPollThatHidesNothingIsNotHeldUpByOnesAheadOfIt) {
  Create("p", {{"VisibilityTimeout", "30"}});
  for (int i = 0; i < 5; ++i) Send("p", "m" + std::to_string(i));
  Messages first = Receive("p");
  ASSERT_EQ(first.size(), 5u);
  auto ordinary = ReceiveAsync("p", 10, std::nullopt, 20);
  EXPECT_EQ(ordinary.wait_for(50ms), std::future_status::timeout);
  auto hiding_nothing = ReceiveAsync("p", 10, 0, 20);
  EXPECT_EQ(hiding_nothing.wait_for(50ms), std::future_status::timeout);
  Send("p", "new");
  Messages got = Await(hiding_nothing);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].body, "new");
  EXPECT_EQ(ordinary.wait_for(50ms), std::future_status::timeout);
  ASSERT_TRUE(engine_->Delete("p", first[0].receipt_handle).ok());
  EXPECT_EQ(Await(ordinary).size(), 1u);
}

// This process's CPU time (user + system) while the caller sleeps for d.
double CpuSecondsWhileSleeping(std::chrono::milliseconds d) {
  auto seconds = [] {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  const double before = seconds();
  std::this_thread::sleep_for(d);
  return seconds() - before;
}

// At the quota, with only ordinary long polls parked, a message that comes
// due (here a delayed one) is nothing a serve could give them: the engine
// thread must sleep until room comes, not spin on the visibility time left
// in the past. Spinning takes the whole half second of CPU (0.50 s measured
// before the fix), sleeping next to none: the bound is half. Room given back
// by a visibility change then wakes the poll.
TEST_F(InFlightQuotaTest, AtTheQuotaTheEngineSleepsUntilRoomComes) {
  Create("p", {{"VisibilityTimeout", "30"}});
  for (int i = 0; i < 5; ++i) Send("p", "m" + std::to_string(i));
  Messages first = Receive("p");
  ASSERT_EQ(first.size(), 5u);
  Send("p", "late", 1);
  auto waiting = ReceiveAsync("p", 10, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  Advance(1s);  // "late" is due; the five are still in flight
  EXPECT_LT(CpuSecondsWhileSleeping(500ms), 0.25);
  EXPECT_EQ(waiting.wait_for(0ms), std::future_status::timeout);
  ASSERT_TRUE(engine_->ChangeVisibility("p", first[0].receipt_handle, 0).ok());
  EXPECT_EQ(Await(waiting).size(), 1u);  // room for one
}

TEST_F(InFlightQuotaTest, ALongPollAtTheQuotaAnswersEmptyWithoutAnError) {
  ASSERT_EQ(Receive("q").size(), 5u);
  auto waiting = ReceiveAsync("q", 10, std::nullopt, 2);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  Advance(2s);
  EXPECT_TRUE(Await(waiting).empty());  // no error
}

TEST_F(InFlightQuotaTest, TheSweepCountsAfreshOnceVisibilityRunsOut) {
  ASSERT_EQ(Receive("q").size(), 5u);
  // The five are visible again, which no event tells the estimate; the
  // sweep (here, and the engine thread's own, woken by the clock) counts.
  Advance(30s);
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  EXPECT_EQ(Receive("q").size(), 5u);
  EXPECT_EQ(ShortPollStatus("q").detail(), "OverLimit");
}

TEST_F(InFlightQuotaTest, ALongPollAtTheQuotaGetsWhatTheSweepFindsVisibleAgain) {
  ASSERT_EQ(Receive("q", 10, 5).size(), 5u);
  auto waiting = ReceiveAsync("q", 10, std::nullopt, 20);
  EXPECT_EQ(waiting.wait_for(50ms), std::future_status::timeout);
  Advance(5s);  // the five are visible again; the estimate learns it at the sweep
  ASSERT_TRUE(engine_->ExpireMessages().ok());
  EXPECT_EQ(Await(waiting).size(), 5u);
}

TEST_F(InFlightQuotaTest, MessagesInFlightBeforeARestartCount) {
  ASSERT_EQ(Receive("q", 3).size(), 3u);
  Reopen();
  EXPECT_EQ(Receive("q").size(), 2u);
  EXPECT_EQ(ShortPollStatus("q").detail(), "OverLimit");
}

TEST_F(InFlightQuotaTest, PurgeEmptiesTheQuota) {
  ASSERT_EQ(Receive("q").size(), 5u);
  ASSERT_TRUE(engine_->Purge("q").ok());
  Send("q", "after");
  EXPECT_EQ(Receive("q").size(), 1u);
}

TEST_F(InFlightQuotaTest, AFifoQueueAtItsQuotaGivesNothingAndNoError) {
  Create("f.fifo", {{"FifoQueue", "true"}});
  for (int i = 0; i < 4; ++i) {
    SendRequest r;
    r.body = "m" + std::to_string(i);
    r.group_id = "g" + std::to_string(i);
    r.dedup_id = r.body;
    ASSERT_TRUE(engine_->Send("f.fifo", std::move(r)).ok());
  }
  EXPECT_EQ(Receive("f.fifo").size(), 2u);
  EXPECT_TRUE(Receive("f.fifo").empty());  // no error
}

}  // namespace
}  // namespace imgbatch::queue
