import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, inflateSync } from 'node:zlib';
import { StreamrecError } from '../../src/errors/errors.ts';
import {
  PALETTE,
  type PlotPanel,
  groupedBarChartSpec,
  lineChartSpec,
  offlineRecallSpec,
  onlineRecallSpec,
  renderChart,
  writeChartPng,
  writeRecallPlot,
} from '../../src/eval/plot-png.ts';
import { integerTicks } from '../../src/eval/plot/chart-spec.ts';
import { CHART_FONT_FAMILY, bundledFontFiles, chartFonts } from '../../src/eval/plot/fonts.ts';
import type { DatasetReport } from '../../src/eval/report.ts';

interface DecodedPng {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  chunkTypes: string[];
  pixel(x: number, y: number): [number, number, number];
}

/**
 * A strict reader for the PNGs resvg writes (8-bit RGB or RGBA, not interlaced): checks the
 * signature and every chunk's CRC, reads IHDR, inflates IDAT and undoes the five row filters.
 */
function decodePng(png: Buffer): DecodedPng {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const chunkTypes: string[] = [];
  const idat: Buffer[] = [];
  let ihdr: Buffer | undefined;
  let off = 8;
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    assert.equal(png.readUInt32BE(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    chunkTypes.push(type);
    if (type === 'IHDR') ihdr = png.subarray(off + 8, off + 8 + len);
    if (type === 'IDAT') idat.push(png.subarray(off + 8, off + 8 + len));
    off += 12 + len;
  }
  assert.equal(off, png.length, 'chunks end exactly at the end of the file');
  assert.ok(ihdr, 'IHDR present');
  assert.equal(chunkTypes[0], 'IHDR');
  assert.equal(chunkTypes.at(-1), 'IEND');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const bitDepth = ihdr[8];
  const colourType = ihdr[9];
  assert.equal(bitDepth, 8, 'bit depth');
  assert.ok(colourType === 2 || colourType === 6, `colour type ${colourType} is RGB or RGBA`);
  assert.equal(ihdr[12], 0, 'not interlaced');
  const bpp = colourType === 6 ? 4 : 3;
  const stride = width * bpp;
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, height * (1 + stride), 'one filter byte + one row of pixels per line');
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (1 + stride)];
    const src = raw.subarray(y * (1 + stride) + 1, (y + 1) * (1 + stride));
    for (let i = 0; i < stride; i++) {
      const a = i >= bpp ? out[y * stride + i - bpp] : 0;
      const b = y > 0 ? out[(y - 1) * stride + i] : 0;
      const c = y > 0 && i >= bpp ? out[(y - 1) * stride + i - bpp] : 0;
      let predictor: number;
      if (filter === 0) predictor = 0;
      else if (filter === 1) predictor = a;
      else if (filter === 2) predictor = b;
      else if (filter === 3) predictor = (a + b) >> 1;
      else if (filter === 4) {
        const p = a + b - c;
        const pa = Math.abs(p - a);
        const pb = Math.abs(p - b);
        const pc = Math.abs(p - c);
        predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
      } else throw new Error(`row ${y}: unknown filter ${filter}`);
      out[y * stride + i] = (src[i] + predictor) & 0xff;
    }
  }
  return {
    width,
    height,
    bitDepth,
    colourType,
    chunkTypes,
    pixel: (x, y) => {
      const o = y * stride + x * bpp;
      return [out[o], out[o + 1], out[o + 2]];
    },
  };
}

