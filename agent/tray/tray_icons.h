// TrayIcon: the tray's icons, drawn with QPainter at run time (no image files), one per
// TrayState.
#ifndef CARDVAULT_AGENT_TRAY_TRAY_ICONS_H_
#define CARDVAULT_AGENT_TRAY_TRAY_ICONS_H_

#include <QIcon>
#include <QImage>

#include "agent/tray/common/tray_state.h"

namespace cardvault {

// A `size` x `size` ARGB image of the icon for `state`. Needs a QGuiApplication.
QImage TrayIconImage(TrayState state, int size);

// The icon for `state` at the usual tray sizes (16 to 64 px).
QIcon TrayIcon(TrayState state);

}  // namespace cardvault

#endif  // CARDVAULT_AGENT_TRAY_TRAY_ICONS_H_
