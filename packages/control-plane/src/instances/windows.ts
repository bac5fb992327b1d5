/**
 * Weekly maintenance windows (`maintenance.windows` of an instance): whether one is open now, and when the
 * next opens. Pure: the clock is an argument. Wall-clock times in the window's time zone.
 */
const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] as const;
const MINUTE = 60_000;
const DAY = 1440 * MINUTE;

export interface MaintenanceWindow {
  days: string[];
  start: string;
  duration: string;
  timezone?: string;
}

/** The wall clock in `timeZone` at `now`, as milliseconds of a UTC date with the same fields. */
function wallClock(now: Date, timeZone: string): number {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
      second: '2-digit',
    })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  return Date.UTC(
    Number(parts.year),
    Number(parts.month) - 1,
    Number(parts.day),
    Number(parts.hour),
    Number(parts.minute),
    Number(parts.second),
  );
}

function durationMs(text: string): number {
  const m = /^(\d+)(s|m|h|d)$/.exec(text);
  if (!m) return 0;
  return Number(m[1]) * { s: 1000, m: MINUTE, h: 60 * MINUTE, d: DAY }[m[2] as 's' | 'm' | 'h' | 'd'];
}

/** Open now, or closed with the time the next window opens. No windows: always open. */
export function windowState(
  windows: readonly MaintenanceWindow[] | undefined,
  now: Date,
): { open: true } | { open: false; nextOpen: Date } {
  if (!windows || windows.length === 0) return { open: true };
  let next = Infinity;
  for (const w of windows) {
    const wall = wallClock(now, w.timezone ?? 'UTC');
    const [h, m] = w.start.split(':').map(Number) as [number, number];
    const today = Math.floor(wall / DAY) * DAY;
    const length = durationMs(w.duration);
    for (let k = -7; k <= 7; k++) {
      const day = today + k * DAY;
      if (!w.days.includes(DAYS[new Date(day).getUTCDay()]!)) continue;
      const start = day + (h * 60 + m) * MINUTE;
      if (start <= wall && wall < start + length) return { open: true };
      if (start > wall) next = Math.min(next, now.getTime() + (start - wall));
    }
  }
  return { open: false, nextOpen: new Date(next) };
}