/** How many pixels of each colour (0xRRGGBB) are in rows [y0, y1). */
function colourCounts(d: DecodedPng, y0 = 0, y1 = d.height): Map<number, number> {
  const counts = new Map<number, number>();
  for (let y = y0; y < y1; y++)
    for (let x = 0; x < d.width; x++) {
      const [r, g, b] = d.pixel(x, y);
      const key = (r << 16) | (g << 8) | b;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  return counts;
}

function countOf(counts: Map<number, number>, hex: string): number {
  return counts.get(Number.parseInt(hex.slice(1), 16)) ?? 0;
}

/** Pixels darker than every channel < 90: glyphs (text is black; axes and grid are grey). */
function darkPixels(counts: Map<number, number>): number {
  let n = 0;
  for (const [key, c] of counts) if (key >> 16 < 90 && ((key >> 8) & 0xff) < 90 && (key & 0xff) < 90) n += c;
  return n;
}

/** The text content of every <text> element of an SVG, entities decoded. */
function svgTexts(svg: string): string[] {
  const decode = (s: string): string =>
    s
      .replace(/&lt;/g, '<')
      .replace(/&gt;/g, '>')
      .replace(/&quot;/g, '"')
      .replace(/&#39;/g, "'")
      .replace(/&amp;/g, '&');
  return [...svg.matchAll(/<text\b[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]));
}

function svgSize(svg: string): { width: number; height: number } {
  const root = /<svg\b[^>]*>/.exec(svg)?.[0] ?? '';
  return { width: Number(/\bwidth="([\d.]+)"/.exec(root)?.[1]), height: Number(/\bheight="([\d.]+)"/.exec(root)?.[1]) };
}

const curve = (top: number, n = 20): number[] => Array.from({ length: n }, (_, i) => (top * (i + 1)) / n);

const PANELS: PlotPanel[] = [
  {
    title: 'rsc15-100k',
    series: [
      { name: 'popularity', values: curve(0.1) },
      { name: 'item-kNN', values: curve(0.4) },
    ],
  },
  { title: 'amazon-video', series: [{ name: 'session-kNN', values: curve(0.2) }] },
];

test('a line chart renders to a PNG of the SVG size times the scale, with the series colours and text drawn', async () => {
  const spec = lineChartSpec(PANELS, { title: 'Recall & friends', xLabel: 'k (list length)', yLabel: 'Recall@k', legendTitle: 'model' });
  const { svg, png } = await renderChart(spec, { scale: 2 });

  const texts = svgTexts(svg);
  for (const t of ['Recall & friends', 'k (list length)', 'Recall@k', 'model', 'popularity', 'item-kNN', 'session-kNN', 'rsc15-100k', 'amazon-video'])
    assert.ok(texts.includes(t), `SVG has the text "${t}" (texts: ${texts.slice(0, 40).join(' | ')})`);
  assert.ok(texts.includes('20') && texts.includes('5'), 'x tick labels 5 and 20');
  assert.equal(texts.filter((t) => t === 'k (list length)').length, 2, 'each panel has its x-axis title');
  assert.match(svg, new RegExp(`font-family="${CHART_FONT_FAMILY}`), 'text names the bundled font family');

  const d = decodePng(png);
  const size = svgSize(svg);
  assert.ok(size.width > 2 * 420 && size.height > 300, `SVG ${size.width}x${size.height} holds two 420x300 panels`);
  assert.equal(d.width, Math.round(2 * size.width));
  assert.equal(d.height, Math.round(2 * size.height));
  assert.deepEqual(
    d.chunkTypes.filter((t) => t === 'IHDR' || t === 'IEND'),
    ['IHDR', 'IEND'],
  );

  // Not blank: white background, a good share of ink.
  assert.deepEqual(d.pixel(0, 0), [255, 255, 255], 'white background');
  const counts = colourCounts(d);
  const nonWhite = d.width * d.height - countOf(counts, '#ffffff');
  assert.ok(nonWhite > 0.03 * d.width * d.height, `non-white pixels: ${nonWhite} of ${d.width * d.height}`);
  // Each series is drawn in its pinned colour (series colours run in legend order, across panels).
  for (const [i, name] of ['popularity', 'item-kNN', 'session-kNN'].entries()) {
    const n = countOf(counts, PALETTE[i]);
    assert.ok(n > 500, `${name} drawn in ${PALETTE[i]}: ${n} pixels`);
  }
  assert.equal(countOf(counts, PALETTE[3]), 0, 'no fourth series colour');
  // The title band (above the panels) holds dark glyph pixels: the font was found and drawn.
  const titleInk = darkPixels(colourCounts(d, 0, 2 * 36));
  assert.ok(titleInk > 300, `dark pixels in the title band: ${titleInk}`);
});

test('a grouped bar chart draws one bar per series and category, labelled', async () => {
  const spec = groupedBarChartSpec(
    [
      {
        title: 'rsc15-100k',
        categories: ['Recall@20', 'MRR@20'],
        series: [
          { name: 'session-kNN', values: [0.66, 0.34] },
          { name: 'GRU4Rec XE', values: [0.67, 0.34] },
        ],
      },
    ],
    { title: 'Offline quality', yLabel: 'value', legendTitle: 'model' },
  );
  const { svg, png } = await renderChart(spec);
  const texts = svgTexts(svg);
  for (const t of ['Offline quality', 'value', 'model', 'session-kNN', 'GRU4Rec XE', 'Recall@20', 'MRR@20', 'rsc15-100k']) assert.ok(texts.includes(t), `SVG has "${t}"`);
  // Vega draws a bar as a path "M x,y h width v height h -width Z": one per series and category, each a real width.
  const barWidths = [...svg.matchAll(/<path\b[^>]*aria-roledescription="bar"[^>]*\bd="M[-\d.]+,[-\d.]+h([\d.]+)v/g)].map((m) => Number(m[1]));
  assert.equal(barWidths.length, 4, 'two series × two categories');
  for (const w of barWidths) assert.ok(w > 40, `bar width ${w} px (a 420 px panel with 2 groups of 2)`);
  const d = decodePng(png);
  // Bars are solid rectangles: thousands of pixels of each series colour.
  const counts = colourCounts(d);
  for (const i of [0, 1]) assert.ok(countOf(counts, PALETTE[i]) > 5000, `series ${i} bars: ${countOf(counts, PALETTE[i])} pixels`);
});

test('bar chart values must match the categories one to one', () => {
  assert.throws(
    () => groupedBarChartSpec([{ title: 'x', categories: ['a', 'b'], series: [{ name: 's', values: [1] }] }]),
    (err: unknown) => err instanceof StreamrecError && /1 values for 2 categories/.test(err.message),
  );
});

test('charts refuse nothing to plot and two panels with one title', () => {
  assert.throws(() => lineChartSpec([]), StreamrecError);
  assert.throws(() => lineChartSpec([{ title: 'a', series: [{ name: 's', values: [Number.NaN] }] }]), /no finite value/);
  assert.throws(
    () =>
      lineChartSpec([
        { title: 'a', series: [{ name: 's', values: [1] }] },
        { title: 'a', series: [{ name: 't', values: [1] }] },
      ]),
    /two panels are titled "a"/,
  );
});

test('non-finite values are left out of the line data, the rest keep their x', () => {
  const spec = lineChartSpec([{ title: 'p', series: [{ name: 's', values: [0.1, Number.NaN, 0.3] }] }]) as { data: { values: { x: number; y: number }[] } };
  assert.deepEqual(
    spec.data.values.map((r) => [r.x, r.y]),
    [
      [1, 0.1],
      [3, 0.3],
    ],
  );
});

test('integer x ticks: all when few, else 1 and multiples of a round step', () => {
  assert.deepEqual(integerTicks(8), [1, 2, 3, 4, 5, 6, 7, 8]);
  assert.deepEqual(integerTicks(20), [1, 5, 10, 15, 20]);
  assert.deepEqual(integerTicks(100), [1, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100]);
});

test('the offline figure has one panel per dataset and one line per model, cut at Recall@20', async () => {
  const row = (model: string, top: number) => ({ result: { model, recallCurve: curve(top, 25) } }) as unknown as DatasetReport['rows'][number];
  const reports = [
    { dataset: 'rsc15-100k', protocol: 'p', nItems: 10, trainEvents: 10, rows: [row('popularity', 0.1), row('GRU4Rec BPR-max', 0.7)] },
    { dataset: 'amazon-video (leave-one-out)', protocol: 'p', nItems: 10, trainEvents: 10, rows: [row('popularity', 0.03)] },
  ] as DatasetReport[];
  const spec = offlineRecallSpec(reports);
  const rows = (spec as { data: { values: { x: number }[] } }).data.values;
  assert.equal(Math.max(...rows.map((r) => r.x)), 20, 'curves cut at k = 20');
  assert.equal(rows.length, 3 * 20);
  const texts = svgTexts((await renderChart(spec)).svg);
  for (const t of ['Offline Recall@k', 'rsc15-100k', 'amazon-video (leave-one-out)', 'popularity', 'GRU4Rec BPR-max', 'Recall@k', 'k (list length)'])
    assert.ok(texts.includes(t), `SVG has "${t}"`);
});

test('the online figure plots each run per bucket and names the bucket share', async () => {
  const buckets = (top: number) => curve(top, 20).map((recall) => ({ recall }));
  const spec = onlineRecallSpec(
    [
      {
        dataset: 'drift',
        runs: [
          { name: 'frozen', buckets: buckets(0.3) },
          { name: 'continuous', buckets: buckets(0.6) },
        ],
      },
    ],
    20,
  );
  const texts = svgTexts((await renderChart(spec)).svg);
  for (const t of ['served stream, 5% buckets (1 = earliest)', 'online Recall@20', 'frozen', 'continuous', 'drift']) assert.ok(texts.includes(t), `SVG has "${t}"`);
});

test('writeChartPng and writeRecallPlot write the same deterministic PNG a render gives', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'streamrec-plot-'));
  try {
    const file = join(dir, 'nested', 'recall.png');
    await writeRecallPlot(file, PANELS);
    const written = readFileSync(file);
    const rendered = await renderChart(lineChartSpec(PANELS, { xLabel: 'k (list length)', yLabel: 'Recall@k' }));
    assert.ok(written.equals(rendered.png), 'same bytes as a fresh render: figures do not churn when redrawn');
    const other = join(dir, 'bar.png');
    await writeChartPng(other, groupedBarChartSpec([{ title: 't', categories: ['a'], series: [{ name: 's', values: [1] }] }]));
    assert.ok(decodePng(readFileSync(other)).width > 0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('chart text uses the DejaVu Sans files shipped in node_modules, not the machine fonts', () => {
  const files = bundledFontFiles();
  assert.equal(files.length, 2, `regular and bold found: ${files.join(', ')}`);
  for (const f of files) {
    assert.ok(existsSync(f));
    // TrueType: sfnt version 0x00010000.
    assert.equal(readFileSync(f).readUInt32BE(0), 0x00010000, `${f} is a TrueType file`);
  }
  const fonts = chartFonts();
  assert.equal(fonts.loadSystemFonts, false);
  assert.deepEqual(fonts.fontFiles, files);
  assert.equal(fonts.defaultFontFamily, CHART_FONT_FAMILY);
});
