// TrayIconPixels: the tray's icons as pixels, without a toolkit: a coloured disc per state
// with a white glyph (cross, check, arrow, bars, "!"), drawn on a 64-unit grid. The Win32
// tray makes its icons from them; the Qt tray draws the same shapes with QPainter in the
// same colours (TrayStateRgb).
#ifndef CARDVAULT_AGENT_TRAY_COMMON_TRAY_ICON_PIXELS_H_
#define CARDVAULT_AGENT_TRAY_COMMON_TRAY_ICON_PIXELS_H_

#include <cstdint>
#include <vector>

#include "agent/tray/common/tray_state.h"

namespace cardvault {

// The disc's colour for `state`, 0xRRGGBB.
uint32_t TrayStateRgb(TrayState state);

// `size` x `size` pixels, rows top to bottom, each 0xAARRGGBB, not premultiplied: outside
// the disc alpha is 0, inside 255, the rim anti-aliased. `size` MUST be 1..256.
std::vector<uint32_t> TrayIconPixels(TrayState state, int size);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_COMMON_TRAY_ICON_PIXELS_H_
