// What gpt-launch checks before any node starts, and its heartbeat's
// bookkeeping (tools/gpt-launch).
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>

#include "bind_address.h"
#include "heartbeat.h"
#include "placement_check.h"
#include "program_check.h"

namespace {

using namespace std::chrono_literals;
using gpt::launch::check_placement;

TEST(Placement, WhatTheRuntimeUnderstands) {
  EXPECT_EQ(check_placement(nullptr, 4), std::nullopt);
  EXPECT_EQ(check_placement("", 4), std::nullopt);
  EXPECT_EQ(check_placement("spread", 4), std::nullopt);
  EXPECT_EQ(check_placement("local", 4), std::nullopt);
  EXPECT_EQ(check_placement("node:0", 4), std::nullopt);
  EXPECT_EQ(check_placement("node:3", 4), std::nullopt);
  EXPECT_NE(check_placement("node:4", 4)->find("GPT_PLACEMENT=node:4 names no node of this job (nodes 0 to 3)"),
            std::string::npos);
  EXPECT_NE(check_placement("node:99", 2)->find("names no node"), std::string::npos);
  for (const char* bad : {"garbage", "Spread", "node:", "node:-1", "node:1x", "node: 1", "node:99999999999"})
    EXPECT_TRUE(check_placement(bad, 4)) << bad;
  EXPECT_NE(check_placement("garbage", 4)->find("use spread (the default), local or node:K"), std::string::npos);
}

std::string temp_file(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + name;
  std::ofstream(path) << text;
  chmod(path.c_str(), 0755);
  return path;
}

TEST(ProgramCheck, AProgramBuiltWithGptCcPasses) {
  const char* dir = std::getenv("GPT_PROGRAMS_DIR");
  ASSERT_NE(dir, nullptr) << "meson sets GPT_PROGRAMS_DIR";
  EXPECT_EQ(gpt::launch::check_gpthread_program(std::string(dir) + "/exit_code"), std::nullopt);
  EXPECT_EQ(gpt::launch::check_gpthread_program(std::string(dir) + "/exit_code_glibc"), std::nullopt);
}

TEST(ProgramCheck, AnythingElseIsNamed) {
  // This test itself: an ELF program, linked without gpt-cc.
  auto why = gpt::launch::check_gpthread_program("/proc/self/exe");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("was not built with gpt-cc"), std::string::npos) << *why;
  EXPECT_NE(why->find("it would run once on every node"), std::string::npos) << *why;
  why = gpt::launch::check_gpthread_program(temp_file("gpt-script", "#!/bin/sh\necho hi\n"));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("not a 64-bit ELF program (a script?)"), std::string::npos) << *why;
  // An ELF header whose section table points nowhere.
  std::string truncated(64, '\0');
  truncated.replace(0, 4, "\x7f" "ELF");
  truncated[4] = 2;  // 64-bit
  truncated[5] = 1;  // little-endian
  why = gpt::launch::check_gpthread_program(temp_file("gpt-truncated", truncated));
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("not a 64-bit ELF program"), std::string::npos) << *why;
  why = gpt::launch::check_gpthread_program("/nonexistent/program");
  ASSERT_TRUE(why);
  EXPECT_NE(why->find("cannot read"), std::string::npos) << *why;
}

TEST(BindAddress, LoopbackHostsListenOnLoopback) {
  std::string error;
  EXPECT_EQ(gpt::launch::bind_address_for({"127.0.0.1", "localhost", "user@127.0.0.2"}, "", error), "127.0.0.1");
  EXPECT_TRUE(gpt::launch::is_loopback_host("user@localhost"));
  EXPECT_FALSE(gpt::launch::is_loopback_host("192.0.2.7"));
  EXPECT_EQ(gpt::launch::machine_of("user@h1"), "h1");
}

TEST(BindAddress, TheUsersChoiceWinsUnlessItCannotReachAHost) {
  std::string error;
  EXPECT_EQ(gpt::launch::bind_address_for({"192.0.2.7"}, "10.1.2.3", error), "10.1.2.3");
  // A name only the remote shell may know (an ssh alias) does not refuse it.
  EXPECT_EQ(gpt::launch::bind_address_for({"alias.invalid"}, "127.0.0.1", error), "127.0.0.1");
  EXPECT_EQ(gpt::launch::bind_address_for({"127.0.0.1", "192.0.2.7"}, "127.0.0.1", error), std::nullopt);
  EXPECT_NE(error.find("--bind 127.0.0.1 is a loopback address, which host 192.0.2.7 cannot reach"), std::string::npos)
      << error;
}

TEST(BindAddress, AnUnresolvableHostAsksForBind) {
  std::string error;
  EXPECT_EQ(gpt::launch::bind_address_for({"no-such-host.invalid"}, "", error), std::nullopt);
  EXPECT_NE(error.find("(the name does not resolve here): give --bind ADDRESS"), std::string::npos) << error;
}

using gpt::launch::Heartbeat;

TEST(Heartbeat, ANodeSilentPastTheLimitIsNamed) {
  Heartbeat hb(3, 2000ms);
  auto t = Heartbeat::Clock::now();
  EXPECT_FALSE(hb.ping_due(t)) << "no pings before every node joined";
  hb.start(t);
  EXPECT_TRUE(hb.ping_due(t));
  EXPECT_FALSE(hb.ping_due(t + 500ms));
  for (auto at = t; at < t + 3s; at += 20ms) {
    (void)hb.turn(at);
    hb.heard(0, at);
    hb.heard(2, at);
    if (at < t + 2s) {
      EXPECT_FALSE(hb.silent_node(at));
    }
  }
  auto s = hb.silent_node(t + 3s);
  ASSERT_TRUE(s);
  EXPECT_EQ(s->node, 1u);
  EXPECT_GE(s->for_how_long, 3s);
}

// The launcher itself was stopped (Ctrl-Z) or starved: nobody is blamed for
// the gap, and the next ping goes out at once.
TEST(Heartbeat, TheLaunchersOwnStallIsForgiven) {
  Heartbeat hb(2, 2000ms);
  auto t = Heartbeat::Clock::now();
  hb.start(t);
  (void)hb.ping_due(t);
  (void)hb.turn(t);
  t += 30s;
  EXPECT_GE(hb.turn(t), 30s);
  EXPECT_FALSE(hb.silent_node(t));
  EXPECT_TRUE(hb.ping_due(t));
  t += 1500ms;
  for (auto at = t - 1500ms; at <= t; at += 20ms) (void)hb.turn(at);
  EXPECT_FALSE(hb.silent_node(t));
  for (auto at = t; at <= t + 1s; at += 20ms) (void)hb.turn(at);
  EXPECT_TRUE(hb.silent_node(t + 1s));
}

}  // namespace
