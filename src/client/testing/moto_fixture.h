// A gtest fixture sharing one moto server per test binary (started on first
// use, killed at exit) and resetting its state before each test. Tests skip
// with a clear message when moto is not installed.
#pragma once

#include <gtest/gtest.h>

#include "client/testing/moto_server.h"

namespace imgbatch::client::testing {

class MotoEnvironment;

class MotoTest : public ::testing::Test {
  friend class MotoEnvironment;

 protected:
  static void SetUpTestSuite() {
    if (!server_ && start_error_.empty()) {
      auto started = MotoServer::Start();
      if (started.ok()) {
        server_ = std::move(started).value().release();
      } else {
        start_error_ = started.status().ToString();
      }
    }
  }
  static void TearDownTestSuite() {}

  void SetUp() override {
    if (server_ == nullptr) GTEST_SKIP() << "moto server unavailable: " << start_error_;
    ASSERT_TRUE(server_->Reset().ok());
    clients_ = std::make_unique<TestClients>(server_->url());
  }

  const std::string& url() const { return server_->url(); }

  // Kept for the whole binary: starting moto costs seconds.
  static inline MotoServer* server_ = nullptr;
  static inline std::string start_error_;
  std::unique_ptr<TestClients> clients_;
};

// Kills the shared server when the test binary exits.
class MotoEnvironment : public ::testing::Environment {
 public:
  void TearDown() override {
    delete MotoTest::server_;  // NOLINT
    MotoTest::server_ = nullptr;
  }
};

inline ::testing::Environment* const kMotoEnvironment =
    ::testing::AddGlobalTestEnvironment(new MotoEnvironment);

}  // namespace imgbatch::client::testing
