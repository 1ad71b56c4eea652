import { test } from 'node:test';
import assert from 'node:assert/strict';
import { inflateSync } from 'node:zlib';
import { PALETTE, niceCeil, panelLayout, plotRecallCurves, type PlotPanel } from '../../src/eval/plot-png.ts';
import { crc32, encodePng } from '../../src/eval/plot/png.ts';
import { Canvas } from '../../src/eval/plot/canvas.ts';
import { glyph, hasGlyph } from '../../src/eval/plot/font.ts';

interface Decoded {
  width: number;
  height: number;
  bitDepth: number;
  colourType: number;
  chunkTypes: string[];
  pixel(x: number, y: number): [number, number, number];
}

/** A strict little PNG reader: checks the signature, every CRC, and the unfiltered RGB rows. */
function decodePng(png: Buffer): Decoded {
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'PNG signature');
  const chunkTypes: string[] = [];
  const idat: Buffer[] = [];
  let ihdr: Buffer | undefined;
  let off = 8;
  while (off < png.length) {
    const len = png.readUInt32BE(off);
    const type = png.toString('ascii', off + 4, off + 8);
    const data = png.subarray(off + 8, off + 8 + len);
    assert.equal(png.readUInt32BE(off + 8 + len), crc32(png.subarray(off + 4, off + 8 + len)), `CRC of ${type}`);
    chunkTypes.push(type);
    if (type === 'IHDR') ihdr = data;
    if (type === 'IDAT') idat.push(data);
    off += 12 + len;
  }
  assert.equal(off, png.length, 'chunks end exactly at the end of the file');
  assert.ok(ihdr, 'IHDR present');
  const width = ihdr.readUInt32BE(0);
  const height = ihdr.readUInt32BE(4);
  const raw = inflateSync(Buffer.concat(idat));
  assert.equal(raw.length, height * (1 + width * 3), 'one filter byte + RGB per row');
  for (let y = 0; y < height; y++) assert.equal(raw[y * (1 + width * 3)], 0, `row ${y} uses filter 0`);
  return {
    width,
    height,
    bitDepth: ihdr[8],
    colourType: ihdr[9],
    chunkTypes,
    pixel: (x, y) => {
      const o = y * (1 + width * 3) + 1 + x * 3;
      return [raw[o], raw[o + 1], raw[o + 2]];
    },
  };
}

test('crc32 matches the standard check value', () => {
  assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
});

test('encodePng round-trips pixels exactly', () => {
  const rgb = new Uint8Array(3 * 2 * 3);
  rgb.set([255, 0, 0], 0);
  rgb.set([0, 0, 255], (1 * 3 + 2) * 3);
  const d = decodePng(encodePng(3, 2, rgb));
  assert.equal(d.width, 3);
  assert.equal(d.height, 2);
  assert.equal(d.bitDepth, 8);
  assert.equal(d.colourType, 2);
  assert.deepEqual(d.chunkTypes, ['IHDR', 'IDAT', 'IEND']);
  assert.deepEqual(d.pixel(0, 0), [255, 0, 0]);
  assert.deepEqual(d.pixel(2, 1), [0, 0, 255]);
  assert.deepEqual(d.pixel(1, 0), [0, 0, 0]);
});

test('the bitmap font draws glyph pixels at scale', () => {
  assert.ok(hasGlyph('k') && hasGlyph('@') && hasGlyph('N'));
  const c = new Canvas(20, 20);
  c.text(1, 1, 'T', [0, 0, 0], 2);
  // T: full top row, then the centre column.
  assert.deepEqual(c.getPixel(1, 1), [0, 0, 0]);
  assert.deepEqual(c.getPixel(10, 2), [0, 0, 0]);
  assert.deepEqual(c.getPixel(5, 12), [0, 0, 0]);
  assert.deepEqual(c.getPixel(1, 6), [255, 255, 255]);
  assert.equal(
    glyph('g')
      .slice(35)
      .some((b) => b === 1),
    true,
    'g has a descender',
  );
});

test('plotRecallCurves writes a valid PNG with the series, axes and legend drawn', () => {
  const curve = (top: number): number[] => Array.from({ length: 20 }, (_, i) => (top * (i + 1)) / 20);
  const panels: PlotPanel[] = [
    {
      title: 'rsc15-100k',
      series: [
        { name: 'popularity', values: curve(0.1) },
        { name: 'item-kNN', values: curve(0.4) },
      ],
    },
    { title: 'amazon-video', series: [{ name: 'session-kNN', values: curve(0.2) }] },
  ];
  const d = decodePng(plotRecallCurves(panels, { panelWidth: 700, panelHeight: 420 }));
  assert.equal(d.width, 1400);
  assert.equal(d.height, 420);
  const l0 = panelLayout(panels[0], 0, 700, 420);
  assert.equal(l0.yMax, 0.5);
  // Recall@20 of item-kNN is 0.4: its colour is at the right end of the plot area at y(0.4).
  const x20 = l0.plotX + l0.plotW - 1;
  const y04 = Math.round(l0.plotY + l0.plotH - 1 - (0.4 / 0.5) * (l0.plotH - 1));
  assert.deepEqual(d.pixel(x20, y04), [...PALETTE[1]]);
  // The axis frame is drawn and the legend swatch of the first series is there.
  assert.deepEqual(d.pixel(l0.plotX, l0.plotY + 5), [33, 33, 33]);
  assert.deepEqual(d.pixel(l0.legendX + 10, l0.legendY + 6), [...PALETTE[0]]);
  // Legend text ink right of the swatch.
  let ink = 0;
  for (let x = l0.legendX + 30; x < l0.legendX + 150; x++) for (let y = l0.legendY; y < l0.legendY + 16; y++) if (d.pixel(x, y)[0] === 33) ink++;
  assert.ok(ink > 50, `legend text pixels: ${ink}`);
  // Second panel starts at x = 700 and has its own colour-0 series.
  const l1 = panelLayout(panels[1], 1, 700, 420);
  assert.ok(l1.plotX > 700);
  assert.deepEqual(d.pixel(l1.legendX + 10, l1.legendY + 6), [...PALETTE[0]]);
});

test('niceCeil rounds up to 1, 2, 2.5 or 5 times a power of ten', () => {
  assert.equal(niceCeil(0.39), 0.5);
  assert.equal(niceCeil(0.66), 1);
  assert.equal(niceCeil(0.11), 0.2);
  assert.equal(niceCeil(0.024), 0.025);
  assert.equal(niceCeil(0), 0.1);
});
