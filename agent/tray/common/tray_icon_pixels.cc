// TrayIconPixels: each pixel sampled 4 x 4 times against the disc and the glyph's strokes
// (segments with round caps, 7 units wide, as the Qt tray's pen).
#include "agent/tray/common/tray_icon_pixels.h"

#include <algorithm>
#include <cmath>

namespace cardvault {
namespace {

struct Segment {
  double x0, y0, x1, y1;
};

constexpr double kHalfStroke = 3.5;

std::vector<Segment> GlyphOf(TrayState state) {
  switch (state) {
    case TrayState::kAgentNotRunning:
      return {{22, 22, 42, 42}, {42, 22, 22, 42}};
    case TrayState::kIdle:
      return {{19, 33, 28, 42}, {28, 42, 45, 23}};
    case TrayState::kSyncing:
      return {{32, 45, 32, 20}, {21, 30, 32, 19}, {32, 19, 43, 30}};
    case TrayState::kPaused:
      return {{25, 21, 25, 43}, {39, 21, 39, 43}};
    case TrayState::kError:
      return {{32, 17, 32, 35}};
  }
  return {};
}

double DistanceToSegment(double x, double y, const Segment& s) {
  const double dx = s.x1 - s.x0, dy = s.y1 - s.y0;
  const double len2 = dx * dx + dy * dy;
  double t = len2 == 0 ? 0 : ((x - s.x0) * dx + (y - s.y0) * dy) / len2;
  t = std::clamp(t, 0.0, 1.0);
  return std::hypot(x - (s.x0 + t * dx), y - (s.y0 + t * dy));
}

bool InGlyph(TrayState state, const std::vector<Segment>& glyph, double x, double y) {
  for (const Segment& s : glyph) {
    if (DistanceToSegment(x, y, s) <= kHalfStroke) return true;
  }
  return state == TrayState::kError && std::hypot(x - 32, y - 45) <= 4.5;
}

uint32_t Blend(uint32_t rgb, int white_samples, int disc_samples) {
  // The colour inside the disc: the disc's mixed with the glyph's white, by coverage.
  auto mix = [&](int shift) {
    const int c = static_cast<int>((rgb >> shift) & 0xff);
    return static_cast<uint32_t>((c * (disc_samples - white_samples) + 255 * white_samples) /
                                 disc_samples);
  };
  const uint32_t alpha = static_cast<uint32_t>(disc_samples * 255 / 16);
  return alpha << 24 | mix(16) << 16 | mix(8) << 8 | mix(0);
}

}  // namespace

uint32_t TrayStateRgb(TrayState state) {
  switch (state) {
    case TrayState::kAgentNotRunning:
      return 0x757575;
    case TrayState::kIdle:
      return 0x2e7d32;
    case TrayState::kSyncing:
      return 0x1565c0;
    case TrayState::kPaused:
      return 0xef9a00;
    case TrayState::kError:
      return 0xc62828;
  }
  return 0;
}

std::vector<uint32_t> TrayIconPixels(TrayState state, int size) {
  size = std::clamp(size, 1, 256);
  const std::vector<Segment> glyph = GlyphOf(state);
  const double unit = 64.0 / size;
  std::vector<uint32_t> pixels(static_cast<size_t>(size) * size, 0);
  for (int py = 0; py < size; ++py) {
    for (int px = 0; px < size; ++px) {
      int disc = 0, white = 0;
      for (int sy = 0; sy < 4; ++sy) {
        for (int sx = 0; sx < 4; ++sx) {
          const double x = (px + (sx + 0.5) / 4) * unit, y = (py + (sy + 0.5) / 4) * unit;
          if (std::hypot(x - 32, y - 32) > 30) continue;
          ++disc;
          if (InGlyph(state, glyph, x, y)) ++white;
        }
      }
      if (disc > 0)
        pixels[static_cast<size_t>(py) * size + px] = Blend(TrayStateRgb(state), white, disc);
    }
  }
  return pixels;
}

}  // namespace cardvault
