import type { TopLevelSpec } from 'vega-lite';
import { StreamrecError } from '../../errors/errors.ts';
import { chartFonts } from './fonts.ts';

/**
 * Vega-Lite spec → Vega spec → headless Vega view (renderer 'none': no DOM, no canvas package)
 * → SVG text. Vega and Vega-Lite are imported here, on first use, so a process that never plots
 * (`streamrec serve`) does not load them.
 */
export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const [vega, vegaLite] = await Promise.all([import('vega'), import('vega-lite')]);
  const view = new vega.View(vega.parse(vegaLite.compile(spec).spec), { renderer: 'none', logLevel: vega.Error });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export interface PngOptions {
  /** Device pixels per CSS pixel of the SVG (2 gives a sharp figure on a README). */
  scale?: number;
}

/** SVG text → PNG bytes with resvg, drawing text with the fonts of `chartFonts()`. */
export async function svgToPng(svg: string, opts: PngOptions = {}): Promise<Buffer> {
  const scale = opts.scale ?? 2;
  if (!(scale > 0)) throw new StreamrecError('internal', `PNG scale must be > 0, got ${scale}`);
  const { Resvg } = await import('@resvg/resvg-js');
  const image = new Resvg(svg, { font: chartFonts(), fitTo: { mode: 'zoom', value: scale }, background: 'white', logLevel: 'error' }).render();
  return image.asPng();
}
