// Tests for the Qt tray's icons (one distinct image per state, in the shared colours).
#include <gtest/gtest.h>

#include <QImage>

#include "agent/tray/common/tray_icon_pixels.h"
#include "agent/tray/tray_icons.h"

namespace cardvault {
namespace {

TEST(TrayIconsTest, EveryStateHasItsOwnOpaqueIcon) {
  const TrayState states[] = {TrayState::kAgentNotRunning, TrayState::kIdle, TrayState::kSyncing,
                              TrayState::kPaused, TrayState::kError};
  std::vector<QImage> images;
  for (TrayState s : states) {
    QImage image = TrayIconImage(s, 32);
    ASSERT_EQ(image.size(), QSize(32, 32));
    EXPECT_EQ(qAlpha(image.pixel(0, 0)), 0) << TrayStateName(s);     // corner: transparent
    EXPECT_EQ(qAlpha(image.pixel(8, 16)), 255) << TrayStateName(s);  // disc: opaque
    EXPECT_EQ(image.pixel(4, 16) & 0xffffff, TrayStateRgb(s)) << TrayStateName(s);
    images.push_back(image);
  }
  for (size_t i = 0; i < images.size(); ++i) {
    for (size_t j = i + 1; j < images.size(); ++j) {
      EXPECT_NE(images[i], images[j])
          << TrayStateName(states[i]) << " vs " << TrayStateName(states[j]);
    }
  }
}

}  // namespace
}  // namespace cardvault
