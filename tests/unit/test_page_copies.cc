// The agent's page copies: read once, outdated (also on their way), and
// installed only as a leading run.
#include <gtest/gtest.h>

#include <vector>

#include "heap_memory.h"
#include "page_copies.h"

using gpt::node::HeapMemory;
using gpt::node::PageCopies;
namespace region = gpt::region;

namespace {

std::vector<std::byte> filled(unsigned char v) { return std::vector<std::byte>(region::kPageSize, std::byte{v}); }

struct CopiesFixture : ::testing::Test {
  region::Geometry geometry = [] {
    region::Geometry g;
    g.heap_bytes = 64u << 20;
    g.node_count = 2;
    return g;
  }();
  HeapMemory heap{geometry};
  PageCopies copies;
};

}  // namespace

TEST_F(CopiesFixture, LeadingCopiesAreInstalledOnceAndTheRestLeftToFetch) {
  copies.put(10, filled(1));
  copies.put(11, filled(2));
  copies.put(13, filled(3));  // 12 missing: the run stops there
  EXPECT_EQ(copies.install_leading(10, 4, heap), 2u);
  EXPECT_EQ(heap.page(10)[0], std::byte{1});
  EXPECT_EQ(heap.page(11)[100], std::byte{2});
  EXPECT_FALSE(copies.has(10));  // read once
  EXPECT_TRUE(copies.has(13));
  EXPECT_EQ(copies.install_leading(10, 4, heap), 0u);
}

TEST_F(CopiesFixture, AnOutdatedPageLosesItsCopyAlsoOnItsWay) {
  copies.put(5, filled(7));
  copies.outdate(5);
  EXPECT_FALSE(copies.has(5));
  copies.expect(6);
  copies.expect(7);
  copies.outdate(6);  // a notice named it while the read-ahead travelled
  copies.arrived(6, filled(8));
  copies.arrived(7, filled(9));
  EXPECT_FALSE(copies.has(6));
  EXPECT_TRUE(copies.has(7));
  EXPECT_FALSE(copies.expected(7));
  copies.arrived(8, filled(1));  // never asked for
  EXPECT_FALSE(copies.has(8));
}
