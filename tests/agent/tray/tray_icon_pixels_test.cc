// Tests for TrayIconPixels, the icons the Win32 tray shows: transparent corners, an opaque
// disc in the state's colour, a white glyph, a different picture per state, any size.
#include "agent/tray/common/tray_icon_pixels.h"

#include <gtest/gtest.h>

#include <set>

namespace cardvault {
namespace {

constexpr TrayState kStates[] = {TrayState::kAgentNotRunning, TrayState::kIdle, TrayState::kSyncing,
                                 TrayState::kPaused, TrayState::kError};

TEST(TrayIconPixelsTest, ADiscInTheStatesColourWithAWhiteGlyphOnTransparency) {
  for (TrayState s : kStates) {
    std::vector<uint32_t> p = TrayIconPixels(s, 32);
    ASSERT_EQ(p.size(), 32u * 32u);
    EXPECT_EQ(p[0] >> 24, 0u) << TrayStateName(s);                                // corner
    EXPECT_EQ(p[16 * 32 + 4], 0xff000000 | TrayStateRgb(s)) << TrayStateName(s);  // disc
    size_t white = 0;
    for (uint32_t px : p) white += px == 0xffffffff;
    EXPECT_GT(white, 20u) << TrayStateName(s);
  }
}

TEST(TrayIconPixelsTest, EveryStateLooksDifferentAtEverySize) {
  for (int size : {16, 20, 24, 32, 48}) {
    std::set<std::vector<uint32_t>> seen;
    for (TrayState s : kStates) {
      std::vector<uint32_t> p = TrayIconPixels(s, size);
      EXPECT_EQ(p.size(), static_cast<size_t>(size * size));
      EXPECT_TRUE(seen.insert(p).second) << TrayStateName(s) << " at " << size;
    }
  }
  std::set<uint32_t> colours;
  for (TrayState s : kStates) colours.insert(TrayStateRgb(s));
  EXPECT_EQ(colours.size(), 5u);
}

}  // namespace
}  // namespace cardvault
