#include "keys/key_store.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "common/hashing.h"

namespace imgbatch::keys {
namespace {

auth::Policy ReadInput() {
  auto p = auth::Policy::FromJson(
      R"({"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject",)"
      R"("Resource":"arn:aws:s3:::input/*"}]})");
  EXPECT_TRUE(p.ok());
  return p.ok() ? *p : auth::Policy{};
}

class KeyStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("key_store_test_" + RandomHex(6));
    std::filesystem::create_directories(dir_);
    Reopen();
  }
  void TearDown() override {
    store_.reset();
    db_.reset();
    std::filesystem::remove_all(dir_);
  }
  void Reopen() {
    store_.reset();
    db_.reset();
    registry_ = std::make_unique<auth::KeyRegistry>();
    registry_->Put(root_);
    db::Options options;
    options.path = (dir_ / "test.db").string();
    auto db = db::Database::Open(options);
    ASSERT_TRUE(db.ok());
    db_ = std::move(*db);
    auto store = KeyStore::Open(*db_, *registry_, clock_);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(*store);
    store_->Declare(root_, "root");
  }

  std::filesystem::path dir_;
  ManualClock clock_;
  auth::AccessKey root_{"AKIAROOT000000000000", "root-secret", "root", auth::Policy::AllowAll(),
                        true};
  std::unique_ptr<auth::KeyRegistry> registry_;
  std::unique_ptr<db::Database> db_;
  std::unique_ptr<KeyStore> store_;
};

TEST_F(KeyStoreTest, CreatedKeysAreLiveAndSurviveARestart) {
  auto created = store_->Create({"AKIAREADER0000000001", "reader-secret", "reader", ReadInput()});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(created->source, "runtime");
  EXPECT_EQ(created->created_ms, clock_.NowMillis());
  EXPECT_EQ(registry_->SecretFor("AKIAREADER0000000001"), "reader-secret");
  EXPECT_TRUE(registry_->Allowed("AKIAREADER0000000001", "s3:GetObject", "arn:aws:s3:::input/a"));
  EXPECT_FALSE(registry_->Allowed("AKIAREADER0000000001", "s3:PutObject", "arn:aws:s3:::input/a"));

  Reopen();
  EXPECT_EQ(registry_->SecretFor("AKIAREADER0000000001"), "reader-secret");
  EXPECT_TRUE(registry_->Allowed("AKIAREADER0000000001", "s3:GetObject", "arn:aws:s3:::input/a"));
  auto keys = store_->List();
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0].source, "root");
  EXPECT_EQ(keys[0].policy_json, "");
  EXPECT_EQ(keys[1].access_key_id, "AKIAREADER0000000001");
  EXPECT_EQ(keys[1].name, "reader");
  EXPECT_NE(keys[1].policy_json.find("s3:GetObject"), std::string::npos);
}

TEST_F(KeyStoreTest, RevokeTakesEffectAtOnceAndStays) {
  ASSERT_TRUE(store_->Create({"AKIAREADER0000000001", "s", "reader", ReadInput()}).ok());
  ASSERT_TRUE(store_->Revoke("AKIAREADER0000000001").ok());
  EXPECT_FALSE(registry_->SecretFor("AKIAREADER0000000001"));
  EXPECT_EQ(store_->Revoke("AKIAREADER0000000001").detail(), "NoSuchKey");
  Reopen();
  EXPECT_FALSE(registry_->SecretFor("AKIAREADER0000000001"));
  EXPECT_EQ(store_->List().size(), 1u);
}

TEST_F(KeyStoreTest, DeclaredKeysAreListedButNotRevocable) {
  Status st = store_->Revoke(root_.access_key_id);
  EXPECT_EQ(st.code(), Code::kConflict);
  EXPECT_EQ(st.detail(), "KeyNotRevocable");
  EXPECT_TRUE(registry_->SecretFor(root_.access_key_id));
  // Nor can a runtime key take a declared key's id.
  EXPECT_EQ(store_->Create({root_.access_key_id, "other", "evil", ReadInput()}).status().code(),
            Code::kAlreadyExists);
  EXPECT_EQ(registry_->SecretFor(root_.access_key_id), "root-secret");
}

TEST_F(KeyStoreTest, NamesAndPoliciesAreValidated) {
  EXPECT_EQ(store_->Create({"AKIAX", "s", "bad name", ReadInput()}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->Create({"AKIAX", "s", "", ReadInput()}).status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->Create({"AKIAX", "s", std::string(kMaxKeyNameLength + 1, 'a'), ReadInput()})
                .status()
                .code(),
            Code::kInvalidArgument);
  EXPECT_EQ(store_->Create({"AKIAX", "s", "empty", auth::Policy{}}).status().code(),
            Code::kInvalidArgument);
  EXPECT_TRUE(store_->Create({"AKIAX", "s", "ci-uploader.2", ReadInput()}).ok());
  EXPECT_FALSE(registry_->Find("AKIAX")->root);
}

}  // namespace
}  // namespace imgbatch::keys
