import { GLYPH_ADVANCE, GLYPH_HEIGHT, GLYPH_WIDTH, glyph } from './font.ts';

export type Rgb = readonly [number, number, number];

/** An RGB raster with the few primitives a line chart needs. Out-of-range pixels are clipped. */
export class Canvas {
  readonly rgb: Uint8Array;

  constructor(
    readonly width: number,
    readonly height: number,
    background: Rgb = [255, 255, 255],
  ) {
    this.rgb = new Uint8Array(width * height * 3);
    this.fillRect(0, 0, width, height, background);
  }

  setPixel(x: number, y: number, c: Rgb): void {
    x = Math.round(x);
    y = Math.round(y);
    if (x < 0 || y < 0 || x >= this.width || y >= this.height) return;
    const o = (y * this.width + x) * 3;
    this.rgb[o] = c[0];
    this.rgb[o + 1] = c[1];
    this.rgb[o + 2] = c[2];
  }

  getPixel(x: number, y: number): [number, number, number] {
    const o = (y * this.width + x) * 3;
    return [this.rgb[o], this.rgb[o + 1], this.rgb[o + 2]];
  }

  fillRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    const x0 = Math.max(0, Math.round(x));
    const y0 = Math.max(0, Math.round(y));
    const x1 = Math.min(this.width, Math.round(x + w));
    const y1 = Math.min(this.height, Math.round(y + h));
    for (let yy = y0; yy < y1; yy++) for (let xx = x0; xx < x1; xx++) this.setPixel(xx, yy, c);
  }

  strokeRect(x: number, y: number, w: number, h: number, c: Rgb): void {
    this.line(x, y, x + w - 1, y, c);
    this.line(x, y + h - 1, x + w - 1, y + h - 1, c);
    this.line(x, y, x, y + h - 1, c);
    this.line(x + w - 1, y, x + w - 1, y + h - 1, c);
  }

  /** Bresenham line; thickness > 1 stamps a square pen at every step. */
  line(x0: number, y0: number, x1: number, y1: number, c: Rgb, thickness = 1): void {
    x0 = Math.round(x0);
    y0 = Math.round(y0);
    x1 = Math.round(x1);
    y1 = Math.round(y1);
    const dx = Math.abs(x1 - x0);
    const dy = -Math.abs(y1 - y0);
    const sx = x0 < x1 ? 1 : -1;
    const sy = y0 < y1 ? 1 : -1;
    const lo = -Math.floor((thickness - 1) / 2);
    const hi = lo + thickness;
    let err = dx + dy;
    for (;;) {
      for (let oy = lo; oy < hi; oy++) for (let ox = lo; ox < hi; ox++) this.setPixel(x0 + ox, y0 + oy, c);
      if (x0 === x1 && y0 === y1) break;
      const e2 = 2 * err;
      if (e2 >= dy) {
        err += dy;
        x0 += sx;
      }
      if (e2 <= dx) {
        err += dx;
        y0 += sy;
      }
    }
  }

  /** Draws text with its top-left corner (cap line) at (x, y); each font pixel is scale × scale. */
  text(x: number, y: number, text: string, c: Rgb, scale = 1): void {
    let cx = Math.round(x);
    const top = Math.round(y);
    for (const ch of text) {
      const bits = glyph(ch);
      for (let gy = 0; gy < GLYPH_HEIGHT; gy++) {
        for (let gx = 0; gx < GLYPH_WIDTH; gx++) {
          if (bits[gy * GLYPH_WIDTH + gx]) this.fillRect(cx + gx * scale, top + gy * scale, scale, scale, c);
        }
      }
      cx += GLYPH_ADVANCE * scale;
    }
  }
}
