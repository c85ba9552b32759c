// Tray icons: a coloured disc per state (TrayStateRgb, shared with the Win32 tray) with a
// white glyph (check, arrow, bars, "!", cross), drawn on a 64-unit grid and scaled to the
// requested size.
#include "agent/tray/tray_icons.h"

#include <QPainter>
#include <QPainterPath>
#include <QPixmap>

#include "agent/tray/common/tray_icon_pixels.h"

namespace cardvault {
namespace {

QColor DiscColor(TrayState state) {
  const uint32_t rgb = TrayStateRgb(state);
  return QColor((rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff);
}

void DrawGlyph(QPainter& p, TrayState state) {
  QPen pen(Qt::white, 7, Qt::SolidLine, Qt::RoundCap, Qt::RoundJoin);
  p.setPen(pen);
  p.setBrush(Qt::NoBrush);
  switch (state) {
    case TrayState::kAgentNotRunning:
      p.drawLine(QPointF(22, 22), QPointF(42, 42));
      p.drawLine(QPointF(42, 22), QPointF(22, 42));
      break;
    case TrayState::kIdle: {
      QPainterPath check;
      check.moveTo(19, 33);
      check.lineTo(28, 42);
      check.lineTo(45, 23);
      p.drawPath(check);
      break;
    }
    case TrayState::kSyncing: {
      p.drawLine(QPointF(32, 45), QPointF(32, 20));
      QPainterPath head;
      head.moveTo(21, 30);
      head.lineTo(32, 19);
      head.lineTo(43, 30);
      p.drawPath(head);
      break;
    }
    case TrayState::kPaused:
      p.drawLine(QPointF(25, 21), QPointF(25, 43));
      p.drawLine(QPointF(39, 21), QPointF(39, 43));
      break;
    case TrayState::kError:
      p.drawLine(QPointF(32, 17), QPointF(32, 35));
      p.setPen(Qt::NoPen);
      p.setBrush(Qt::white);
      p.drawEllipse(QPointF(32, 45), 4.5, 4.5);
      break;
  }
}

}  // namespace

QImage TrayIconImage(TrayState state, int size) {
  QImage image(size, size, QImage::Format_ARGB32_Premultiplied);
  image.fill(Qt::transparent);
  QPainter p(&image);
  p.setRenderHint(QPainter::Antialiasing);
  p.scale(size / 64.0, size / 64.0);
  p.setPen(Qt::NoPen);
  p.setBrush(DiscColor(state));
  p.drawEllipse(QRectF(2, 2, 60, 60));
  DrawGlyph(p, state);
  p.end();
  return image;
}

QIcon TrayIcon(TrayState state) {
  QIcon icon;
  for (int size : {16, 22, 24, 32, 48, 64}) {
    icon.addPixmap(QPixmap::fromImage(TrayIconImage(state, size)));
  }
  return icon;
}

}  // namespace cardvault
