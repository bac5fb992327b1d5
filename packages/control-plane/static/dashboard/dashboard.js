/* MSP dashboard, in the browser: live updates (server-sent events → htmx refreshes), confirmation of
   destructive actions, and the backups timeline (uPlot). No framework, no build step. */
/* global document, window, EventSource, htmx, uPlot */
'use strict';

function liveUpdates() {
  const status = document.getElementById('live-status');
  if (!status || !window.EventSource) return;
  const source = new EventSource(
    '/ui/stream?' +
      (document.querySelector('[data-stream-access]') ? 'access=1&' : '') +
      (document.querySelector('[data-stream-fleets]') ? 'fleets=1' : ''),
  );
  const say = (text) => (status.textContent = text);
  source.addEventListener('open', () => say('live'));
  source.addEventListener('error', () => say('reconnecting…'));
  source.addEventListener('unavailable', () => say('control plane unavailable…'));
  source.addEventListener('signed-out', () => {
    source.close();
    window.location.assign('/ui/sign-in');
  });
  const kinds = ['health', 'operations', 'access', 'incidents', 'fleets'];
  for (const kind of kinds) {
    source.addEventListener(kind, () => {
      say('live · updated ' + new Date().toLocaleTimeString());
      if (window.htmx) htmx.trigger(document.body, 'msp:' + kind);
    });
  }
  // A live section swaps its children, never itself (hx-select="#live > *", innerHTML): an event that comes
  // while the section's refresh is in flight is queued on the section and runs after it, which htmx skips
  // when the section it was queued on has been replaced. The last change is then always shown.
  // The stream reports changes after its first look: on each (re)connection the live parts refresh once,
  // so what changed between the page's rendering (or a dropped connection) and that look is not missed.
  source.addEventListener('hello', () => {
    if (window.htmx) for (const kind of kinds) htmx.trigger(document.body, 'msp:' + kind);
  });
}

/** A form with data-confirm asks first, naming its target; the server checks the answer came back. */
function confirmations() {
  document.addEventListener('submit', (event) => {
    const form = event.target;
    let question = form.dataset && form.dataset.confirm;
    if (!question) return;
    const to = form.querySelector('[name="to"]');
    const into = form.querySelector('[name="into"]');
    question = question
      .replace('{to}', to ? to.value : '')
      .replace('{where}', into && into.value ? 'into a clone named ' + into.value : 'in place');
    const field = form.querySelector('input[name="confirm"]');
    // A target may name the version picked in the form (an upgrade: `env/id@{to}`).
    const target = (form.dataset.target || 'yes').replace('{to}', to ? to.value : '');
    // A restore in place is typed out: the answer goes to the server as is, which refuses anything but
    // the target's name.
    if (form.dataset.confirmTyped === 'in-place' && !(into && into.value)) {
      const answer = window.prompt(question + '\nType ' + target + ' to confirm.');
      if (answer === null) event.preventDefault();
      else if (field) field.value = answer.trim();
      return;
    }
    if (!window.confirm(question)) {
      event.preventDefault();
      return;
    }
    if (field) field.value = target;
  });
}

/** Backups over time with the recoverable window; a click (or the slider) picks the restore time. */
function timeline() {
  const holder = document.getElementById('timeline');
  const dataNode = document.getElementById('timeline-data');
  if (!holder || !dataNode || !window.uPlot) return;
  const d = JSON.parse(dataNode.textContent);
  const input = document.getElementById('restore-to');
  const slider = document.getElementById('restore-slider');
  const form = document.getElementById('restore-form');
  const from = d.window ? Date.parse(d.window.from) / 1000 : null;
  const to = d.window ? Date.parse(d.window.to) / 1000 : null;
  const times = d.backups.map((b) => Date.parse(b.at) / 1000);
  // The times recent restores went back to (a marker each).
  const restored = (d.restores || []).map((r) => Date.parse(r.to) / 1000);
  const now = Date.now() / 1000;
  let lo = Math.min(...times, ...restored, from ?? now);
  let hi = Math.max(...times, ...restored, to ?? now);
  const pad = Math.max(60, (hi - lo) * 0.1);
  lo -= pad;
  hi += pad;
  // One x per backup, plus the window's edges: the window series is 1 inside, null outside.
  const xs = [...new Set([lo, ...times, ...restored, ...(from !== null ? [from, to] : []), hi])].sort(
    (a, b) => a - b,
  );
  const inWindow = xs.map((x) => (from !== null && x >= from && x <= to ? 1 : null));
  const sizes = xs.map((x) => {
    const b = d.backups.find((y) => Date.parse(y.at) / 1000 === x);
    return b ? b.mib : null;
  });
  const restores = xs.map((x) => (restored.includes(x) ? 0.5 : null));
  const pick = (seconds) => {
    const iso = new Date(Math.round(seconds) * 1000).toISOString().replace('.000Z', 'Z');
    if (input) input.value = iso;
    if (slider) slider.value = String(Math.round(seconds));
    if (form) form.dataset.picked = iso;
  };
  const plot = new uPlot(
    {
      width: holder.clientWidth - 10,
      height: 180,
      scales: { x: { time: true, range: [lo, hi] }, w: { range: [0, 1] } },
      axes: [{}, { scale: 'mib', label: 'MiB' }],
      legend: { show: true },
      series: [
        {},
        {
          label: 'recoverable',
          scale: 'w',
          fill: 'rgba(26,127,55,0.18)',
          stroke: 'rgba(26,127,55,0.6)',
          width: 1,
        },
        {
          label: 'base backup (MiB)',
          scale: 'mib',
          stroke: '#0b5cad',
          width: 0,
          points: { show: true, size: 9 },
        },
        {
          label: 'restored to',
          scale: 'w',
          stroke: '#cf222e',
          width: 0,
          points: { show: true, size: 11, fill: '#cf222e' },
        },
      ],
      cursor: { drag: { x: false, y: false } },
    },
    [xs, inWindow, sizes, restores],
    holder,
  );
  // The time range drawn, in unix seconds (the x scale spans the plot area exactly).
  holder.dataset.xMin = String(lo);
  holder.dataset.xMax = String(hi);
  plot.over.addEventListener('click', (event) => {
    const rect = plot.over.getBoundingClientRect();
    const seconds = plot.posToVal(event.clientX - rect.left, 'x');
    pick(Math.min(Math.max(seconds, from ?? seconds), to ?? seconds));
  });
  if (slider) slider.addEventListener('input', () => pick(Number(slider.value)));
  window.addEventListener('resize', () => plot.setSize({ width: holder.clientWidth - 10, height: 180 }));
}

/** Small charts from JSON blocks: `{ "x": [unix s], "series": [{ "label", "values" }] }`. */
function charts() {
  if (!window.uPlot) return;
  for (const holder of document.querySelectorAll('[data-chart]')) {
    const node = document.getElementById(holder.dataset.chart);
    if (!node) continue;
    const d = JSON.parse(node.textContent);
    if (d.x.length === 0) continue;
    const colors = ['#0b5cad', '#1a7f37', '#9a6700', '#cf222e', '#8250df', '#57606a'];
    new uPlot(
      {
        width: holder.clientWidth - 10,
        height: 160,
        series: [
          {},
          ...d.series.map((s, i) => ({ label: s.label, stroke: colors[i % colors.length], width: 2 })),
        ],
      },
      [d.x, ...d.series.map((s) => s.values)],
      holder,
    );
  }
}

document.addEventListener('DOMContentLoaded', () => {
  liveUpdates();
  confirmations();
  timeline();
  charts();
});
