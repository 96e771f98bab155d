#!/usr/bin/env node
// The picture README shows: CPU per request (keep-alive and Connection: close, TCP) and failed
// requests during a reload under load, for prefork, bare node:cluster and PM2, from one
// `npm run bench` result. Plain SVG text, no plotting dependency. run.mjs calls writePlot() after
// each run; `node bench/plot.mjs [bench/results/bench-....json]` redraws it (default: the newest).
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const PLOT_FILE = join(ROOT, 'docs/performance.svg');

const SERVERS = [
  { key: 'prefork', label: 'prefork', color: '#2a7ab0', change: 'prefork SIGHUP reload' },
  { key: 'cluster-rr', label: 'node:cluster', color: '#8c8c8c', change: 'node:cluster rolling restart' },
  { key: 'pm2', label: 'PM2', color: '#d9822b', change: 'PM2 reload' },
];
const SCENARIOS = [
  { key: 'keep-alive', label: 'keep-alive' },
  { key: 'close', label: 'Connection: close' },
];

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** One panel of horizontal bars: groups of rows, each row a server's value. */
function panel({ x, y, width, title, unit, groups, max }) {
  const out = [`<text x="${x}" y="${y}" class="title">${esc(title)}</text>`];
  const labelW = 200;
  const barW = width - labelW - 70;
  let row = y + 14;
  for (const group of groups) {
    if (group.label) {
      out.push(`<text x="${x}" y="${row + 12}" class="group">${esc(group.label)}</text>`);
      row += 18;
    }
    for (const bar of group.bars) {
      const w = bar.value === null ? 0 : Math.max(1, (bar.value / max) * barW);
      out.push(`<text x="${x + labelW - 8}" y="${row + 12}" class="label" text-anchor="end">${esc(bar.label)}</text>`);
      out.push(`<rect x="${x + labelW}" y="${row + 2}" width="${w.toFixed(1)}" height="14" fill="${bar.color}"/>`);
      const text = bar.value === null ? 'not measured' : `${bar.value.toLocaleString('en-US', { maximumFractionDigits: bar.value < 10 ? 1 : 0 })} ${unit}`;
      out.push(`<text x="${x + labelW + w + 6}" y="${row + 13}" class="value">${esc(text)}</text>`);
      row += 18;
    }
    row += 6;
  }
  return { svg: out.join('\n'), bottom: row };
}

/** The SVG for one bench result (the object run.mjs saves). */
export function renderPlot(result, source = '') {
  const width = 760;
  const cpuGroups = SCENARIOS.map((s) => ({
    label: s.label,
    bars: SERVERS.map((srv) => {
      const row = result.table.find((r) => r.config === srv.key && r.scenario === s.key);
      return { label: srv.label, color: srv.color, value: row ? row.cpuUsPerRequest : null };
    }),
  }));
  const cpuMax = Math.max(...cpuGroups.flatMap((g) => g.bars.map((b) => b.value ?? 0)));
  const failGroups = [
    {
      label: '',
      bars: SERVERS.map((srv) => {
        const c = result.changes.find((ch) => ch.label === srv.change);
        return { label: srv.label, color: srv.color, value: c ? c.errors : null };
      }),
    },
  ];
  const failMax = Math.max(1, ...failGroups[0].bars.map((b) => b.value ?? 0));
  const left = panel({ x: 10, y: 52, width: width / 2 + 20, title: 'CPU per request (µs, less is better)', unit: 'µs', groups: cpuGroups, max: cpuMax });
  const right = panel({
    x: width / 2 + 30,
    y: 52,
    width: width / 2 - 40,
    title: 'Failed requests during a reload',
    unit: 'failed',
    groups: failGroups,
    max: failMax,
  });
  const height = Math.max(left.bottom, right.bottom) + 30;
  const note = `${result.workers} workers, wrk -c${result.connections}, medians of ${result.rounds} rounds, Node ${result.node}${source ? `, ${source}` : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif">
<style>.title{font-size:14px;font-weight:bold}.group{font-size:12px;font-style:italic;fill:#444}.label{font-size:12px}.value{font-size:11px;fill:#222}.note{font-size:10px;fill:#666}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="22" font-size="16" font-weight="bold">prefork against bare node:cluster and PM2</text>
${left.svg}
${right.svg}
<text x="10" y="${height - 10}" class="note">${esc(note)}</text>
</svg>
`;
}

/** Writes docs/performance.svg from a saved bench result; returns its path. */
export function writePlot(file) {
  const result = JSON.parse(readFileSync(file, 'utf8'));
  writeFileSync(PLOT_FILE, renderPlot(result, basename(file, '.json')));
  return PLOT_FILE;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const dir = join(ROOT, 'bench/results');
  const file = process.argv[2] ?? join(dir, readdirSync(dir).filter((f) => /^bench-.*\.json$/.test(f)).sort().at(-1));
  console.log(writePlot(file));
}
